"""Training throughput: SFT tokens/s and model-FLOPs utilisation, and where an RL step's time goes.

Runs the real trainers (``m2train``) on data made by the real synthesiser (``m2 data synth``):

* SFT: tokens/s (all sequence tokens, padding excluded) and MFU = achieved model FLOPs / peak FLOPs, with
  model FLOPs per step = 6 · (P_llm · T + P_vit · V) + 12 · L · d · Σ S_i² (PaLM's accounting: T sequence
  tokens, V ViT patches, S_i sequence lengths; embeddings excluded). Peak: ``--peak-tflops``, else the
  bf16 dense peak of a known GPU, else (CPU) a measured float32 matmul peak, so CPU MFU reads "share of
  what this CPU's matmul reaches".
* RL (GRPO): seconds per step split into rollout generation, scoring (rewards + old/reference
  log-probabilities) and the policy update, from the trainer's own timers (``time/generate_s``,
  ``time/rollout_s``, ``step_time`` in ``logs/metrics.jsonl``).

Defaults: ``m2-tiny`` on CPU. On a GPU: ``--preset m2-7b`` (bf16, gradient checkpointing, Adafactor so
the full model fits one 80 GB card; anchor: EasyR1 reports 1600–2000 tokens/s/GPU and 16–23 % MFU for
7B GRPO on 8×H100).

Usage:
    python bench/train_throughput.py --cpu-threads 1          # m2-tiny, CPU
    python bench/train_throughput.py --preset m2-7b --out results.json
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import tempfile
import time
from pathlib import Path

import torch

from m2sdk.data.synth import SynthConfig, synthesize
from m2train.common import train_and_save
from m2train.config import (
    CheckpointConfig,
    CurriculumConfig,
    DataConfig,
    DatasetSpec,
    LoggingConfig,
    ModelConfig,
    OptimConfig,
    RLRunConfig,
    RolloutConfig,
    SFTRunConfig,
)
from m2train.logs import read_jsonl
from m2train.rl import build_rl_trainer
from m2train.sft import build_sft_trainer

PEAK_BF16_TFLOPS = {"H100": 989.0, "H200": 989.0, "GH200": 989.0, "A100": 312.0, "L40S": 362.0, "A10": 125.0}


def peak_flops(override_tflops: float | None) -> tuple[float, str]:
    """(peak FLOP/s, where the number comes from)."""
    if override_tflops:
        return override_tflops * 1e12, "--peak-tflops"
    if torch.cuda.is_available():
        name = torch.cuda.get_device_name()
        for key, tflops in PEAK_BF16_TFLOPS.items():
            if key in name:
                return tflops * 1e12, f"{name} bf16 dense spec"
        raise SystemExit(f"unknown GPU {name!r}: pass --peak-tflops")
    return measured_matmul_flops(), "measured float32 matmul peak of this CPU"


def measured_matmul_flops(size: int = 1024, repeats: int = 10) -> float:
    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.mm(a, b)
    start = time.perf_counter()
    for _ in range(repeats):
        torch.mm(a, b)
    return 2 * size**3 * repeats / (time.perf_counter() - start)


def param_counts(model) -> tuple[int, int, int, int]:
    """(LLM + projector + head params without embeddings, ViT params, layers, hidden size)."""
    inner = model.model
    vit = sum(p.numel() for p in inner.visual.parameters())
    embed = inner.language_model.embed_tokens.weight.numel()
    llm = sum(p.numel() for p in model.parameters()) - vit - embed
    text = model.config.text_config
    return llm, vit, text.num_hidden_layers, text.hidden_size


def count_batches(trainer, record: list[dict]) -> None:
    """Wrap ``training_step`` to record tokens, ViT patches, squared lengths and wall time per micro-step."""
    inner = trainer.training_step

    def step(model, inputs, num_items_in_batch=None):
        sync()
        start = time.perf_counter()
        lengths = inputs["attention_mask"].sum(dim=1)
        loss = inner(model, inputs, num_items_in_batch)
        sync()
        record.append({
            "seconds": time.perf_counter() - start, "tokens": int(lengths.sum()),
            "sq_tokens": int((lengths.double() ** 2).sum()),
            "patches": int(inputs["image_grid_thw"].prod(dim=1).sum()) if "image_grid_thw" in inputs else 0,
        })  # fmt: skip
        return loss

    trainer.training_step = step


def sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def model_section(args) -> ModelConfig:
    big = args.preset != "m2-tiny"
    dtype = "bfloat16" if torch.cuda.is_available() else "float32"
    return ModelConfig(init=args.preset, dtype=dtype, gradient_checkpointing=big)


def bench_sft(args, data: Path, out: Path) -> dict:
    config = SFTRunConfig(
        data=DataConfig(datasets=[DatasetSpec(path=str(data), max_pixels=args.max_pixels)], max_length=4096),
        output_dir=str(out), model=model_section(args), cpu_threads=args.cpu_threads,
        optim=OptimConfig(learning_rate=1e-5, per_device_batch_size=args.batch, max_steps=args.warmup + args.steps),
        logging=LoggingConfig(tensorboard=False, progress_bar=False), checkpoint=CheckpointConfig(save_steps=10**6),
    )  # fmt: skip
    trainer = build_sft_trainer(config)
    if args.optim:
        trainer.args.optim = args.optim
    record: list[dict] = []
    count_batches(trainer, record)
    trainer.train()
    timed = record[args.warmup :]
    llm, vit, layers, hidden = param_counts(trainer.model)
    seconds = sum(r["seconds"] for r in timed)
    tokens = sum(r["tokens"] for r in timed)
    flops = sum(6 * (llm * r["tokens"] + vit * r["patches"]) + 12 * layers * hidden * r["sq_tokens"] for r in timed)
    peak, source = peak_flops(args.peak_tflops)
    return {
        "steps": len(timed), "batch": args.batch, "seconds_per_step": seconds / len(timed),
        "tokens_per_s": tokens / seconds, "model_tflops_per_s": flops / seconds / 1e12,
        "peak_tflops": peak / 1e12, "peak_source": source, "mfu": flops / seconds / peak,
        "params_llm": llm, "params_vit": vit,
    }  # fmt: skip


def bench_rl(args, data: Path, out: Path) -> dict:
    config = RLRunConfig(
        data=DataConfig(datasets=[DatasetSpec(path=str(data), max_pixels=args.max_pixels)]),
        output_dir=str(out), model=model_section(args), cpu_threads=args.cpu_threads,
        optim=OptimConfig(
            learning_rate=1e-6, per_device_batch_size=args.rl_batch, max_steps=args.warmup + args.rl_steps
        ),
        rollout=RolloutConfig(num_generations=args.generations, max_completion_length=args.completion_tokens),
        curriculum=CurriculumConfig(kind="none"),
        logging=LoggingConfig(tensorboard=False, progress_bar=False), checkpoint=CheckpointConfig(save_steps=10**6),
    )  # fmt: skip
    trainer = build_rl_trainer(config)
    if args.optim:
        trainer.args.optim = args.optim
    train_and_save(trainer, config)
    rows = [r for r in read_jsonl(out / "logs/metrics.jsonl") if "step_time" in r][args.warmup :]
    mean = lambda key: statistics.fmean(r[key] for r in rows)  # noqa: E731
    step, generate, rollout = mean("step_time"), mean("time/generate_s"), mean("time/rollout_s")
    tokens = (rows[-1]["num_tokens"] - rows[0]["num_tokens"]) / max(len(rows) - 1, 1)
    return {
        "steps": len(rows), "completions_per_step": args.rl_batch, "num_generations": args.generations,
        "seconds_per_step": step, "generate_s": generate, "score_s": rollout - generate, "update_s": step - rollout,
        "rollout_share": rollout / step, "tokens_per_s": tokens / step,
        "mean_completion_tokens": mean("completions/mean_length"),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="m2-tiny", choices=["m2-tiny", "m2-7b"])
    parser.add_argument("--steps", type=int, default=10, help="timed SFT steps")
    parser.add_argument("--rl-steps", type=int, default=4, help="timed RL steps")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--batch", type=int, default=8, help="SFT sequences per step")
    parser.add_argument("--rl-batch", type=int, default=8, help="RL completions per step")
    parser.add_argument("--generations", type=int, default=4)
    parser.add_argument("--completion-tokens", type=int, default=64)
    parser.add_argument("--n", type=int, default=64, help="synthetic samples")
    parser.add_argument("--width", type=int, default=224)
    parser.add_argument("--height", type=int, default=168)
    parser.add_argument("--max-pixels", type=int, default=224 * 168)
    parser.add_argument(
        "--optim", default=None, help="TrainingArguments.optim (default adamw; 7B on one GPU: adafactor)"
    )
    parser.add_argument("--peak-tflops", type=float, default=None)
    parser.add_argument("--cpu-threads", type=int, default=None, help="torch threads on CPU (default: torch's)")
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    args = parser.parse_args()
    if args.preset == "m2-7b" and not torch.cuda.is_available():
        raise SystemExit("--preset m2-7b needs a CUDA GPU")
    if args.preset == "m2-7b" and args.optim is None:
        args.optim = "adafactor"
    logging.basicConfig(level=logging.WARNING)
    if args.cpu_threads:
        torch.set_num_threads(args.cpu_threads)  # before the matmul peak is measured
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        synthesize(SynthConfig(data, n=args.n, seed=0, width=args.width, height=args.height))
        device = (
            torch.cuda.get_device_name() if torch.cuda.is_available() else f"CPU ({torch.get_num_threads()} threads)"
        )
        results = {"preset": args.preset, "device": device, "sft": bench_sft(args, data, Path(tmp) / "sft")}
        results["rl"] = bench_rl(args, data, Path(tmp) / "rl")
    report(results)
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2) + "\n")


def report(results: dict) -> None:
    sft, rl = results["sft"], results["rl"]
    print(f"{results['preset']} on {results['device']}")
    sft_line = (
        f"SFT: {sft['tokens_per_s']:.0f} tokens/s, {sft['seconds_per_step']:.3f} s/step (batch {sft['batch']}), "
        f"{sft['model_tflops_per_s']:.3f} model TFLOP/s, MFU {100 * sft['mfu']:.1f}% "
        f"of {sft['peak_tflops']:.1f} TFLOP/s ({sft['peak_source']})"
    )
    rl_line = (
        f"RL:  {rl['seconds_per_step']:.2f} s/step ({rl['completions_per_step']} completions, "
        f"G={rl['num_generations']}, {rl['mean_completion_tokens']:.0f} tokens each): "
        f"generate {rl['generate_s']:.2f} s, score {rl['score_s']:.2f} s, update {rl['update_s']:.2f} s "
        f"(rollout {100 * rl['rollout_share']:.0f}%); {rl['tokens_per_s']:.0f} tokens/s"
    )
    print(sft_line)
    print(rl_line)


if __name__ == "__main__":
    main()
