"""``m2 train sft|rl``: cold-start SFT and RLVR from a YAML run config (the ``train`` extra: TRL + Accelerate)."""

from __future__ import annotations

import argparse
import os

_EPILOG = """Examples:
  m2 data synth --out data/synth_train --n 400 --seed 0 --labels
  m2 train vision train/configs/vision_tiny.yaml --output-dir runs/vision_tiny   # only for random-init towers
  m2 train sft train/configs/sft_tiny.yaml --output-dir runs/sft_tiny --max-steps 200
  m2 train rl train/configs/rl_tiny.yaml --init runs/sft_tiny/final --output-dir runs/rl_tiny

Multi-GPU / multi-node (DeepSpeed ZeRO-3 or FSDP2 through Accelerate):
  accelerate launch --config_file train/configs/deepspeed_zero3.yaml -m m2sdk.cli.main train rl train/configs/rl_7b.yaml

Outputs: OUTPUT/checkpoint-N (resumable, atomic), OUTPUT/final (an m2sdk checkpoint for m2 query / m2 export),
OUTPUT/logs/metrics.jsonl, OUTPUT/logs/completions.jsonl (rl), OUTPUT/logs/tensorboard."""


def register(subparsers, name: str, help_text: str, formatter_class) -> None:
    p = subparsers.add_parser(
        name,
        help=help_text,
        description="Train an M2 model: `vision` (dense-label pre-training of a randomly initialised vision tower), "
        "`sft` (cold-start chain-of-thought SFT) or `rl` (GRPO with M2's rewards, curriculum, dynamic sample "
        "weights and cosine KL). Runs resume from their latest checkpoint.",
        epilog=_EPILOG,
        formatter_class=formatter_class,
    )
    stages = p.add_subparsers(dest="stage", metavar="STAGE", required=True)
    stage_help = (
        ("vision", "vision-tower pre-training on dense labels"),
        ("sft", "cold-start supervised fine-tuning"),
        ("rl", "RLVR with GRPO"),
    )
    for stage, text in stage_help:
        sp = stages.add_parser(
            stage, help=text, description=f"{text} from a YAML run config.", formatter_class=formatter_class,
            epilog=f"Example:\n  m2 train {stage} train/configs/{stage}_tiny.yaml --output-dir runs/{stage}_tiny",
        )  # fmt: skip
        sp.add_argument("config", help="YAML run config (see train/configs/)")
        sp.add_argument("--output-dir", default=None, help="override output_dir")
        sp.add_argument("--max-steps", type=int, default=None, help="override optim.max_steps")
        sp.add_argument("--resume", default=None, help="override checkpoint.resume: auto, never or a checkpoint folder")
        if stage in ("sft", "rl"):
            sp.add_argument("--init", default=None, help="override model.init: the previous stage's checkpoint")
        sp.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import dataclasses

    from m2sdk._deps import require
    from m2sdk.errors import InputError

    require("trl")
    require("accelerate")
    from m2train.config import apply_overrides, load_config

    try:
        config = load_config(args.config, args.stage)
        config = apply_overrides(
            config, output_dir=args.output_dir, max_steps=args.max_steps, init=getattr(args, "init", None)
        )
        if args.resume is not None:
            config = dataclasses.replace(config, checkpoint=dataclasses.replace(config.checkpoint, resume=args.resume))
    except ValueError as err:
        raise InputError(f"bad run config: {err}") from err
    if args.stage == "vision":
        from m2train.vision import run_vision as run_stage
    elif args.stage == "sft":
        from m2train.sft import run_sft as run_stage
    else:
        from m2train.rl import run_rl as run_stage
    final = run_stage(config)
    if int(os.environ.get("RANK", "0")) == 0:  # under `accelerate launch`, one summary, not one per process
        _print_summary(args.stage, config.output_dir, final)
    return 0


def _print_summary(stage: str, output_dir: str, final) -> None:
    from m2train.logs import METRICS_FILE, logs_dir, read_jsonl

    steps = [r for r in read_jsonl(logs_dir(output_dir) / METRICS_FILE) if "loss" in r or "reward" in r]
    key = "reward" if stage == "rl" else "loss"
    values = [(r["step"], r[key]) for r in steps if r.get(key) is not None]
    if values:
        (s0, v0), (s1, v1) = values[0], values[-1]
        print(f"{key}: {v0:.4f} (step {s0}) -> {v1:.4f} (step {s1})")
    print(f"final checkpoint: {final}")
    print(f"  try it: m2 query --model {final} IMAGE 'How far is the chair from the camera?'")
