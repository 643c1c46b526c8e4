"""The one generation loop every backend shares: M-RoPE positions, vision, prefill, sampled decode.

Backends only run model stages (:class:`~m2sdk.runtime.backends.base.Backend`); sampling, stopping on
``<|im_end|>``, the token budget, context checks and per-stage timing live here once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from m2sdk.answer import Timings
from m2sdk.errors import PromptTooLongError
from m2sdk.processor import ModelInputs
from m2sdk.rope import decode_positions, get_rope_index
from m2sdk.runtime.backends.base import Backend
from m2sdk.runtime.numbers import NUMBER_MODES, MedianNumbers


@dataclass
class GenerationConfig:
    """Decoding settings. ``temperature=0`` is greedy (deterministic), the default for robots.

    ``numbers="median"`` (with ``temperature=0``) writes the digits of a boxed number at the median of
    the model's distribution instead of greedily (:mod:`m2sdk.runtime.numbers`); still deterministic.
    """

    max_new_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = None
    numbers: str = "greedy"

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.numbers not in NUMBER_MODES:
            raise ValueError(f"numbers must be one of {NUMBER_MODES}, got {self.numbers!r}")


@dataclass
class Generation:
    """Generated token ids (without the stop token), their text, and where the time went."""

    ids: list[int]
    text: str
    timings: Timings = field(default_factory=Timings)
    stopped: bool = False  # True when <|im_end|> ended it, False when the token budget did


def prompt_positions(backend: Backend, inputs: ModelInputs) -> tuple[np.ndarray, int]:
    """(3, S) M-RoPE positions and rope delta of a prompt, as the backend's model expects them."""
    return get_rope_index(
        inputs.mm_token_type_ids,
        inputs.image_grid_thw,
        inputs.video_grid_thw,
        inputs.second_per_grid_ts,
        spatial_merge_size=backend.spatial_merge_size,
        tokens_per_second=backend.tokens_per_second,
    )


def visual_features(backend: Backend, inputs: ModelInputs) -> np.ndarray | None:
    """Features of every image then the video, in the order their patch tokens appear in the prompt."""
    parts = []
    if inputs.pixel_values is not None:
        parts.append(backend.encode_vision(inputs.pixel_values, inputs.image_grid_thw))
    if inputs.pixel_values_videos is not None:
        parts.append(backend.encode_vision(inputs.pixel_values_videos, inputs.video_grid_thw))
    return np.concatenate(parts, axis=0) if parts else None


def generate(
    backend: Backend,
    inputs: ModelInputs,
    config: GenerationConfig | None = None,
    on_stage: Callable[[str], None] | None = None,
) -> Generation:
    """Answer one prompt with ``backend``; ``on_stage`` hears "vision" and "reasoning" as they start.

    Example:
        >>> gen = generate(backend, processor(frame, "How far is the chair?"), GenerationConfig(64))
        >>> gen.text, gen.timings.tokens_per_s
    """
    config = config or GenerationConfig()
    n_prompt = len(inputs)
    if n_prompt + 1 > backend.max_context:
        raise PromptTooLongError(f"the prompt has {n_prompt} tokens; the context holds {backend.max_context}")
    budget = min(config.max_new_tokens, backend.max_context - n_prompt)
    rng = np.random.default_rng(config.seed)
    timings = Timings()
    t0 = time.perf_counter()
    notify = on_stage or (lambda _stage: None)
    positions, delta = prompt_positions(backend, inputs)
    notify("vision")
    features = visual_features(backend, inputs)
    t1 = time.perf_counter()
    logits = backend.prefill(inputs.input_ids, features, positions)
    t2 = time.perf_counter()
    notify("reasoning")
    eos = backend.processor.tokenizer.eos_id
    numbers = None
    if config.numbers == "median" and config.temperature == 0:
        numbers = MedianNumbers(backend.processor.tokenizer)
    ids: list[int] = []
    stopped = False
    for i in range(budget):
        if numbers is not None:
            token = numbers.choose(logits, ids)
        else:
            token = sample(logits, config.temperature, config.top_p, rng)
        if token == eos:
            stopped = True
            break
        ids.append(token)
        if i + 1 < budget:
            logits = backend.step(token, decode_positions(n_prompt + i, 1, delta))
    t3 = time.perf_counter()
    timings.vision_ms = (t1 - t0) * 1e3
    timings.prefill_ms = (t2 - t1) * 1e3
    timings.decode_ms = (t3 - t2) * 1e3
    timings.new_tokens = len(ids)
    timings.tokens_per_s = len(ids) / (t3 - t2) if t3 > t2 and ids else 0.0
    return Generation(ids, backend.processor.decode(ids), timings, stopped)


def sample(logits: np.ndarray, temperature: float, top_p: float, rng: np.random.Generator) -> int:
    """Greedy when ``temperature == 0``, else temperature + nucleus sampling."""
    if temperature == 0:
        return int(np.argmax(logits))
    scaled = (logits.astype(np.float64) - logits.max()) / temperature
    probs = np.exp(scaled)
    probs /= probs.sum()
    if top_p < 1.0:
        order = np.argsort(-probs)
        keep = order[: int(np.searchsorted(np.cumsum(probs[order]), top_p)) + 1]
        mask = np.zeros_like(probs)
        mask[keep] = probs[keep]
        probs = mask / mask.sum()
    return int(rng.choice(len(probs), p=probs))
