"""`m2sdk.load` / `Model.query` / `m2sdk.query`: typed answers and typed errors for bad input."""

from __future__ import annotations

import numpy as np
import pytest

import m2sdk
from m2sdk.answer import QuestionKind
from tests.conftest import make_frame


@pytest.fixture(scope="module")
def model():
    return m2sdk.load("m2-tiny", backend="torch")


def test_query_returns_a_typed_answer(model):
    answer = model.query(make_frame()[..., ::-1], "How far is the chair from the camera, in metres?",
                         max_new_tokens=8, timestamps_s=[1.5])  # fmt: skip
    assert isinstance(answer, m2sdk.Answer)
    assert answer.kind is QuestionKind.DISTANCE
    assert answer.backend == "torch" and answer.frame_timestamps_s == (1.5,)
    t = answer.timings
    assert t.total_ms >= t.preprocess_ms + t.vision_ms + t.prefill_ms > 0
    assert 0 < t.new_tokens <= 8
    assert answer.to_dict()["kind"] == "distance"


def test_bgr_flag_matters_and_rgb_equals_flipped_bgr(model):
    rgb = make_frame(seed=3)
    a = model.query(rgb, "How many chairs?", bgr=False, max_new_tokens=6)
    b = model.query(rgb[..., ::-1].copy(), "How many chairs?", bgr=True, max_new_tokens=6)
    assert a.raw == b.raw


def test_module_level_query_reuses_one_default_model():
    from m2sdk.runtime import api

    first = m2sdk.query(make_frame(), "How far is the lamp?", max_new_tokens=4)
    model = api.default_model()
    second = m2sdk.query(make_frame(), "How far is the lamp?", max_new_tokens=4)
    assert api.default_model() is model and first.raw == second.raw


@pytest.mark.parametrize(
    "frame",
    [None, np.zeros((0, 0, 3), np.uint8), np.zeros((20, 20, 2), np.uint8), np.zeros((20, 20, 3), np.complex64), []],
    ids=["none", "empty", "two-channels", "complex-dtype", "empty-list"],
)
def test_bad_frames_raise_input_error(model, frame):
    with pytest.raises(m2sdk.InputError):
        model.query(frame, "How far is the chair?")


def test_corrupt_image_file_raises_input_error(model, tmp_path):
    path = tmp_path / "broken.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    with pytest.raises(m2sdk.InputError):
        model.query(str(path), "How far is the chair?")


@pytest.mark.parametrize("prompt", ["", "   ", None])
def test_bad_prompt_raises_input_error(model, prompt):
    with pytest.raises(m2sdk.InputError):
        model.query(make_frame(), prompt)


def test_prompt_longer_than_context_raises_typed_error(model):
    with pytest.raises(m2sdk.PromptTooLongError):
        model.query(make_frame(), "how far " * 5000)


def test_unknown_backend_or_preset(tmp_path):
    with pytest.raises(m2sdk.InputError, match="unknown backend"):
        m2sdk.load("m2-tiny", backend="magic")
    with pytest.raises(m2sdk.InputError, match="export first"):
        m2sdk.load("m2-tiny", backend="onnxruntime")
    with pytest.raises(m2sdk.M2Error):
        m2sdk.load(str(tmp_path / "nope"))


def test_grayscale_and_rgba_frames_are_accepted(model):
    gray = make_frame()[..., 0]
    rgba = np.dstack([make_frame(), np.full(make_frame().shape[:2], 255, np.uint8)])
    assert model.query(gray, "How many chairs?", max_new_tokens=2).backend == "torch"
    assert model.query(rgba, "How many chairs?", max_new_tokens=2).backend == "torch"


def test_on_stage_reports_vision_then_reasoning(model):
    stages = []
    model.query(make_frame(), "How far is the lamp?", max_new_tokens=2, on_stage=stages.append)
    assert stages == ["vision", "reasoning"]
