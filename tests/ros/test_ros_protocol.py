"""The question-topic protocol and the JSON answer encoding (ROS-free)."""

from __future__ import annotations

import json

import pytest

from m2_ros.protocol import ParsedQuestion, answer_json, parse_question
from m2sdk.errors import InputError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("  How far is the door?  ", ParsedQuestion("How far is the door?")),
        ('{"id": "q7", "question": " How far? "}', ParsedQuestion("How far?", "q7")),
        ('{"id": 12, "question": "How many?", "mode": "reasoning"}', ParsedQuestion("How many?", "12", "reasoning")),
        ("{not json but a question?", None),
    ],
)  # fmt: skip
def test_plain_text_and_json_questions(text, expected):
    if expected is None:
        with pytest.raises(InputError, match="looks like JSON but does not parse"):
            parse_question(text)
    else:
        assert parse_question(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("   ", "empty question"),
        ('{"id": "q1"}', 'needs a string field "question"'),
        ('{"question": 3}', 'needs a string field "question"'),
        ('{"question": "How far?", "mode": "slow"}', 'answer mode must be "fast" or "reasoning"'),
    ],
)
def test_bad_questions_are_input_errors(text, message):
    with pytest.raises(InputError, match=message):
        parse_question(text)


def test_answer_json_is_strict_json_with_nan_as_null():
    text = answer_json({"value": float("nan"), "timings": {"total_ms": float("inf")}, "stamps": [1.5]})
    assert json.loads(text) == {"value": None, "timings": {"total_ms": None}, "stamps": [1.5]}
