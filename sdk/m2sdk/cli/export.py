"""``m2 export``: turn a checkpoint into a deployable bundle (ONNX graphs, quantization, TensorRT build)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

DESCRIPTION = """\
Export a checkpoint folder (or a preset) to a bundle that runs on ONNX Runtime (CPU, CUDA) and
builds TensorRT engines on Jetson Orin / Thor.

The bundle is written to a temporary folder and renamed into place only after a parity check against
the PyTorch model (written to BUNDLE/parity.json and printed). int8 and int4 quantize the decoder's
linear layers (int4: weight-only, blockwise 128, symmetric, lm_head kept fp32); the vision encoder
stays fp32 in int8/int4 bundles. Everything here runs on the CPU, calibrated int4 included (gptq:
ONNX Runtime's GPTQ; awq: NVIDIA ModelOpt on its CPU EP). Only the TensorRT engines need a GPU: they
are built on the target (python3 BUNDLE/tensorrt/build_engines.py), or here if `tensorrt` is installed.
"""


def register(subparsers, name: str, help_text: str, formatter_class) -> None:
    p = subparsers.add_parser(
        name,
        help=help_text,
        description=DESCRIPTION,
        epilog=(
            "Example:\n  m2 export m2-tiny --out bundles/tiny-fp32\n"
            "  m2 export runs/sft/final --out bundles/m2-int4 --precision int4 --image-size 644x476 --tensorrt\n"
            "  m2 query --model bundles/tiny-fp32 --backend onnxruntime frame.png 'How far is the chair?'"
        ),
        formatter_class=formatter_class,
    )
    p.add_argument("checkpoint", help="checkpoint folder or preset name (m2-tiny)")
    p.add_argument("--out", required=True, type=Path, help="bundle folder to create")
    p.add_argument("--precision", default="fp32", choices=["fp32", "fp16", "int8", "int4"], help="weights precision")
    p.add_argument("--image-size", default="644x476", help="camera frame size after resizing, WxH, multiples of 28")
    p.add_argument("--max-context", type=int, default=None, help="prompt + answer tokens (unset: 4096 or less)")
    p.add_argument("--tensorrt", action="store_true", help="write TensorRT graphs, profiles and build script")
    p.add_argument(
        "--quant-method", default="rtn", choices=["rtn", "gptq", "awq"],
        help="int4: rtn (no data), gptq (ONNX Runtime GPTQ, CPU), awq (nvidia-modelopt, with --tensorrt)",
    )  # fmt: skip
    p.add_argument("--eval-samples", type=int, default=8, help="held-out synthetic questions for int8/int4 (0 = skip)")
    p.add_argument("--force", action="store_true", help="replace an existing --out folder")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from m2export.bundle import export_bundle
    from m2export.export_config import ExportConfig, parse_image_size
    from m2export.parity import summary_line
    from m2sdk.runtime.bundle import load_bundle, read_parity

    config = ExportConfig(
        checkpoint=args.checkpoint, out=args.out, precision=args.precision,
        image_size=parse_image_size(args.image_size), max_context=args.max_context, tensorrt=args.tensorrt,
        quant_method=args.quant_method, eval_samples=args.eval_samples, force=args.force,
    )  # fmt: skip
    out = export_bundle(config)
    manifest = load_bundle(out).manifest
    print(f"bundle  : {out} ({manifest['precision']}, exported in {manifest['export_seconds']:.1f} s)")
    for name, entry in manifest["files"].items():
        print(f"  {entry['bytes'] / 1e6:10.2f} MB  {name}")
    report = read_parity(out) or {}
    print(summary_line(report))
    if "eval" in report:
        print(f"eval    : {json.dumps({k: v for k, v in report['eval'].items() if k != 'dataset'})}")
    if args.tensorrt:
        print(f"tensorrt: op check ok; build engines on the device: python3 {out}/tensorrt/build_engines.py")
    return 0
