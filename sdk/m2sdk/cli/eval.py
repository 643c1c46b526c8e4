"""``m2 eval``: score a model (and baselines) on a spatial dataset, VSI-Bench/CV-Bench style."""

from __future__ import annotations

import argparse
from pathlib import Path

from m2sdk.runtime.numbers import NUMBER_MODES


def register(subparsers, name: str, help_text: str, formatter_class) -> None:
    p = subparsers.add_parser(
        name,
        help=help_text,
        description=(
            "Ask the model every question of a dataset (a folder with samples.jsonl, as written by `m2 data synth`) "
            "and score it: Mean Relative Accuracy for numeric answers, exact match for multiple choice, per task "
            "and overall (mean of tasks). Baselines (best constant answer, random choice) go through the same code."
        ),
        epilog=(
            "Example:\n  m2 data synth --out data/val --n 40 --seed 1\n"
            "  m2 eval --model m2-tiny --data data/val --limit 20 --fast\n"
            "  m2 eval --model ckpt/m2-mini --data data/val --baselines data/train --out reports/"
        ),
        formatter_class=formatter_class,
    )
    p.add_argument("--model", default="m2-mini", help="checkpoint folder, bundle folder, preset or bundled model name")
    p.add_argument("--data", required=True, type=Path, help="dataset folder (samples.jsonl) or a .jsonl file")
    p.add_argument("--backend", default="auto", choices=["auto", "torch", "onnxruntime", "tensorrt"])
    p.add_argument("--limit", type=int, default=None, help="evaluate at most N records")
    p.add_argument("--tasks", nargs="*", default=None, help="only these task ids")
    p.add_argument("--fast", action="store_true", help="answer-only mode (no chain of thought)")
    p.add_argument("--max-new-tokens", type=int, default=None)
    p.add_argument(
        "--numbers", default="median", choices=NUMBER_MODES,
        help="digits of numeric answers: the median of the model's distribution, or the most likely ones",
    )  # fmt: skip
    p.add_argument("--baselines", type=Path, default=None, help="training dataset for the constant/random baselines")
    p.add_argument("--reference-parsing", action="store_true", help="VSI-Bench's first-word answer rule")
    p.add_argument("--out", type=Path, default=None, help="write eval.json and eval.md into this folder")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import m2sdk
    from m2sdk.eval.predictors import ConstantPredictor, ModelPredictor, RandomChoicePredictor
    from m2sdk.eval.report import print_table, write_reports
    from m2sdk.eval.runner import evaluate, load_dataset, select

    records, problems, root = load_dataset(args.data)
    for problem in problems:
        print(f"skipped: {problem}")
    records = select(records, args.tasks, args.limit)
    model = m2sdk.load(args.model, backend=args.backend)
    predictor = ModelPredictor(
        model, root, reasoning=not args.fast, max_new_tokens=args.max_new_tokens, numbers=args.numbers
    )
    kw = {"reference_parsing": args.reference_parsing}
    results = [evaluate(predictor, records, name=predictor.name, problems=problems, **kw)]
    if args.baselines:
        train, _, _ = load_dataset(args.baselines)
        for baseline in (ConstantPredictor(train), RandomChoicePredictor(train)):
            results.append(evaluate(baseline, records, name=baseline.name, progress=False, **kw))
    print_table(results)
    for problem in results[0].problems[len(problems) :]:
        print(f"problem: {problem}")
    if args.out:
        json_path, md_path = write_reports(results, args.out)
        print(f"wrote {json_path} and {md_path}")
    return 0
