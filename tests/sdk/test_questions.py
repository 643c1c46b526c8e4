"""Question classification against VSI-Bench / CV-Bench templates and everyday robot questions."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from m2sdk.answer import QuestionKind
from m2sdk.questions import classify_question, expected_unit

K = QuestionKind

CASES = [
    # VSI-Bench templates
    (
        "Measuring from the closest point of each object, what is the direct distance between the bed and the "
        "sofa (in meters)?",
        K.DISTANCE,
    ),
    (
        "Measuring from the closest point of each object, which of these objects (table, chair, tv) is the "
        "closest to the bed?",
        K.DISTANCE,
    ),
    (
        "If I am standing by the sofa and facing the tv, is the chair to my left, right, or back? An object is "
        "to my back if I would have to turn at least 135 degrees in order to face it.",
        K.DIRECTION,
    ),
    (
        "What is the length of the longest dimension (length, width, or height) of the chair, measured in centimeters?",
        K.SIZE,
    ),
    (
        "What is the size of this room (in square meters)? If multiple rooms are shown, estimate the size of the "
        "combined space.",
        K.ROOM_SIZE,
    ),
    ("How many chair(s) are in this room?", K.COUNT),
    (
        "What will be the first-time appearance order of the following categories in the video: chair, tv?",
        K.APPEARANCE_ORDER,
    ),
    (
        "You are a robot beginning at the bed facing the tv. You want to navigate to the door. You will perform "
        "the following actions (Note: for each [please fill in] step, choose either 'turn back,' 'turn left,' or "
        "'turn right.'): 1. Go forward until the tv 2. [please fill in]",
        K.ROUTE,
    ),
    # CV-Bench templates
    (
        "Considering the relative positions of the lamp (annotated by the red box) and the sofa in the image "
        "provided, where is the lamp located with respect to the sofa?",
        K.DIRECTION,
    ),
    ("Which of these two objects (the chair or the table) is closer to the camera?", K.DISTANCE),
    (
        "Estimate the real-world distances between objects in this image. Which object is closer to the lamp "
        "(highlighted by a red box), the chair or the table?",
        K.DISTANCE,
    ),
    ("How many pictures are in the image?", K.COUNT),
    # everyday questions
    ("How far is the red chair from the camera, in metres?", K.DISTANCE),
    ("How many meters is the sofa from the door?", K.DISTANCE),
    ("How many chairs are to the left of the table?", K.COUNT),
    ("How many centimeters tall is the door?", K.SIZE),
    ("How tall is the door?", K.SIZE),
    ("What is the height of the table?", K.SIZE),
    ("How big is the room?", K.ROOM_SIZE),
    ("What is the floor area of this apartment?", K.ROOM_SIZE),
    ("Is the cup on the left or right of the laptop?", K.DIRECTION),
    ("Which side of the bed is the lamp on?", K.DIRECTION),
    ("Which appears first in the video, the dog or the cat?", K.APPEARANCE_ORDER),
    ("What is the best route to the kitchen?", K.ROUTE),
    ("What color is the sofa?", K.OTHER),
    ("", K.OTHER),
]


@pytest.mark.parametrize(("question", "kind"), CASES)
def test_classify_question(question, kind):
    assert classify_question(question) is kind


@pytest.mark.parametrize(
    ("kind", "unit"),
    [
        (K.DISTANCE, "m"),
        (K.SIZE, "m"),
        (K.ROOM_SIZE, "m^2"),
        (K.COUNT, None),
        (K.DIRECTION, None),
        (K.APPEARANCE_ORDER, None),
        (K.ROUTE, None),
        (K.OTHER, None),
    ],
)
def test_expected_unit(kind, unit):
    assert expected_unit(kind) == unit


@given(st.text())
def test_classify_never_raises(question):
    assert isinstance(classify_question(question), QuestionKind)
