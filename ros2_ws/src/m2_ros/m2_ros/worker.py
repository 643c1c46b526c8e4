"""The ROS-free core of the node: newest-frame slot, bounded question queue, one inference thread.

Why this shape: naive ROS VLM nodes run the model inside the image callback behind a depth-10 queue, so
answers describe what the camera saw seconds ago. Here the image callback only overwrites one slot
(counting frames that were replaced unused as dropped), questions wait in a small bounded queue (a
burst beyond it is refused, not buffered), and one worker thread answers them about the newest fresh
frame. Nothing here imports ROS, so it is unit-tested with plain threads.

Example:
    >>> slot, stats = FrameSlot(clip_frames=8), Stats()
    >>> worker = Worker(model, slot, stats, WorkerConfig(), now_ns=time.time_ns)
    >>> worker.start()
    >>> slot.offer(Frame(frame_bgr, time.time_ns(), "camera"), time.time_ns(), max_age_s=1.0)
    'stored'
    >>> worker.submit(Request("How far is the chair?", "q1", on_done=print))
    True
"""

from __future__ import annotations

import collections
import inspect
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from m2sdk.answer import Answer, QuestionKind

NS_PER_S = 1_000_000_000
HISTORY_PERIOD_S = 0.5  # the 2 fps history video questions use
SHUTTING_DOWN = "node is shutting down"


@dataclass(frozen=True)
class Frame:
    """One decoded camera frame: ``image_bgr`` (H, W, 3) uint8, header stamp in ns, and frame_id."""

    image_bgr: np.ndarray
    stamp_ns: int
    frame_id: str

    @property
    def stamp_s(self) -> float:
        return self.stamp_ns / NS_PER_S


class Logger(Protocol):
    """What the worker logs with: rclpy's node logger and ``logging.Logger`` both fit."""

    def info(self, message: str) -> Any: ...
    def warning(self, message: str) -> Any: ...
    def error(self, message: str) -> Any: ...


class Stats:
    """Thread-safe counters published as diagnostics.

    Example:
        >>> stats = Stats(); stats.count("frames_received"); stats.snapshot()["frames_received"]
        1
    """

    COUNTERS = (
        "frames_received",
        "frames_dropped",
        "frames_rejected_stale",
        "frames_rejected_malformed",
        "questions_received",
        "questions_answered",
        "questions_refused",
        "errors",
    )

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(self.COUNTERS, 0)
        # Running aggregates, not a list: a node answering for weeks must not grow.
        self._inference_n, self._inference_sum_ms = 0, 0.0
        self._inference_last_ms, self._inference_max_ms = 0.0, 0.0

    def count(self, name: str, n: int = 1) -> None:
        if name not in self._counts:
            raise KeyError(f"unknown counter {name!r}; known: {self.COUNTERS}")
        with self._lock:
            self._counts[name] += n

    def record_inference_ms(self, ms: float) -> None:
        with self._lock:
            self._inference_n += 1
            self._inference_sum_ms += ms
            self._inference_last_ms = ms
            self._inference_max_ms = max(self._inference_max_ms, ms)

    def snapshot(self) -> dict[str, float]:
        """Counters plus last/mean/max inference latency in ms (0 before the first inference)."""
        with self._lock:
            out: dict[str, float] = dict(self._counts)
            out["inference_ms_last"] = self._inference_last_ms
            out["inference_ms_mean"] = self._inference_sum_ms / max(self._inference_n, 1)
            out["inference_ms_max"] = self._inference_max_ms
        return out


class FrameSlot:
    """The newest frame plus a short 2 fps history for video questions. ``offer`` never blocks long.

    Args:
        clip_frames: History frames kept (``clip_s * 2``).
        stats: Where received/dropped/stale counts go.
    """

    def __init__(self, clip_frames: int, stats: Stats) -> None:
        self._cond = threading.Condition()
        self._newest: Frame | None = None
        self._newest_used = True
        self._history: collections.deque[Frame] = collections.deque(maxlen=max(1, clip_frames))
        self._stats = stats

    def offer(self, frame: Frame, now_ns: int, max_age_s: float) -> str:
        """Store ``frame`` unless it is already older than ``max_age_s``; returns "stored" or "stale"."""
        self._stats.count("frames_received")
        if now_ns - frame.stamp_ns > max_age_s * NS_PER_S:
            self._stats.count("frames_rejected_stale")
            return "stale"
        with self._cond:
            if not self._newest_used:
                self._stats.count("frames_dropped")  # replaced before any question used it
            self._newest, self._newest_used = frame, False
            last = self._history[-1] if self._history else None
            if last is None or frame.stamp_ns - last.stamp_ns >= HISTORY_PERIOD_S * NS_PER_S:
                self._history.append(frame)
            self._cond.notify_all()
        return "stored"

    def take_fresh(
        self, now_ns: Callable[[], int], max_age_s: float, timeout_s: float, stop: Callable[[], bool]
    ) -> Frame | None:
        """The newest frame no older than ``max_age_s``, waiting up to ``timeout_s`` for one.

        Returns None on timeout or when ``stop()`` turns true (shutdown, cancelled goal).
        """
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while True:
                frame = self._newest
                if frame is not None and now_ns() - frame.stamp_ns <= max_age_s * NS_PER_S:
                    self._newest_used = True
                    return frame
                left_s = deadline - time.monotonic()
                if left_s <= 0 or stop():
                    return None
                self._cond.wait(min(left_s, 0.05))

    def clip(self, newest: Frame, n_frames: int) -> list[Frame]:
        """Up to ``n_frames`` frames ending with ``newest``: 2 fps history before it, oldest first."""
        with self._cond:
            before = [f for f in self._history if f.stamp_ns < newest.stamp_ns]
        return [*before[-(n_frames - 1) :], newest] if n_frames > 1 else [newest]

    def newest_age_s(self, now_ns: int) -> float | None:
        """Age of the newest stored frame, or None when no frame has arrived yet."""
        with self._cond:
            frame = self._newest
        return None if frame is None else (now_ns - frame.stamp_ns) / NS_PER_S


