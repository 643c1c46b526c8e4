"""Last step of scripts/train_m2_mini.sh: ship the trained m2-mini into the package with its measured quality.

Copies the RL checkpoint to ``sdk/m2sdk/assets/m2-mini`` and writes, next to it:

* ``QUALITY.md`` / ``quality.json``: the held-out tables ``m2 eval`` measured (RL and SFT-only model
  beside the constant and random baselines; the fp32/fp16/int8/int4 ONNX bundles on ONNX Runtime), the
  paired differences that decide issue #9's targets (model − baseline per task, RL − SFT on the numeric
  tasks, with 95 % intervals over the same questions, :mod:`m2sdk.eval.compare`) and,
  per task, the shipped model's answer loss with the real frames vs other rooms' frames vs blank frames
  (:mod:`m2train.image_use`: how much each task's answers depend on the pixels);
* ``provenance.json``: how it was made (commands, configs, data cards, SHA-256 of the weights), which
  ``tests/sdk/test_m2_mini.py`` checks the shipped copy against.

Example:
    python scripts/m2_mini_card.py --work runs/m2-mini --asset sdk/m2sdk/assets/m2-mini
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import shutil
from pathlib import Path
from typing import Any

from m2sdk.eval.compare import Difference, mean_of_tasks_difference, task_differences
from m2train.config import load_config
from m2train.image_use import image_gap

TASKS = ("camera_distance", "relative_distance", "relative_direction", "object_count", "object_size")
METRIC = {"camera_distance": "MRA", "object_size": "MRA", "object_count": "MRA",
          "relative_distance": "accuracy", "relative_direction": "accuracy"}  # fmt: skip
CHECKPOINT_FILES = ("config.json", "generation_config.json", "model.safetensors", "preprocessor_config.json",
                    "tokenizer.json", "tokenizer_config.json")  # fmt: skip
NUMERIC = ("camera_distance", "object_count", "object_size")
DISTANCE_MARGIN = 0.15  # the target: camera-distance MRA at least this far above the constant answer
BUNDLES = ("fp32", "fp16", "int8", "int4")
COUNT_STAGE = "train/configs/m2_mini_sft_count.yaml"  # its data.count_listing is how the model answers counts
CONFIGS = (
    "train/configs/m2_mini_vision.yaml", "train/configs/m2_mini_sft_read.yaml", "train/configs/m2_mini_sft.yaml",
    COUNT_STAGE, "train/configs/m2_mini_sft_roles.yaml", "train/configs/m2_mini_sft_compare.yaml",
    "train/configs/m2_mini_rl.yaml",
)  # fmt: skip


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def scores(eval_dir: Path) -> dict[str, dict[str, float]]:
    """{predictor name: {task: score in [0, 1], "overall": ..., "n": ...}} from one ``m2 eval --out`` folder."""
    out = {}
    for result in json.loads((eval_dir / "eval.json").read_text()):
        report = result["report"]
        row = {task: report["per_task"][task]["mean"] for task in TASKS if task in report["per_task"]}
        row |= {"overall": report["overall"], "n": report["count"], "parse_failures": report["parse_failures"]}
        out[result["name"]] = row
    return out


def model_row(eval_dir: Path) -> dict[str, float]:
    """The model's row of an eval folder (the first predictor; the others are baselines)."""
    return next(iter(scores(eval_dir).values()))


def pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}"


def table(columns: dict[str, dict[str, float]], n: dict[str, int]) -> list[str]:
    lines = ["| task | metric | n | " + " | ".join(columns) + " |", "|---|---|---:|" + "---:|" * len(columns)]
    for task in TASKS:
        cells = [pct(col.get(task)) for col in columns.values()]
        lines.append(f"| {task} | {METRIC[task]} | {n.get(task, '')} | " + " | ".join(cells) + " |")
    lines.append("| mean of tasks | | | " + " | ".join(pct(col.get("overall")) for col in columns.values()) + " |")
    return lines


