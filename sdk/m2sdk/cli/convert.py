"""``m2 convert``: official M2-Reasoning release folder → m2sdk checkpoint folder."""

from __future__ import annotations

import argparse


def register(subparsers, name: str, help_text: str, formatter_class) -> None:
    p = subparsers.add_parser(
        name,
        help=help_text,
        description=(
            "Convert the official inclusionAI/M2-Reasoning release (safetensors shards with vision_model., "
            "linear_proj., language_model. keys and the Bailing config) into an m2sdk checkpoint folder. "
            "Shards are converted one at a time; the result is validated, then moved into place."
        ),
        epilog="Example:\n  m2 convert ~/models/M2-Reasoning ~/checkpoints/m2-7b",
        formatter_class=formatter_class,
    )
    p.add_argument("src", help="folder of the official release")
    p.add_argument("dst", help="output checkpoint folder (must not exist unless --overwrite)")
    p.add_argument("--overwrite", action="store_true", help="replace DST if it exists")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from m2sdk.model.convert import convert_official

    out = convert_official(args.src, args.dst, overwrite=args.overwrite)
    print(f"converted {args.src} -> {out}")
    return 0
