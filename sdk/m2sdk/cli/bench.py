"""``m2 bench``: per-stage latency of each backend, with the ratio to transformers' ``generate``."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers, name: str, help_text: str, formatter_class) -> None:
    p = subparsers.add_parser(
        name,
        help=help_text,
        description=(
            "Answer the same frame and prompt greedily on every available backend and print per-stage latency "
            "(preprocess, vision, prefill, decode), decode tokens/s and the speed-up over the transformers "
            "`generate` baseline on the same checkpoint. Give --bundle to include an exported ONNX bundle."
        ),
        epilog=(
            "Example:\n  m2 export m2-tiny --out /tmp/tiny-fp32\n"
            "  m2 bench --model m2-tiny --bundle /tmp/tiny-fp32 --new-tokens 32 --runs 5"
        ),
        formatter_class=formatter_class,
    )
    p.add_argument("--model", default="m2-tiny", help="checkpoint folder or preset (torch and baseline)")
    p.add_argument("--bundle", type=Path, action="append", default=[], help="exported bundle(s) to include")
    p.add_argument("--image", type=Path, default=None, help="frame to use (default: a synthetic 640x480 room)")
    p.add_argument("--prompt", default=None, help="question to ask")
    p.add_argument("--new-tokens", type=int, default=32, help="tokens generated per query")
    p.add_argument("--runs", type=int, default=5, help="measured runs per backend (median reported)")
    p.add_argument("--device", default="cpu")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import m2sdk
    from m2sdk.processing import to_rgb
    from m2sdk.runtime import latency

    frame = to_rgb(str(args.image)) if args.image else _synthetic_frame()
    frame_bgr = frame[..., ::-1].copy()
    prompt = args.prompt or latency.DEFAULT_PROMPT
    kw = {"new_tokens": args.new_tokens, "runs": args.runs}
    baseline = latency.measure_transformers_generate(args.model, frame_bgr, prompt, **kw)
    rows = [baseline, latency.measure_model(m2sdk.load(args.model, backend="torch"), frame_bgr, prompt, **kw)]
    for bundle in args.bundle:
        model = m2sdk.load(bundle, backend="auto", device=args.device)
        row = latency.measure_model(model, frame_bgr, prompt, **kw)
        row.name = f"{row.name} ({bundle.name})"
        rows.append(row)
    print(f"frame {frame.shape[1]}x{frame.shape[0]}, prompt {prompt!r}, {args.new_tokens} new tokens")
    print(latency.format_rows(rows, baseline))
    return 0


def _synthetic_frame():
    from m2sdk.data import render_views

    frame_bgr, _ = render_views(seed=0, n_frames=1, width=640, height=480)[0]
    return frame_bgr[..., ::-1].copy()
