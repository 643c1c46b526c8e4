"""Frame capture on its own thread with latest-frame semantics.

Inference is slower than cameras. The capture thread overwrites a one-frame slot, so inference always
takes the newest frame; frames nobody took are counted as dropped, never queued: no backlog can grow.
A short history sampled at a fixed rate (2 fps, M2's video rate) feeds video questions.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from m2sdk.errors import SourceError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Frame:
    """One captured frame: pixels (as delivered, BGR for OpenCV sources), capture time and index."""

    image: Any
    timestamp_s: float
    index: int


class LatestFrameCapture:
    """Reads a source on a daemon thread; ``latest()`` returns the newest frame not yet taken.

    Args:
        frames: An iterable of (image, timestamp_s) pairs (see :func:`open_source`).
        history_fps: Rate of the clip history kept for video questions.
        history_s: Length of that history, in seconds.

    Example:
        >>> cap = LatestFrameCapture(open_source("room.mp4"))
        >>> cap.start(); frame = cap.wait_latest(timeout_s=1.0)
    """

    def __init__(self, frames: Iterable[tuple[Any, float]], history_fps: float = 2.0, history_s: float = 8.0):
        self._frames = frames
        self._cond = threading.Condition()
        self._slot: Frame | None = None
        self._history: collections.deque[Frame] = collections.deque(maxlen=max(1, int(history_fps * history_s)))
        self._history_period_s = 1.0 / history_fps
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="m2-capture", daemon=True)
        self.captured = 0
        self.dropped = 0
        self.finished = False
        self.error: BaseException | None = None

    def start(self) -> LatestFrameCapture:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2.0)

    def _run(self) -> None:
        try:
            for image, timestamp_s in self._frames:
                if self._stop.is_set():
                    break
                self._put(Frame(image, timestamp_s, self.captured))
        except BaseException as err:  # surfaced to the consumer by wait_latest
            self.error = err
        finally:
            with self._cond:
                self.finished = True
                self._cond.notify_all()

    def _put(self, frame: Frame) -> None:
        with self._cond:
            if self._slot is not None:
                self.dropped += 1  # the previous frame was never taken: drop it, don't queue it
            self._slot = frame
            self.captured += 1
            last = self._history[-1].timestamp_s if self._history else -np.inf
            if frame.timestamp_s - last >= self._history_period_s - 1e-6:
                self._history.append(frame)
            self._cond.notify_all()

    def wait_latest(self, timeout_s: float = 5.0) -> Frame | None:
        """Take the newest untaken frame, waiting for one; None when the source has ended."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while self._slot is None and not self.finished:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise SourceError(f"no frame arrived within {timeout_s:.1f} s; is the camera delivering?")
                self._cond.wait(remaining)
            frame, self._slot = self._slot, None
        if frame is None and self.error is not None:
            raise SourceError(f"the frame source failed: {self.error}") from self.error
        return frame

    def clip(self, clip_s: float) -> list[Frame]:
        """History frames (2 fps) of the last ``clip_s`` seconds, oldest first."""
        with self._cond:
            if not self._history:
                return []
            newest = self._history[-1].timestamp_s
            return [f for f in self._history if newest - f.timestamp_s <= clip_s + 1e-6]


def open_source(source: Any, *, realtime: bool = True) -> Iterator[tuple[Any, float]]:
    """(image, timestamp_s) pairs from a camera index, video file, stream URL or frame iterator.

    Video files are paced at their own frame rate when ``realtime`` (they behave like a camera, so
    latest-frame semantics and drop counts mean the same thing); iterators yield as fast as they come.
    """
    if isinstance(source, (int, str, Path)):
        return _opencv_frames(source, realtime=realtime)
    if isinstance(source, Iterable):
        return _iterator_frames(source)
    raise SourceError(f"cannot stream from {type(source).__name__}; give a camera index, path, URL or iterator")


def _iterator_frames(frames: Iterable[Any]) -> Iterator[tuple[Any, float]]:
    start = time.monotonic()
    for item in frames:
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], (int, float)):
            yield item
        else:
            yield item, time.monotonic() - start


def _opencv_frames(source: int | str | Path, *, realtime: bool) -> Iterator[tuple[Any, float]]:
    import cv2

    is_file = isinstance(source, Path) or (isinstance(source, str) and "://" not in source)
    if is_file and not Path(source).is_file():
        raise SourceError(f"video file not found: {source}")
    cap = cv2.VideoCapture(int(source) if isinstance(source, int) else str(source))
    if not cap.isOpened():
        raise SourceError(f"cannot open {source!r} (camera unplugged, wrong index, unreachable URL?)")
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    return _read_loop(cap, fps, paced=is_file and realtime, live=not is_file)


def _read_loop(cap: Any, fps: float, *, paced: bool, live: bool) -> Iterator[tuple[Any, float]]:
    start = time.monotonic()
    index = 0
    try:
        while True:
            ok, image = cap.read()
            if not ok:
                if index == 0:
                    raise SourceError("the source opened but delivered no frame (corrupt file or dead stream?)")
                return
            timestamp_s = (time.monotonic() - start) if live else index / fps
            if paced:
                delay = start + timestamp_s - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            index += 1
            yield image, timestamp_s
    finally:
        cap.release()
