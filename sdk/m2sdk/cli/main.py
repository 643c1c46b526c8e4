"""Entry point of the ``m2`` command.

Each subcommand lives in its own module of this package and exposes ``register(subparsers)``, which
adds its parser and sets ``func`` (called with the parsed args, returning an exit code). Modules are
imported only when their subcommand runs, so ``m2 --help`` stays fast and torch-free.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from m2sdk.errors import M2Error

# name -> (module, one-line help). The module's register() adds the full parser.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "query": ("m2sdk.cli.query", "ask one spatial question about an image"),
    "stream": ("m2sdk.cli.stream", "answer questions live from a camera, video file or URL"),
    "demo": ("m2sdk.cli.demo", "run the whole system end to end on this machine"),
    "data": ("m2sdk.cli.data", "synthesise spatial datasets and build smoke sets"),
    "train": ("m2sdk.cli.train", "cold-start SFT and RLVR training"),
    "export": ("m2sdk.cli.export", "export a checkpoint to ONNX / TensorRT bundles"),
    "eval": ("m2sdk.cli.eval", "score a model on a spatial dataset"),
    "bench": ("m2sdk.cli.bench", "measure latency of each backend"),
    "convert": ("m2sdk.cli.convert", "convert an official M2-Reasoning release into m2sdk format"),
}


class _Formatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    pass


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser; only the ``only`` subcommand's module is imported and gets its full arguments."""
    parser = argparse.ArgumentParser(
        prog="m2",
        description="Train, export and run the M2-Reasoning spatial VLM.",
        epilog="Example:\n  m2 query --model m2-tiny frame.jpg 'How far is the chair, in metres?'",
        formatter_class=_Formatter,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in SUBCOMMANDS.items():
        if name != only:  # `m2 --help` lists every command without importing any of them
            subparsers.add_parser(name, help=help_text)
            continue
        importlib.import_module(module).register(subparsers, name, help_text, _Formatter)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    chosen = next((a for a in argv if a in SUBCOMMANDS), None)
    parser = build_parser(only=chosen)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s"
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 0 if args.command is None else 2
    try:
        return int(args.func(args) or 0)
    except M2Error as err:
        print(f"m2 {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