@dataclass
class Request:
    """One question to answer. ``on_stage``/``on_done`` are called from the worker thread."""

    question: str
    request_id: str
    reasoning: bool = False
    source: str = "topic"
    on_stage: Callable[[str], None] | None = None
    on_done: Callable[[Result], None] | None = None
    received_s: float = field(default_factory=time.monotonic)
    cancelled: threading.Event = field(default_factory=threading.Event)


@dataclass
class Result:
    """The outcome of one request: an answer, or an error saying why there is none."""

    request: Request
    kind: QuestionKind = QuestionKind.OTHER
    answer: Answer | None = None
    frames: tuple[Frame, ...] = ()
    error: str = ""
    latency_ms: float = 0.0
    inference_ms: float = 0.0

    @property
    def frame(self) -> Frame | None:
        """The newest frame the answer used (its stamp goes into the answer's header)."""
        return self.frames[-1] if self.frames else None

    def to_dict(self) -> dict[str, Any]:
        """The JSON answer: ``Answer.to_dict()`` plus request id, image stamp/frame_id, latency, error."""
        answer = self.answer or Answer(text="", question=self.request.question, kind=self.kind)
        out = answer.to_dict()
        frame = self.frame
        stamp = divmod(frame.stamp_ns, NS_PER_S) if frame else None
        out.update(
            request_id=self.request.request_id,
            stamp={"sec": stamp[0], "nanosec": stamp[1]} if stamp else None,
            frame_id=frame.frame_id if frame else "",
            latency_ms=round(self.latency_ms, 3),
            inference_ms=round(self.inference_ms, 3),
            error=self.error,
        )
        return out


@dataclass
class WorkerConfig:
    """How the worker serves questions (a subset of the node's parameters)."""

    max_frame_age_s: float = 1.0
    frame_wait_s: float = 2.0
    queue_size: int = 4
    clip_frames: int = 8
    max_new_tokens: int | None = None

    def __post_init__(self) -> None:
        if self.queue_size < 1:
            raise ValueError(f"queue_size must be >= 1, got {self.queue_size}")
        if self.max_frame_age_s <= 0 or self.frame_wait_s <= 0:
            raise ValueError("max_frame_age_s and frame_wait_s must be > 0")


