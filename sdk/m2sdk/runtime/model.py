"""`Model`: the object apps hold. One query in, one typed :class:`~m2sdk.answer.Answer` out."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from m2sdk import prompt as prompts
from m2sdk.answer import Answer, QuestionKind
from m2sdk.errors import InputError, M2Error, ModelError
from m2sdk.processing import to_rgb
from m2sdk.runtime.backends.base import Backend
from m2sdk.runtime.generation import GenerationConfig, generate

# Token budgets per mode: fast answers are a number or a letter, or a count after a listing (a model trained
# with data.count_listing: colours goes through the ten palette colours, 57 tokens for "chair" and 67 for
# "plant pot" with m2-mini's tokenizer); generation stops at </answer>. Reasoning needs room.
FAST_MAX_NEW_TOKENS = 96
REASONING_MAX_NEW_TOKENS = 1024


class Model:
    """A loaded M2 model on one backend. Get one with :func:`m2sdk.load`.

    Frames are numpy arrays in OpenCV's **BGR** order by default (pass ``bgr=False`` for RGB), PIL
    images or image paths; grayscale and 4-channel frames are converted. Queries are serialised: one
    backend answers one question at a time, so a Model can be shared between threads.

    Example:
        >>> model = m2sdk.load("m2-tiny")
        >>> answer = model.query(cv2.imread("room.jpg"), "How far is the sofa from the camera, in metres?")
        >>> answer.value, answer.unit, answer.kind
    """

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.processor = backend.processor
        self._lock = threading.Lock()

    @property
    def backend_name(self) -> str:
        return self.backend.name

    def query(
        self,
        frames: Any,
        prompt: str,
        *,
        reasoning: bool = True,
        max_new_tokens: int | None = None,
        temperature: float = 0.0,
        numbers: str = "median",
        bgr: bool = True,
        options: Sequence[str] | None = None,
        timestamps_s: Sequence[float] | None = None,
        as_video: bool | None = None,
        on_stage: Callable[[str], None] | None = None,
    ) -> Answer:
        """Answer ``prompt`` about one frame or a list of frames.

        A list of frames is a clip (sent as a video) for video questions (room size, appearance
        order, route) and several images otherwise.

        Args:
            frames: One frame (numpy BGR by default, PIL image or path) or a list of them.
            prompt: The question, in plain text.
            reasoning: False gives the fast answer-only mode (no chain of thought).
            max_new_tokens: Token budget; default 1024 with reasoning, 96 without.
            temperature: 0 for greedy decoding (deterministic), > 0 to sample.
            numbers: With ``temperature=0``: "median" writes a boxed number's digits at the median of the
                model's distribution (:mod:`m2sdk.runtime.numbers`: less error than the most likely
                digit at each step), "greedy" the most likely ones. Deterministic either way.
            bgr: Whether numpy frames are BGR (OpenCV) rather than RGB.
            options: Option texts for a multiple-choice question (lettered A, B, ...).
            timestamps_s: Capture time of each frame, copied into the answer.
            as_video: Send a list of frames as one video clip (True) or as images (False); by default
                a clip for video questions only.
            on_stage: Called with "vision" and then "reasoning" as those stages start (progress
                feedback, e.g. the ROS 2 action's feedback).

        Raises:
            InputError: A bad frame or prompt (None, empty, wrong dtype or channels, corrupt file).
            PromptTooLongError: The prompt with its image tokens does not fit the context.
            ModelError: The backend failed on valid input.
        """
        from m2sdk.answer_parser import parse_answer
        from m2sdk.questions import classify_question

        t0 = time.perf_counter()
        if not isinstance(prompt, str) or not prompt.strip():
            raise InputError("the prompt must be a non-empty string")
        rgb = [to_rgb(f, bgr=bgr) for f in _frame_list(frames)]
        kind = classify_question(prompt)
        if as_video is None:
            as_video = kind.needs_clip and len(rgb) > 1
        inputs = self.processor(
            None if as_video else rgb, prompt, video=rgb if as_video else None,
            options=options, reasoning=reasoning,
        )  # fmt: skip
        t1 = time.perf_counter()
        budget = max_new_tokens or (REASONING_MAX_NEW_TOKENS if reasoning else FAST_MAX_NEW_TOKENS)
        generation = self._generate(inputs, GenerationConfig(budget, temperature, numbers=numbers), on_stage)
        raw = generation.text if reasoning else prompts.FAST_RESPONSE_PREFIX + generation.text
        parsed = parse_answer(raw, options=options)
        timings = generation.timings
        timings.preprocess_ms = (t1 - t0) * 1e3
        timings.total_ms = (time.perf_counter() - t0) * 1e3
        return Answer(
            text=parsed.final, reasoning=parsed.reasoning, value=parsed.value, unit=parsed.unit,
            choice=parsed.choice, direction=parsed.direction, kind=kind, question=prompt,
            frame_timestamps_s=tuple(float(t) for t in (timestamps_s or ())), timings=timings,
            raw=raw, backend=self.backend.name,
        )  # fmt: skip

    def _generate(self, inputs, config: GenerationConfig, on_stage=None):
        with self._lock:
            try:
                return generate(self.backend, inputs, config, on_stage)
            except M2Error:
                raise
            except Exception as err:  # a backend crash on valid input: typed, with the cause kept
                raise ModelError(f"the {self.backend.name} backend failed: {err}") from err

    def stream(self, source: Any, prompt: str, **kwargs: Any) -> Iterator[Answer]:
        """Answer ``prompt`` continuously over a camera, video file, URL or frame iterator.

        See :func:`m2sdk.runtime.streaming.stream` for the arguments (``every_s``, ``clip_s``...).
        """
        from m2sdk.runtime.streaming import stream

        return stream(self, source, prompt, **kwargs)


def _frame_list(frames: Any) -> list[Any]:
    if frames is None:
        raise InputError("no frame given (got None)")
    if isinstance(frames, (list, tuple)):
        if not frames:
            raise InputError("an empty list of frames was given")
        return list(frames)
    if isinstance(frames, np.ndarray) and frames.ndim == 4:
        return list(frames)
    return [frames]


__all__ = ["Model", "QuestionKind"]
