"""Paired comparisons (m2sdk.eval.compare): the numbers behind "clearly above the baseline"."""

from __future__ import annotations

import math

import numpy as np
import pytest

from m2sdk.errors import InputError
from m2sdk.eval.compare import (
    Z95,
    mean_of_tasks_difference,
    paired_difference,
    scores_by_task,
    task_differences,
)


def test_paired_difference_by_hand():
    d = paired_difference({"q1": 0.9, "q2": 0.6, "q3": 0.3, "only-a": 1.0}, {"q1": 0.5, "q2": 0.5, "q3": 0.5})
    # differences 0.4, 0.1, -0.2: mean 0.1, sample variance 0.09, standard error sqrt(0.09 / 3)
    assert d.n == 3 and d.mean == pytest.approx(0.1)
    assert d.stderr == pytest.approx(math.sqrt(0.03))
    assert (d.low, d.high) == pytest.approx((0.1 - Z95 * math.sqrt(0.03), 0.1 + Z95 * math.sqrt(0.03)))
    assert not d.clearly_positive and d.to_dict()["clearly_positive"] is False


def test_pairing_removes_what_both_predictors_share():
    """Two predictors whose scores move together question by question: their separate means overlap
    widely, their paired difference is clearly positive."""
    rng = np.random.default_rng(0)
    base = rng.uniform(0, 1, 200)
    a = {f"q{i}": float(s + 0.03 + rng.normal(0, 0.01)) for i, s in enumerate(base)}
    b = {f"q{i}": float(s) for i, s in enumerate(base)}
    d = paired_difference(a, b)
    assert d.clearly_positive and d.mean == pytest.approx(0.03, abs=0.005)
    unpaired_stderr = math.sqrt(np.var(list(a.values()), ddof=1) / 200 + np.var(list(b.values()), ddof=1) / 200)
    assert d.stderr < unpaired_stderr / 10
    assert not paired_difference(b, a).clearly_positive


def test_a_comparison_needs_shared_questions():
    with pytest.raises(InputError, match="share 1 question"):
        paired_difference({"q1": 1.0, "q2": 0.0}, {"q1": 0.5, "q3": 0.5})


def test_per_task_and_mean_of_tasks_from_eval_rows():
    rows_a = [{"id": f"{t}{i}", "task": t, "score": s} for t, ss in (("x", (1, 1, 0)), ("y", (0.5, 0.7))) for i, s in
              enumerate(ss)]  # fmt: skip
    rows_b = [{"id": f"{t}{i}", "task": t, "score": 0.5} for t, n in (("x", 3), ("y", 2)) for i in range(n)]
    assert scores_by_task(rows_a) == {"x": {"x0": 1.0, "x1": 1.0, "x2": 0.0}, "y": {"y0": 0.5, "y1": 0.7}}
    per_task = task_differences(rows_a, rows_b)
    assert set(per_task) == {"x", "y"}
    assert per_task["x"].mean == pytest.approx(1 / 6) and per_task["y"].mean == pytest.approx(0.1)
    both = mean_of_tasks_difference(rows_a, rows_b, ["x", "y"])
    assert both.mean == pytest.approx((1 / 6 + 0.1) / 2) and both.n == 5
    assert both.stderr == pytest.approx(math.hypot(per_task["x"].stderr, per_task["y"].stderr) / 2)
    with pytest.raises(InputError):
        task_differences(rows_a, rows_b, ["z"])  # a task neither scored
