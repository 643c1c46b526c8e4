"""Is one predictor better than another on the same questions? Paired differences with a confidence interval.

Why. A task mean over 100 questions moves by several points with the questions drawn: m2-mini scored 72.1
MRA on the first 101 camera-distance questions of its held-out set and 68.2 on 400 others. Two predictors
scored on the *same* questions (a model and its baselines, SFT and RL, PyTorch and a bundle) share that
draw, so their per-question differences say much more than two separate means: the mean difference and
its 95 % interval (normal approximation, fine from a few dozen questions) decide whether "above the
baseline" is a measurement or noise.

Example:
    >>> d = paired_difference({"q1": 0.9, "q2": 0.6}, {"q1": 0.5, "q2": 0.5})
    >>> round(d.mean, 2), d.n
    (0.25, 2)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from m2sdk.errors import InputError

Z95 = 1.959964  # two-sided 95 % quantile of the normal distribution


@dataclass(frozen=True)
class Difference:
    """Mean of ``a − b`` over ``n`` shared questions, with its standard error and 95 % interval."""

    mean: float
    stderr: float
    low: float
    high: float
    n: int

    @classmethod
    def of(cls, mean: float, stderr: float, n: int) -> Difference:
        """The difference with its normal-approximation 95 % interval."""
        return cls(mean, stderr, mean - Z95 * stderr, mean + Z95 * stderr, n)

    @property
    def clearly_positive(self) -> bool:
        """The whole 95 % interval is above zero."""
        return self.low > 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"clearly_positive": self.clearly_positive}

    def points(self) -> str:
        """In points (×100) with the interval: ``"+7.4 (+5.1 to +9.7)"``."""
        mean, low, high = (round(100 * x, 1) + 0.0 for x in (self.mean, self.low, self.high))  # + 0.0: no "-0.0"
        return f"{mean:+.1f} ({low:+.1f} to {high:+.1f})"


def paired_difference(a: Mapping[str, float], b: Mapping[str, float]) -> Difference:
    """The paired difference ``a − b`` over the question ids both score.

    Raises:
        InputError: Fewer than two questions are shared.
    """
    shared = sorted(set(a) & set(b))
    if len(shared) < 2:
        raise InputError(f"the two predictors share {len(shared)} question ids; a paired comparison needs two")
    diffs = [float(a[q]) - float(b[q]) for q in shared]
    n = len(diffs)
    mean = math.fsum(diffs) / n
    variance = math.fsum((d - mean) ** 2 for d in diffs) / (n - 1)
    stderr = math.sqrt(variance / n)
    return Difference.of(mean, stderr, n)


def scores_by_task(samples: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, float]]:
    """{task: {question id: score}} from per-sample rows (``m2 eval``'s ``eval.json`` ``samples``)."""
    out: dict[str, dict[str, float]] = {}
    for row in samples:
        out.setdefault(str(row["task"]), {})[str(row["id"])] = float(row["score"])
    return out


def task_differences(
    a: Iterable[Mapping[str, Any]], b: Iterable[Mapping[str, Any]], tasks: Iterable[str] | None = None
) -> dict[str, Difference]:
    """Per task, the paired difference of two predictors' per-sample rows (tasks both scored, or ``tasks``)."""
    by_a, by_b = scores_by_task(a), scores_by_task(b)
    names = list(tasks) if tasks is not None else sorted(set(by_a) & set(by_b))
    return {task: paired_difference(by_a.get(task, {}), by_b.get(task, {})) for task in names}


def mean_of_tasks_difference(
    a: Iterable[Mapping[str, Any]], b: Iterable[Mapping[str, Any]], tasks: Iterable[str]
) -> Difference:
    """The difference of the two predictors' mean-of-task scores, tasks weighted equally.

    Tasks are independent question sets, so the variance is the sum of each task's squared standard error
    divided by the number of tasks squared.
    """
    per_task = task_differences(a, b, tasks)
    if not per_task:
        raise InputError("no tasks to compare")
    k = len(per_task)
    mean = math.fsum(d.mean for d in per_task.values()) / k
    stderr = math.sqrt(math.fsum(d.stderr**2 for d in per_task.values())) / k
    n = sum(d.n for d in per_task.values())
    return Difference.of(mean, stderr, n)
