"""``m2 demo``: the whole system end to end on this machine, offline, on the CPU."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers, name: str, help_text: str, formatter_class) -> None:
    p = subparsers.add_parser(
        name,
        help=help_text,
        description=(
            "Load the embedded m2-mini model, render a synthetic room walk with exact ground truth, stream it "
            "through the SDK printing each answer beside the truth (annotated PNGs in --out), export to ONNX and "
            "stream again on ONNX Runtime with the speed-up, then score the model on a held-out synthetic set "
            "beside the constant and random baselines. --camera N answers live on a real camera instead; --ros "
            "also runs the ROS 2 node on loopback fed by a camera bag and prints what a subscriber receives."
        ),
        epilog="Example:\n  m2 demo --out /tmp/m2-demo\n  m2 demo --ros\n  m2 demo --camera 0",
        formatter_class=formatter_class,
    )
    p.add_argument("--out", type=Path, default=Path("m2-demo"), help="folder for the video, frames, bundle, reports")
    p.add_argument("--model", default=None, help="checkpoint folder or preset (default: m2-mini, else m2-tiny)")
    p.add_argument("--camera", type=int, default=None, help="answer live on this camera index instead")
    p.add_argument("--ros", action="store_true", help="also run the ROS 2 node on loopback with a bag replay")
    p.add_argument("--frames", type=int, default=30, help="frames of the synthetic walk (10 fps)")
    p.add_argument("--eval-samples", type=int, default=60, help="held-out questions for the quality table (0 = skip)")
    p.add_argument("--no-export", action="store_true", help="skip the ONNX export and ONNX Runtime stream")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from m2sdk.demo.runner import DemoConfig, run_demo

    config = DemoConfig(
        out=args.out, model=args.model or "m2-mini", fallback_model=None if args.model else "m2-tiny",
        camera=args.camera, ros=args.ros, n_frames=args.frames,
        eval_samples=args.eval_samples, export=not args.no_export,
    )  # fmt: skip
    run_demo(config)
    return 0
