"""Median decoding of boxed numbers (m2sdk.runtime.numbers) and its place in the generation loop."""

from __future__ import annotations

import numpy as np
import pytest

from m2sdk.runtime.generation import GenerationConfig, generate
from m2sdk.runtime.numbers import MedianNumbers


@pytest.fixture(scope="module")
def tok(tiny_processor):
    return tiny_processor.tokenizer


def _logits(tok, probs: dict[str | int, float]) -> np.ndarray:
    """Logits over the whole vocabulary with the given token probabilities (the rest ~0); keys are texts
    of single tokens or token ids."""
    out = np.full(tok.vocab_size, -30.0)
    for key, p in probs.items():
        (token,) = [key] if isinstance(key, int) else tok.encode_text(key)
        out[token] = np.log(p)
    return out


def _ids(tok, text: str) -> list[int]:
    return tok.encode_trusted(text)


def test_digits_follow_the_running_median(tok):
    chooser = MedianNumbers(tok)
    ids = _ids(tok, "<answer>\\boxed{")
    # first digit: greedy would say 2 (0.4); the median is in 3's share (cumulative 0.40 -> 0.75)
    first = chooser.choose(_logits(tok, {"2": 0.4, "3": 0.35, "4": 0.25}), ids)
    assert tok.decode([first]) == "3"
    assert chooser.quantile == pytest.approx((0.5 - 0.4) / 0.35)
    ids += [first]
    point = chooser.choose(_logits(tok, {".": 0.9, "5": 0.1}), ids)  # not a digit by greedy: kept
    assert tok.decode([point]) == "."
    ids += [point]
    uniform = {str(d): 0.1 for d in range(10)}
    second = chooser.choose(_logits(tok, uniform), ids)  # quantile 0.286 of a uniform digit: 2
    assert tok.decode([second]) == "2"
    ids += [second]
    unit = chooser.choose(_logits(tok, {" m": 0.6, "7": 0.4}), ids)  # the number ends where greedy ends it
    assert tok.decode([unit]) == " m"


def test_outside_a_boxed_number_every_token_is_greedy(tok):
    chooser = MedianNumbers(tok)
    digits = _logits(tok, {"2": 0.4, "3": 0.35, "4": 0.25})
    for text in ("", "The answer is ", "<answer>\\boxed{3.2.", "\\boxed{A} and 1"):
        assert tok.decode([chooser.choose(digits, _ids(tok, text))]) == "2", text


class ScriptedBackend:
    """A stand-in for a model backend that returns prepared logits (a fake: it tests the loop's logic only)."""

    def __init__(self, processor, script: list[np.ndarray]) -> None:
        self.processor, self.script = processor, script
        self.max_context, self.spatial_merge_size, self.tokens_per_second = 4096, 2, 2.0
        self.fed: list[int] = []

    def encode_vision(self, pixel_values, grid_thw):
        raise AssertionError("text-only prompt")

    def prefill(self, input_ids, features, positions):
        return self.script[0]

    def step(self, token, positions):
        self.fed.append(token)
        return self.script[len(self.fed)]


def test_generate_decodes_numbers_at_the_median_only_when_asked(tiny_processor, tok):
    steps = [*("\\", "boxed", "{"), {"1": 0.3, "2": 0.36, "3": 0.34}, ".", {"4": 0.52, "9": 0.48}, "}"]
    script = [_logits(tok, s if isinstance(s, dict) else {s: 1.0}) for s in steps]
    script.append(_logits(tok, {tok.eos_id: 1.0}))
    inputs = tiny_processor(None, "How far is the chair?", reasoning=False)
    greedy = generate(ScriptedBackend(tiny_processor, script), inputs, GenerationConfig(16))
    median = generate(ScriptedBackend(tiny_processor, script), inputs, GenerationConfig(16, numbers="median"))
    assert greedy.text == "\\boxed{2.4}"
    assert median.text == "\\boxed{2.9}"  # 0.5 lies at 0.56 of 2's share (0.30 .. 0.66): in 9's share of 2.x
    sampled = generate(
        ScriptedBackend(tiny_processor, script), inputs, GenerationConfig(16, temperature=1.0, seed=0, numbers="median")
    )
    assert sampled.text.startswith("\\boxed{")  # sampling ignores the median rule


def test_numbers_mode_is_checked():
    with pytest.raises(ValueError, match="numbers must be one of"):
        GenerationConfig(numbers="mean")


def test_model_query_passes_its_numbers_mode_to_the_loop():
    import m2sdk
    from tests.conftest import make_frame

    model = m2sdk.load("m2-tiny")
    frame = make_frame()
    for mode in ("median", "greedy"):
        assert model.query(frame, "How far is the chair?", reasoning=False, numbers=mode).raw
    with pytest.raises(ValueError, match="numbers must be one of"):
        model.query(frame, "How far is the chair?", reasoning=False, numbers="mean")