def samples(eval_dir: Path) -> dict[str, list[dict]]:
    """{predictor name: per-sample rows} from one ``m2 eval --out`` folder."""
    return {r["name"]: r["samples"] for r in json.loads((eval_dir / "eval.json").read_text())}


def targets(rl_dir: Path, sft_dir: Path) -> dict[str, Any]:
    """The paired comparisons behind the targets: every task clearly above both baselines (95 % interval
    of model − baseline above 0; camera distance also at least 15 MRA above the constant) and RL clearly
    above SFT alone on the mean of the numeric tasks. Values are :class:`Difference` objects."""
    rl_rows, sft_rows = samples(rl_dir), samples(sft_dir)
    model = next(iter(rl_rows.values()))  # m2 eval writes the model first, then the baselines by name
    constant, random = rl_rows["constant baseline"], rl_rows["random baseline"]
    sft = next(iter(sft_rows.values()))
    vs_constant, vs_random = task_differences(model, constant, TASKS), task_differences(model, random, TASKS)
    met = {
        task: vs_constant[task].clearly_positive
        and vs_random[task].clearly_positive
        and (task != "camera_distance" or vs_constant[task].mean >= DISTANCE_MARGIN)
        for task in TASKS
    }
    rl_gain = mean_of_tasks_difference(model, sft, NUMERIC)
    return {
        "vs_constant": vs_constant,
        "vs_random": vs_random,
        "rl_vs_sft": task_differences(model, sft, NUMERIC),
        "rl_vs_sft_numeric_mean": rl_gain,
        "met": met | {"rl_improves_numeric": rl_gain.clearly_positive},
    }


def targets_json(result: dict[str, Any]) -> dict[str, Any]:
    def plain(value: Any) -> Any:
        if isinstance(value, Difference):
            return value.to_dict()
        return {k: plain(v) for k, v in value.items()} if isinstance(value, dict) else value

    return plain(result)


def targets_table(result: dict[str, Any]) -> list[str]:
    met = result["met"]
    lines = ["| task | metric | model − constant | model − random | target | met |", "|---|---|---:|---:|---|---|"]
    for task in TASKS:
        goal = "above both; ≥ +15 over the constant" if task == "camera_distance" else "above both"
        lines.append(
            f"| {task} | {METRIC[task]} | {result['vs_constant'][task].points()} | "
            f"{result['vs_random'][task].points()} | {goal} | {'yes' if met[task] else 'no'} |"
        )
    lines += ["", "| RL − SFT | camera_distance | object_count | object_size | mean (target: above 0) | met |",
              "|---|---:|---:|---:|---:|---|"]  # fmt: skip
    cells = [result["rl_vs_sft"][task].points() for task in NUMERIC]
    lines.append(
        f"| MRA | {' | '.join(cells)} | {result['rl_vs_sft_numeric_mean'].points()} | "
        f"{'yes' if met['rl_improves_numeric'] else 'no'} |"
    )
    return lines


