"""Benchmark metrics against hand-computed numbers and an exact-arithmetic oracle."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import m2sdk.eval
from m2sdk.errors import InputError
from m2sdk.eval import (
    SampleScore,
    TaskScore,
    aggregate,
    cvbench_overall,
    exact_match,
    mean_relative_accuracy,
    score_sample,
    vsi_numeric_prediction,
    vsi_overall,
    weighted_accuracy,
)
from m2sdk.units import UnitError


@pytest.mark.parametrize(
    ("pred", "gt", "expected"),
    [
        (2.0, 2.5, 0.7),  # rel err 0.2: passes θ = 0.50, 0.55, …, 0.80 -> 7 of 10
        (2.5, 2.5, 1.0),
        (None, 2.5, 0.0),  # unparseable
        (4.0, 2.5, 0.0),  # rel err 0.6 > 0.5: fails every θ
        (1.3, 1.0, 0.5),  # rel err 0.3: θ = 0.50 … 0.70 -> 5 of 10
        (0.75, 1.0, 0.6),  # rel err 0.25: θ = 0.50 … 0.75 -> 6 of 10
        (1.5, 1.0, 0.1),  # rel err 0.5 sits on the θ = 0.50 boundary: passes (≤) -> 1 of 10
        (1.05, 1.0, 1.0),  # rel err 0.05 sits on the θ = 0.95 boundary: passes -> 10 of 10
        (1.0499, 1.0, 1.0),
        (1.0501, 1.0, 0.9),  # just past the θ = 0.95 boundary
        (0.49, 1.0, 0.0),
        (-2.5, -2.5, 1.0),  # |gt| in the denominator
        (0.0, 0.0, 1.0),  # gt = 0: only an exact 0 scores
        (0.1, 0.0, 0.0),
        (float("nan"), 1.0, 0.0),
        (float("inf"), 1.0, 0.0),
    ],
)
def test_mean_relative_accuracy_worked_examples(pred, gt, expected):
    assert mean_relative_accuracy(pred, gt) == pytest.approx(expected, abs=1e-12)


def test_reference_float_rounding_is_reproduced_with_zero_tolerance():
    # VSI-Bench compares 0.2 <= 1 - 0.8 = 0.19999999999999996 and loses the boundary: 0.6, not 0.7.
    assert mean_relative_accuracy(2.0, 2.5, tolerance=0.0) == pytest.approx(0.6)


def test_threshold_construction_does_not_change_scores():
    for pred in (2.0, 1.5, 2.25, 3.0):
        linspace = mean_relative_accuracy(pred, 2.5, np.linspace(0.5, 0.95, 10))
        arange = mean_relative_accuracy(pred, 2.5, np.arange(0.50, 0.96, 0.05))
        assert linspace == arange


def test_empty_thresholds_and_bad_ground_truth_raise():
    with pytest.raises(InputError):
        mean_relative_accuracy(1.0, 1.0, [])
    with pytest.raises(InputError):
        mean_relative_accuracy(1.0, float("nan"))


@given(st.integers(0, 20_000), st.integers(1, 10_000))
def test_mra_matches_exact_rational_arithmetic(pred_mm, gt_mm):
    error = Fraction(abs(pred_mm - gt_mm), gt_mm)
    passed = sum(error <= 1 - Fraction(50 + 5 * k, 100) for k in range(10))
    assert mean_relative_accuracy(pred_mm / 1000, gt_mm / 1000) == pytest.approx(passed / 10, abs=1e-12)


@pytest.mark.parametrize(
    ("text", "value"),
    [("2.5", 2.5), ("2.5.", 2.5), ("3...", 3.0), ("2.5 meters", 2.5), ("about 2.5", None), (" 2.5", None),
     ("", None), ("\\boxed{2.5}", None), (None, None)],
)  # fmt: skip
def test_vsi_numeric_prediction_is_the_first_word_rule(text, value):
    assert vsi_numeric_prediction(text) == value


@pytest.mark.parametrize(
    ("pred", "gt", "expected"),
    [("A", "A", 1.0), ("a", "(A)", 1.0), ("(B)", "B.", 1.0), ("Option C", "c", 1.0), ("[D]", "D", 1.0),
     ("A", "B", 0.0), (None, "A", 0.0), ("", "A", 0.0), ("AB", "A", 0.0)],
)  # fmt: skip
def test_exact_match(pred, gt, expected):
    assert exact_match(pred, gt) == expected


def _numeric(answer, unit, task="abs_distance"):
    return {"task": task, "answer_type": "numeric", "answer": answer, "unit": unit, "options": None}


@pytest.mark.parametrize(
    ("record", "text", "score", "value", "parse_failed"),
    [
        (_numeric(2.5, "m"), "<think>…</think><answer>\\boxed{250 cm}</answer>", 1.0, 2.5, False),
        (_numeric("2.5", "m"), "<answer>\\boxed{2.0 m}</answer>", 0.7, 2.0, False),
        (_numeric(85, "cm", "object_size"), "\\boxed{0.85 \\text{m}}", 1.0, 0.85, False),
        (_numeric(85, "cm", "object_size"), "\\boxed{85}", 1.0, 0.85, False),  # unitless: the question's unit
        (_numeric(85, "cm", "object_size"), "\\boxed{68}", 0.7, 0.68, False),  # rel err 0.2
        (_numeric(4, None, "object_count"), "\\boxed{3}", 0.6, 3.0, False),  # rel err 0.25
        (_numeric(20, "m^2", "room_size"), "\\boxed{20 m}", 0.0, None, False),  # wrong dimension
        (_numeric(2.5, "m"), "I cannot tell.", 0.0, None, True),
    ],
)
def test_score_sample_numeric(record, text, score, value, parse_failed):
    result = score_sample(record, text)
    assert result.task == record["task"]
    assert result.score == pytest.approx(score)
    assert result.value == (None if value is None else pytest.approx(value))
    assert result.parse_failed is parse_failed


def test_score_sample_choice():
    record = {"task": "relation", "answer_type": "choice", "answer": "(B)", "unit": None, "options": ["left", "right"]}
    assert score_sample(record, "<answer>\\boxed{right}</answer>") == SampleScore("relation", 1.0, None, "B", False)
    assert score_sample(record, "<answer>\\boxed{A}</answer>").score == 0.0
    assert score_sample(record, "hmm").parse_failed


def test_score_sample_reference_parsing_reproduces_vsi():
    assert score_sample(_numeric(2.5, "m"), "2.0", reference_parsing=True).score == pytest.approx(0.6)
    reasoning = score_sample(_numeric(2.5, "m"), "<think>x</think>2.5", reference_parsing=True)
    assert (reasoning.score, reasoning.parse_failed) == (0.0, True)
    record = {"task": "route_plan", "answer_type": "choice", "answer": "A", "options": None}
    assert score_sample(record, "a. Turn left", reference_parsing=True).score == 1.0
    assert score_sample(record, "(A)", reference_parsing=True).score == 0.0  # the reference is that strict


@pytest.mark.parametrize(
    ("record", "error", "match"),
    [
        ({"task": "t", "answer_type": "numeric", "unit": "m"}, InputError, "answer"),
        ({"task": "t", "answer_type": "free", "answer": 1}, InputError, "answer_type"),
        (_numeric("two", "m"), InputError, "answer"),
        (_numeric(2, "furlong"), UnitError, "furlong"),
        ({"task": "t", "answer_type": "choice", "answer": "chair", "options": None}, InputError, "answer"),
    ],
)
def test_bad_records_raise_typed_errors_naming_the_field(record, error, match):
    with pytest.raises(error, match=match):
        score_sample(record, "\\boxed{1}")


def test_aggregate_by_hand():
    scores = [
        SampleScore("abs_distance", 1.0),
        SampleScore("abs_distance", 0.0, parse_failed=True),
        SampleScore("abs_distance", 0.5),
        SampleScore("obj_count", 1.0),
    ]
    report = aggregate(scores)
    assert report.per_task == {
        "abs_distance": TaskScore(mean=0.5, count=3, parse_failures=1),
        "obj_count": TaskScore(mean=1.0, count=1, parse_failures=0),
    }
    assert report.overall == pytest.approx(0.75)  # (0.5 + 1.0) / 2
    assert report.accuracy == pytest.approx(0.625)  # 2.5 / 4
    assert (report.count, report.parse_failures) == (4, 1)
    assert report.to_dict()["per_task"]["obj_count"]["count"] == 1
    with pytest.raises(InputError):
        aggregate([])


def test_vsi_overall_reproduces_the_published_m2_score():
    published = {"OC": 41.0, "AD": 34.0, "OS": 60.9, "RS": 55.4, "RDs": 40.7, "RDr": 47.3, "RP": 29.9, "AO": 28.8}
    assert vsi_overall(published) == pytest.approx(42.25)  # reported as 42.3
    assert vsi_overall({"a": TaskScore(0.2, 10), "b": TaskScore(0.6, 1)}) == pytest.approx(0.4)


def test_cvbench_overall_on_a_hand_computed_table():
    table = {"ADE20K": (0.80, 100), "coco": (0.60, 300), "Omni3D": TaskScore(0.90, 200)}
    overall = cvbench_overall(table)
    assert overall.accuracy_2d == pytest.approx(0.70)  # (0.80 + 0.60) / 2
    assert overall.accuracy_3d == pytest.approx(0.90)
    assert overall.official == pytest.approx(0.80)  # (0.70 + 0.90) / 2
    assert overall.accuracy == pytest.approx(440 / 600)  # (80 + 180 + 180) / 600
    with pytest.raises(InputError, match="Omni3D"):
        cvbench_overall({"ADE20K": (0.8, 1), "COCO": (0.6, 1)})


def test_weighted_accuracy_rejects_empty_groups():
    assert weighted_accuracy({"a": (1.0, 1), "b": (0.0, 3)}) == pytest.approx(0.25)
    with pytest.raises(InputError, match="'b'"):
        weighted_accuracy({"a": (1.0, 1), "b": (0.0, 0)})


def test_public_functions_are_reachable_from_the_package():
    assert m2sdk.eval.mean_relative_accuracy(2.0, 2.5) == pytest.approx(0.7)
