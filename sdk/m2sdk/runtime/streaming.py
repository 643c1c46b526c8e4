"""Continuous spatial answers over a camera, video file, URL or frame iterator (``Model.stream``)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from m2sdk.answer import Answer
from m2sdk.errors import InputError
from m2sdk.runtime.capture import Frame, LatestFrameCapture, open_source

if TYPE_CHECKING:
    from m2sdk.runtime.model import Model

log = logging.getLogger(__name__)

# M2's video budget: at most 120 frames at 2 fps; a sliding clip rarely needs more than a few seconds.
CLIP_FPS = 2.0


@dataclass
class StreamStats:
    """Counters of a running stream (read them while iterating)."""

    frames_captured: int = 0
    frames_dropped: int = 0
    answers: int = 0
    bad_frames: int = 0
    started_s: float = 0.0

    @property
    def answers_per_s(self) -> float:
        elapsed = time.monotonic() - self.started_s
        return self.answers / elapsed if elapsed > 0 else 0.0


class Stream:
    """Iterator of :class:`Answer` over a live source, with latest-frame semantics.

    Example:
        >>> stream = model.stream("room.mp4", "How far is the sofa, in metres?", every_s=1.0)
        >>> for answer in stream:
        ...     print(answer.value, stream.stats.frames_dropped)
    """

    def __init__(
        self,
        model: Model,
        source: Any,
        prompt: str,
        *,
        every_s: float = 0.0,
        clip_s: float = 4.0,
        realtime: bool = True,
        max_answers: int | None = None,
        frame_timeout_s: float = 10.0,
        **query_kwargs: Any,
    ) -> None:
        from m2sdk.questions import classify_question

        if not isinstance(prompt, str) or not prompt.strip():
            raise InputError("the prompt must be a non-empty string")
        self.model, self.prompt = model, prompt
        self.every_s, self.clip_s, self.max_answers = every_s, clip_s, max_answers
        self.frame_timeout_s = frame_timeout_s
        self.query_kwargs = {"reasoning": False, **query_kwargs}
        self.kind = classify_question(prompt)
        self.stats = StreamStats(started_s=time.monotonic())
        self.last_frame: Frame | None = None
        self._skipped = 0
        self._capture = LatestFrameCapture(open_source(source, realtime=realtime), CLIP_FPS, max(clip_s, 1.0))

    def __iter__(self) -> Iterator[Answer]:
        self._capture.start()
        try:
            yield from self._answers()
        finally:
            self._capture.stop()
            self._sync_stats()

    def _answers(self) -> Iterator[Answer]:
        next_due = 0.0
        while self.max_answers is None or self.stats.answers < self.max_answers:
            frame = self._capture.wait_latest(self.frame_timeout_s)
            self._sync_stats()
            if frame is None:
                return
            if frame.timestamp_s < next_due:
                self._skipped += 1  # taken before the next answer is due: a frame not answered
                continue
            answer = self._answer(frame)
            if answer is not None:
                next_due = frame.timestamp_s + self.every_s
                self.stats.answers += 1
                yield answer

    def _answer(self, frame: Frame) -> Answer | None:
        frames = [frame]
        if self.kind.needs_clip:
            frames = self._capture.clip(self.clip_s) or [frame]
        try:
            answer = self.model.query(
                [f.image for f in frames] if len(frames) > 1 else frame.image,
                self.prompt,
                timestamps_s=[f.timestamp_s for f in frames],
                **self.query_kwargs,
            )
        except InputError as err:  # one bad frame must not end the stream
            self.stats.bad_frames += 1
            log.warning("skipping frame %d: %s", frame.index, err)
            return None
        self.last_frame = frame
        return answer

    def _sync_stats(self) -> None:
        self.stats.frames_captured = self._capture.captured
        self.stats.frames_dropped = self._capture.dropped + self._skipped


def stream(model: Model, source: Any, prompt: str, **kwargs: Any) -> Stream:
    """See :class:`Stream`."""
    return Stream(model, source, prompt, **kwargs)