def task_counts(eval_dir: Path) -> dict[str, int]:
    result = json.loads((eval_dir / "eval.json").read_text())[0]["report"]["per_task"]
    return {task: result[task]["count"] for task in TASKS if task in result}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("runs/m2-mini"))
    parser.add_argument("--asset", type=Path, default=Path("sdk/m2sdk/assets/m2-mini"))
    args = parser.parse_args()
    work, asset = args.work, args.asset

    rl, sft = scores(work / "eval/rl"), model_row(work / "eval/sft")
    model, baselines = next(iter(rl.values())), {k: v for k, v in list(rl.items())[1:]}
    quality = {"m2-mini (SFT + RL)": model, "m2-mini (SFT only)": sft, **baselines}
    bundles = {p: model_row(work / f"eval/{p}") for p in BUNDLES if (work / f"eval/{p}/eval.json").is_file()}
    sizes = {p: sum(f.stat().st_size for f in (work / "bundles" / p).rglob("*.onnx*")) for p in bundles}
    n = task_counts(work / "eval/rl")
    comparisons = targets(work / "eval/rl", work / "eval/sft")
    listing = load_config(COUNT_STAGE, "sft").data.count_listing
    image_use = {
        task: image_gap(str(work / "rl/final"), str(work / "data/heldout"), 100, [task], count_listing=listing)
        for task in TASKS
    }

    if asset.exists():
        shutil.rmtree(asset)
    asset.mkdir(parents=True)
    for name in CHECKPOINT_FILES:
        if (work / "rl/final" / name).is_file():
            shutil.copy2(work / "rl/final" / name, asset / name)

    md = [
        "# m2-mini: measured quality",
        "",
        "Held-out synthetic set (seed 90001: rooms never seen in training; 3-5 objects of distinct colours, every",
        "length in metres, 224x168 frames), fast answer-only mode, numbers decoded at the median of the model's",
        "distribution (m2sdk's default, `m2sdk.runtime.numbers`), scored by `m2 eval` (MRA for numeric answers,",
        "exact match for choices, in %). The baselines go through the same code: the best constant answer per task",
        "(training-set median in SI units / majority letter) and a random choice. Made by",
        "`bash scripts/train_m2_mini.sh`.",
        "",
        *table(quality, n),
        "",
        "## Targets: is it clearly better? (paired, same questions)",
        "",
        "Per task, the mean difference between two predictors' scores on the same questions, in points, with its",
        "95 % interval (`m2sdk.eval.compare`). The targets are issue #9's: every task clearly above both baselines",
        "(the whole interval above 0), camera distance at least 15 MRA points above the constant answer, and RL",
        "clearly improving the numeric tasks' mean MRA over SFT alone.",
        "",
        *targets_table(comparisons),
        "",
        "## Cost of quantization (ONNX Runtime, same held-out set)",
        "",
        *table({"PyTorch fp32": model} | {f"{p} ({sizes[p] / 1e6:.1f} MB)": row for p, row in bundles.items()}, n),
        "",
        "PyTorch and the fp32 bundle can differ on a few answers: decoding flips where two tokens are nearly",
        "tied (or a digit's share sits at the median) and the kernels round differently.",
        "",
        "## Does it look at the image?",
        "",
        "Answer loss (cross-entropy per answer token, teacher-forced) of the shipped model on 100 held-out",
        "questions per task with their own frame, with another room's frame, and with a blank frame",
        "(`scripts/image_gap.py`). A task answered from the question alone scores the same in all three. A count's",
        f"answer is scored with its listing (`data.count_listing: {listing}`), the answer the model was taught.",
        "",
        "| task | real frame | another room's frame | blank frame | gap (other - real) |",
        "|---|---:|---:|---:|---:|",
        *(
            f"| {t} | {g['real']:.4f} | {g['shuffled']:.4f} | {g['blank']:.4f} | {g['gap']:+.4f} |"
            for t, g in image_use.items()
        ),
        "",
    ]
    (asset / "QUALITY.md").write_text("\n".join(md))
    (asset / "quality.json").write_text(json.dumps(
        {"heldout": quality, "bundles": bundles, "bundle_onnx_bytes": sizes, "n": n, "image_use": image_use,
         "targets": targets_json(comparisons)},
        indent=2, sort_keys=True
    ) + "\n")  # fmt: skip
    provenance = {
        "made_by": "bash scripts/train_m2_mini.sh",
        "init": "m2-mini-init (seeded random preset)",
        "configs": {c: sha256(Path(c)) for c in CONFIGS},
        "data": {
            split: json.loads((work / f"data/{split}/card.json").read_text())["config"]
            | {
                "seed": json.loads((work / f"data/{split}/card.json").read_text())["seed"],
                "n": json.loads((work / f"data/{split}/card.json").read_text())["n_samples"],
            }
            for split in ("train", "heldout")
        },
        "weights_sha256": sha256(asset / "model.safetensors"),
        "trained_on": {"python": platform.python_version(), "machine": platform.machine()},
    }
    (asset / "provenance.json").write_text(json.dumps(provenance, indent=2, sort_keys=True) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