class Worker:
    """Answers queued questions one at a time on its own thread, about the newest fresh frame.

    Args:
        model: Anything with m2sdk's ``Model.query(frames, prompt, *, reasoning, max_new_tokens, bgr,
            timestamps_s) -> Answer``.
        slot: Where the image callback leaves frames.
        stats: Counters for diagnostics.
        config: Queue size, frame age limits, clip length.
        now_ns: The clock frame stamps are compared with (the node's ROS clock, so sim time works).
        keep_running: Checked every loop; the node passes ``lambda: node.context.ok()``.
        classify: Question -> :class:`QuestionKind` (default ``m2sdk.classify_question``).
        logger: rclpy's node logger or a ``logging.Logger``.
    """

    def __init__(
        self,
        model: Any,
        slot: FrameSlot,
        stats: Stats,
        config: WorkerConfig,
        *,
        now_ns: Callable[[], int],
        keep_running: Callable[[], bool] = lambda: True,
        classify: Callable[[str], QuestionKind] | None = None,
        logger: Logger | None = None,
    ) -> None:
        self.model, self.slot, self.stats, self.config = model, slot, stats, config
        self._now_ns, self._keep_running = now_ns, keep_running
        self._classify = classify or _sdk_classify
        self._log = logger or _default_logger()
        self._queue: queue.Queue[Request] = queue.Queue(maxsize=config.queue_size)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="m2_worker", daemon=True)
        # Feedback beyond "vision" needs the model to report its stages; use it when query() offers it.
        self._model_reports_stages = "on_stage" in inspect.signature(model.query).parameters

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop after the current question; queued ones get a "shutting down" error answer."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)
        self._drain(SHUTTING_DOWN)

    def submit(self, request: Request) -> bool:
        """Queue ``request``; False (counted as refused) when the queue is full or the worker stopped."""
        self.stats.count("questions_received")
        if self._stop.is_set():
            self.stats.count("questions_refused")
            return False
        try:
            self._queue.put_nowait(request)
        except queue.Full:
            self.stats.count("questions_refused")
            return False
        return True

    def pending(self) -> int:
        return self._queue.qsize()

    def _running(self) -> bool:
        return self._keep_running() and not self._stop.is_set()

    def _loop(self) -> None:
        while self._running():
            try:
                request = self._queue.get(timeout=0.1)
            except queue.Empty:
                continue
            self._deliver(self.serve(request))

    def serve(self, request: Request) -> Result:
        """Answer one request now, on the calling thread (the worker loop calls this)."""
        result = Result(request)
        try:
            result.kind = self._classify(request.question)
            self._stage(request, "waiting_for_frame")
            frames = self._frames_for(request, result.kind)
            if frames:
                result.frames = tuple(frames)
                self._query(request, result)
        except _Cancelled:
            result.error = "cancelled"
        except ShuttingDownError:
            result.error = SHUTTING_DOWN
        except Exception as err:  # a model error must not kill the worker: it becomes an error answer
            result.error = f"{type(err).__name__}: {err}"
            self._log.error(f"question {request.request_id!r} failed: {result.error}")
        if request.cancelled.is_set() and not result.error:
            result.error = "cancelled"
        result.latency_ms = (time.monotonic() - request.received_s) * 1000.0
        self.stats.count("errors" if result.error else "questions_answered")
        return result

    def _frames_for(self, request: Request, kind: QuestionKind) -> list[Frame]:
        """The newest fresh frame (plus 2 fps history for video questions), or [] with no fresh frame."""
        cfg = self.config
        stop = lambda: request.cancelled.is_set() or not self._running()  # noqa: E731
        newest = self.slot.take_fresh(self._now_ns, cfg.max_frame_age_s, cfg.frame_wait_s, stop)
        if newest is None:
            if request.cancelled.is_set():
                raise _Cancelled("cancelled while waiting for a frame")
            if not self._running():
                raise ShuttingDownError(SHUTTING_DOWN)
            age_s = self.slot.newest_age_s(self._now_ns())
            seen = "no frame received yet" if age_s is None else f"newest frame is {age_s:.2f} s old"
            raise NoFreshFrameError(
                f"no frame newer than max_frame_age_s={cfg.max_frame_age_s} s within "
                f"frame_wait_s={cfg.frame_wait_s} s ({seen}); is the camera publishing on image_topic?"
            )
        return self.slot.clip(newest, cfg.clip_frames) if kind.needs_clip else [newest]

    def _query(self, request: Request, result: Result) -> None:
        self._stage(request, "vision")
        images = [f.image_bgr for f in result.frames]
        extra = {}
        if self._model_reports_stages and request.on_stage is not None:
            extra["on_stage"] = request.on_stage  # the model says when vision ends and reasoning starts
        start_s = time.monotonic()
        answer = self.model.query(
            images if len(images) > 1 else images[0],
            request.question,
            reasoning=request.reasoning,
            max_new_tokens=self.config.max_new_tokens,
            bgr=True,
            timestamps_s=[f.stamp_s for f in result.frames],
            **extra,
        )
        result.inference_ms = (time.monotonic() - start_s) * 1000.0
        self.stats.record_inference_ms(result.inference_ms)
        result.answer = answer
        result.kind = answer.kind

    def _stage(self, request: Request, stage: str) -> None:
        if request.on_stage is not None:
            request.on_stage(stage)

    def _deliver(self, result: Result) -> None:
        callback = result.request.on_done
        if callback is None:
            return
        try:
            callback(result)
        except Exception as err:  # a broken publisher must not stop the worker
            self._log.error(f"delivering answer {result.request.request_id!r} failed: {err!r}")

    def _drain(self, reason: str) -> None:
        while True:
            try:
                request = self._queue.get_nowait()
            except queue.Empty:
                return
            self.stats.count("errors")
            self._deliver(Result(request, error=reason))


class NoFreshFrameError(RuntimeError):
    """No camera frame young enough to answer about arrived in time."""


class ShuttingDownError(RuntimeError):
    """The node stopped before the question could be answered."""


class _Cancelled(RuntimeError):
    """The request was cancelled (action cancel) before the model ran."""


def _sdk_classify(question: str) -> QuestionKind:
    import m2sdk

    return m2sdk.classify_question(question)


def _default_logger() -> Logger:
    import logging

    return logging.getLogger("m2_ros.worker")


def refused_result(request: Request, queue_size: int) -> Result:
    """The error answer given to a question refused because the queue is full."""
    return Result(request, error=f"refused: {queue_size} questions already waiting (queue_size)")
