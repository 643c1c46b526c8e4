"""EDNM and the batch task rewards: worked values and the properties a reward must have."""

from __future__ import annotations

import logging
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from m2sdk.errors import InputError
from m2sdk.eval import (
    DEFAULT_EDNM_DECAY,
    choice_reward,
    ednm_from_text,
    ednm_reward,
    format_reward,
    numeric_reward,
    read_numeric,
    score_sample,
)


@pytest.mark.parametrize(
    ("pred", "gt", "expected"),
    [
        (2.5, 2.5, 1.0),
        (2.75, 2.5, 0.8187307530779818),  # exp(-2 * 0.1)
        (3.75, 2.5, 0.36787944117144233),  # exp(-2 * 0.5)
        (0.0, 2.5, 0.1353352832366127),  # exp(-2 * 1.0)
        (None, 2.5, 0.0),
        (float("nan"), 2.5, 0.0),
        (0.0, 0.0, 1.0),
        (0.5, 0.0, 0.0),
    ],
)
def test_ednm_worked_values(pred, gt, expected):
    assert ednm_reward(pred, gt) == pytest.approx(expected, rel=1e-12)


def test_default_decay_and_custom_decay():
    assert DEFAULT_EDNM_DECAY == 2.0
    assert ednm_reward(3.0, 2.0, decay=1.0) == pytest.approx(math.exp(-0.5))
    with pytest.raises(InputError):
        ednm_reward(1.0, 1.0, decay=0.0)


@given(st.floats(-1e6, 1e6, allow_nan=False).filter(lambda g: abs(g) > 1e-6))
def test_ednm_is_one_at_an_exact_answer(gt):
    assert ednm_reward(gt, gt) == 1.0


# gt >= 0.2 m keeps the relative error <= 250, where exp(-2 * 250) is still far from float underflow.
@given(st.integers(200, 10_000), st.integers(-50_000, 50_000), st.integers(-50_000, 50_000))
def test_ednm_strictly_decreases_with_the_error(gt_mm, d1_mm, d2_mm):
    if abs(d1_mm) == abs(d2_mm):
        d2_mm = abs(d1_mm) + 1
    small, large = sorted((d1_mm, d2_mm), key=abs)
    assert ednm_reward((gt_mm + small) / 1000, gt_mm / 1000) > ednm_reward((gt_mm + large) / 1000, gt_mm / 1000)


@given(st.floats(0.01, 100.0), st.floats(0.0, 100.0))
def test_ednm_is_in_zero_one(gt, relative_error):
    reward = ednm_reward(gt * (1 + relative_error), gt)
    assert 0.0 < reward <= 1.0


@given(st.floats(0.05, 50.0), st.floats(0.05, 50.0))
def test_ednm_is_unit_invariant(pred_m, gt_m):
    in_metres = ednm_from_text(f"<answer>\\boxed{{{pred_m!r} m}}</answer>", (gt_m, "m"))
    in_cm = ednm_from_text(f"<answer>\\boxed{{{pred_m * 100!r} cm}}</answer>", (gt_m * 100, "cm"))
    in_feet = ednm_from_text(f"\\boxed{{{pred_m / 0.3048!r} ft}}", (gt_m, "m"))
    assert in_cm == pytest.approx(in_metres, rel=1e-9, abs=1e-12)
    assert in_feet == pytest.approx(in_metres, rel=1e-9, abs=1e-12)


def test_ednm_from_text_normalises_units():
    assert ednm_from_text("<answer>\\boxed{250 cm}</answer>", (2.5, "m")) == 1.0
    assert ednm_from_text("\\boxed{250}", {"answer": "250", "unit": "cm"}) == 1.0
    assert ednm_from_text("\\boxed{3 ft 6 in}", (42, "in")) == pytest.approx(1.0)
    assert ednm_from_text("no number", (2.5, "m")) == 0.0
    assert ednm_from_text("\\boxed{2.5 m^2}", (2.5, "m")) == 0.0  # wrong dimension


@pytest.mark.parametrize("text", ["\\boxed{2.0 m}", "About 210 cm.", "\\boxed{7 ft}", "garbage"])
def test_reward_and_metric_read_the_same_number(text):
    record = {"task": "d", "answer_type": "numeric", "answer": 2.5, "unit": "m"}
    assert score_sample(record, text).value == read_numeric(text, 2.5, "m").pred


def test_format_reward_batch():
    completions = [
        "<think>a</think><answer>\\boxed{1}</answer>",
        "\\boxed{1}",
        [{"role": "assistant", "content": "<think>a</think><answer>\\boxed{B}</answer>"}],
        [{"role": "assistant", "content": [{"type": "text", "text": "<think>a</think><answer>2</answer>"}]}],
    ]
    assert format_reward(completions) == [1.0, 0.0, 1.0, 0.0]


def test_choice_reward_batch():
    completions = ["<answer>\\boxed{B}</answer>", "\\boxed{right}", "\\boxed{left}", "no idea"]
    answers = ["(B)", "B", "B", "A"]
    options = [None, ["left", "right"], ["left", "right"], None]
    assert choice_reward(completions, answers, options) == [1.0, 1.0, 0.0, 0.0]
    assert choice_reward(completions[:1], ["B"]) == [1.0]


def test_numeric_reward_batch_survives_a_bad_record(caplog):
    completions = ["\\boxed{250 cm}", "\\boxed{2.75}", "\\boxed{3}", "\\boxed{1}"]
    with caplog.at_level(logging.WARNING):
        rewards = numeric_reward(completions, [2.5, 2.5, 3, "n/a"], ["m", "m", None, "m"])
    assert rewards == pytest.approx([1.0, math.exp(-0.2), 1.0, 0.0])
    assert "item 3" in caplog.text


def test_batch_length_mismatch_raises():
    with pytest.raises(InputError, match="answers"):
        numeric_reward(["a", "b"], [1.0])
    with pytest.raises(InputError, match="options"):
        choice_reward(["a"], ["A"], [None, None])
