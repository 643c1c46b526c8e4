"""The typed result of a spatial query: :class:`Answer` and its :class:`Timings`."""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass, field
from typing import Any


class QuestionKind(str, enum.Enum):
    """What a question asks for; decides the unit of the answer and whether a video clip is needed."""

    DISTANCE = "distance"
    DIRECTION = "direction"
    SIZE = "size"
    ROOM_SIZE = "room_size"
    COUNT = "count"
    APPEARANCE_ORDER = "appearance_order"
    ROUTE = "route"
    OTHER = "other"

    @property
    def needs_clip(self) -> bool:
        """Video questions look at a sliding clip of frames rather than the newest frame."""
        return self in (QuestionKind.ROOM_SIZE, QuestionKind.APPEARANCE_ORDER, QuestionKind.ROUTE)


@dataclass
class Timings:
    """Where the time of one query went, in milliseconds (``tokens_per_s`` is decode speed)."""

    preprocess_ms: float = 0.0
    vision_ms: float = 0.0
    prefill_ms: float = 0.0
    decode_ms: float = 0.0
    total_ms: float = 0.0
    new_tokens: int = 0
    tokens_per_s: float = 0.0


@dataclass
class Answer:
    """One answer of the model to one spatial question.

    Attributes:
        text: The final answer (inside ``<answer>``, or the whole output when the model skipped the tags).
        reasoning: The chain of thought inside ``<think>…</think>`` ('' in fast mode).
        value: The numeric answer in SI units (metres, square metres, a count), or None.
        unit: The SI unit of ``value`` (``"m"``, ``"m^2"``, ...), None for counts and non-numeric answers.
        choice: The option letter (``"A"``…) for multiple-choice answers, else None.
        direction: A normalised direction (``"left"``, ``"front-right"``...) when the answer names one.
        kind: What the question asked for (:class:`QuestionKind`).
        question: The question as asked.
        frame_timestamps_s: Capture time(s) of the frame(s) the answer used, in seconds.
        timings: Per-stage latency of this query.
        raw: The model's full output text.
        backend: Which backend produced it (``"torch"``, ``"onnxruntime"``, ``"tensorrt"``).

    Example:
        >>> answer = m2sdk.query(frame, "How far is the red chair from the camera, in metres?")
        >>> answer.value, answer.unit, answer.timings.total_ms
        (2.4, 'm', 812.5)
    """

    text: str
    reasoning: str = ""
    value: float | None = None
    unit: str | None = None
    choice: str | None = None
    direction: str | None = None
    kind: QuestionKind = QuestionKind.OTHER
    question: str = ""
    frame_timestamps_s: tuple[float, ...] = ()
    timings: Timings = field(default_factory=Timings)
    raw: str = ""
    backend: str = ""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the format of the ROS 2 JSON answer topic and ``m2 query --json``)."""
        out = dataclasses.asdict(self)
        out["kind"] = self.kind.value
        out["frame_timestamps_s"] = list(self.frame_timestamps_s)
        return out
