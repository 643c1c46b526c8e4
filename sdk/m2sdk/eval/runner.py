"""Run a predictor over a dataset and score it: the engine of ``m2 eval``.

Bad items never stop a run: a malformed JSONL line or a missing media file is reported with its line
by the loader and counted; a record the model cannot answer (a typed m2sdk error) is scored 0,
counted, and the run goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from m2sdk.errors import M2Error
from m2sdk.eval.metrics import Report, SampleScore, aggregate, score_sample

log = logging.getLogger(__name__)


@dataclass
class EvalResult:
    """A scored run: the report, every sample's score and output, and the problems met."""

    name: str
    report: Report
    samples: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "report": self.report.to_dict(), "problems": self.problems,
                "samples": self.samples}  # fmt: skip


def select(records: list[Any], tasks: Iterable[str] | None = None, limit: int | None = None) -> list[Any]:
    """Records of the given tasks, at most ``limit`` of them (in file order)."""
    wanted = set(tasks) if tasks else None
    chosen = [r for r in records if wanted is None or r.task in wanted]
    return chosen[:limit] if limit is not None else chosen


def evaluate(
    predictor: Callable[[Any], str],
    records: list[Any],
    *,
    name: str = "model",
    problems: Iterable[Any] = (),
    progress: bool = True,
    reference_parsing: bool = False,
) -> EvalResult:
    """Score ``predictor`` on ``records``.

    Example:
        >>> records, problems = load_records("data/val/samples.jsonl")
        >>> result = evaluate(ModelPredictor(m2sdk.load("m2-tiny"), "data/val"), records, problems=problems)
        >>> result.report.per_task["camera_distance"].mean
    """
    from tqdm import tqdm

    scores: list[SampleScore] = []
    result_problems = [str(p) for p in problems]
    samples = []
    for rec in tqdm(records, desc=f"eval {name}", disable=not progress, unit="q"):
        try:
            text = predictor(rec)
        except M2Error as err:
            result_problems.append(f"{rec.id}: not answered ({type(err).__name__}: {err})")
            text = ""
        score = score_sample(rec.to_dict(), text, reference_parsing=reference_parsing)
        scores.append(score)
        samples.append({"id": rec.id, "task": rec.task, "score": score.score, "answer": rec.answer,
                        "value": score.value, "choice": score.choice, "output": text[-300:]})  # fmt: skip
    if not scores:
        raise M2Error("no records to evaluate (check --tasks / --limit and the dataset path)")
    return EvalResult(name, aggregate(scores), samples, result_problems)


def load_dataset(data: str | Path) -> tuple[list[Any], list[Any], Path]:
    """Records, loader problems and the media root of a dataset folder or JSONL file."""
    from m2sdk.data.dataset import load_records

    path = Path(data)
    jsonl = path / "samples.jsonl" if path.is_dir() else path
    records, problems = load_records(jsonl)
    return records, problems, jsonl.parent
