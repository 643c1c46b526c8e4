"""Streaming: latest-frame semantics, clips for video questions, survival of bad frames."""

from __future__ import annotations

import itertools
import time

import cv2
import numpy as np
import pytest

import m2sdk
from m2sdk.errors import SourceError
from m2sdk.runtime.capture import LatestFrameCapture
from m2sdk.runtime.streaming import Stream
from tests.conftest import make_frame


@pytest.fixture(scope="module")
def model():
    return m2sdk.load("m2-tiny", backend="torch")


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    path = tmp_path_factory.mktemp("video") / "room.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (160, 120))
    for i in range(20):
        writer.write(make_frame(120, 160, seed=i))
    writer.release()
    return path


def test_capture_keeps_only_the_newest_frame_and_counts_drops():
    frames = [(np.full((4, 4, 3), i, np.uint8), i * 0.1) for i in range(10)]
    cap = LatestFrameCapture(iter(frames)).start()
    cap._thread.join()
    newest = cap.wait_latest()
    assert newest is not None and newest.index == 9 and cap.dropped == 9
    assert cap.wait_latest() is None  # source finished, nothing left: no backlog
    assert [f.timestamp_s for f in cap.clip(1.0)] == pytest.approx([0.0, 0.5])  # 2 fps history


def test_stream_of_a_video_file_answers_and_accounts_for_every_frame(model, video):
    stream = Stream(model, str(video), "How far is the chair from the camera, in metres?", every_s=0.5,
                    max_new_tokens=4)  # fmt: skip
    answers = list(stream)
    s = stream.stats
    assert 2 <= len(answers) <= 5
    assert s.frames_captured == 20 and s.answers == len(answers)
    assert s.frames_captured == s.answers + s.frames_dropped
    stamps = [a.frame_timestamps_s[-1] for a in answers]
    assert stamps == sorted(stamps) and all(b - a >= 0.5 - 1e-6 for a, b in itertools.pairwise(stamps))


def test_video_question_uses_a_2fps_clip(model, video):
    stream = Stream(model, str(video), "How big is this room, in square meters?", clip_s=1.0, every_s=1.0,
                    max_new_tokens=2)  # fmt: skip
    answers = list(stream)
    assert answers and all(len(a.frame_timestamps_s) <= 3 for a in answers)
    assert any(len(a.frame_timestamps_s) >= 2 for a in answers)


def test_stream_survives_a_bad_frame(model):
    def frames():
        for i in range(6):
            yield (np.zeros((10, 10, 2), np.uint8) if i == 2 else make_frame(seed=i)), i * 1.0
            time.sleep(0.5)  # much slower than inference, so (almost) every frame is taken

    stream = Stream(model, frames(), "How far is the lamp?", max_new_tokens=2)
    answers = list(stream)
    s = stream.stats
    assert s.bad_frames == 1 and len(answers) >= 4
    assert s.answers + s.bad_frames + s.frames_dropped == s.frames_captured == 6


def test_unreachable_sources_raise_source_error(model, tmp_path):
    with pytest.raises(SourceError):
        list(Stream(model, str(tmp_path / "missing.mp4"), "How far?"))
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"garbage" * 100)
    with pytest.raises(SourceError):
        list(Stream(model, str(broken), "How far?"))
    with pytest.raises(SourceError):
        list(Stream(model, 97, "How far?"))  # no camera 97 on any machine we run on
