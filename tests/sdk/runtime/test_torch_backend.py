"""The shared generation loop on the torch backend matches transformers' own `generate`."""

from __future__ import annotations

import numpy as np
import pytest

from m2sdk.errors import PromptTooLongError
from m2sdk.runtime.backends.torch_backend import TorchBackend
from m2sdk.runtime.generation import GenerationConfig, generate, sample
from tests.conftest import make_frame


@pytest.fixture(scope="module")
def backend(tiny_model, tiny_processor):
    return TorchBackend(tiny_model, tiny_processor)


@pytest.mark.parametrize("frames", [[make_frame()], [make_frame(56, 84, 1), make_frame(84, 56, 2)], []])
def test_greedy_loop_equals_transformers_generate(backend, tiny_model, tiny_processor, frames):
    inputs = tiny_processor(frames or None, "How far is the chair from the camera, in metres?")
    ours = generate(backend, inputs, GenerationConfig(max_new_tokens=16))
    ref = tiny_model.generate(**inputs.to_torch(), max_new_tokens=16, do_sample=False)[0, len(inputs) :]
    ref_ids = ref.tolist()
    eos = tiny_processor.tokenizer.eos_id
    if eos in ref_ids:
        ref_ids = ref_ids[: ref_ids.index(eos)]
    assert ours.ids == ref_ids
    assert ours.timings.new_tokens == len(ours.ids)


def test_video_prompt_generates(backend, tiny_model, tiny_processor):
    clip = [make_frame(56, 84, seed=i) for i in range(4)]
    inputs = tiny_processor(None, "How big is this room, in square metres?", video=clip)
    ours = generate(backend, inputs, GenerationConfig(max_new_tokens=8))
    ref = tiny_model.generate(**inputs.to_torch(), max_new_tokens=8, do_sample=False)[0, len(inputs) :]
    assert ours.ids == ref.tolist()[: len(ours.ids)]


def test_prompt_longer_than_context_is_refused(tiny_model, tiny_processor):
    short = TorchBackend(tiny_model, tiny_processor)
    short.max_context = 20
    with pytest.raises(PromptTooLongError):
        generate(short, tiny_processor(None, "How far is the chair?"))


def test_sampling_is_seeded_and_respects_top_p():
    logits = np.array([0.0, 5.0, 4.9, -3.0])
    rng = np.random.default_rng(0)
    picks = {sample(logits, 1.0, 0.5, rng) for _ in range(50)}
    assert picks == {1}  # nucleus 0.5 keeps only the top token
    assert sample(logits, 0.0, 1.0, rng) == 1
    a = [sample(logits, 2.0, 1.0, np.random.default_rng(3)) for _ in range(5)]
    b = [sample(logits, 2.0, 1.0, np.random.default_rng(3)) for _ in range(5)]
    assert a == b
