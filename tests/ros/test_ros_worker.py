"""The ROS-free worker: newest-frame slot, bounded queue, faults. Runs without ROS (plain threads)."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from m2_ros.worker import NS_PER_S, Frame, FrameSlot, Request, Result, Stats, Worker, WorkerConfig
from m2sdk.answer import Answer, QuestionKind
from m2sdk.errors import ModelError

DISTANCE_Q = "How far is the chair from the camera, in metres?"
ROOM_Q = "What is the size of this room, in square metres?"


class FakeModel:
    """A fake of m2sdk's Model: records which frames it saw (frames are filled with their index).

    ``gate`` holds every query until set (to fill the queue deterministically); a question containing
    "explode" raises ModelError like a backend crash.
    """

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.gate.set()
        self.started = threading.Event()
        self.seen: list[list[int]] = []
        self.options: list[tuple[bool, int | None]] = []  # (reasoning, max_new_tokens) of each query

    def query(self, frames, prompt, *, reasoning, max_new_tokens, bgr, timestamps_s):
        self.started.set()
        self.gate.wait(10)
        if "explode" in prompt:
            raise ModelError("the fake backend crashed")
        frames = frames if isinstance(frames, list) else [frames]
        self.options.append((reasoning, max_new_tokens))
        self.seen.append([int(f[0, 0, 0]) for f in frames])
        return Answer(text="2.0", value=2.0, unit="m", question=prompt, frame_timestamps_s=tuple(timestamps_s))


def classify(question: str) -> QuestionKind:
    return QuestionKind.ROOM_SIZE if "room" in question else QuestionKind.DISTANCE


class Clock:
    """A settable clock in ns (the node passes the ROS clock)."""

    def __init__(self) -> None:
        self.now_ns = 1_000 * NS_PER_S

    def __call__(self) -> int:
        return self.now_ns

    def advance(self, seconds: float) -> None:
        self.now_ns += int(seconds * NS_PER_S)


def frame(index: int, stamp_ns: int) -> Frame:
    return Frame(np.full((4, 6, 3), index, np.uint8), stamp_ns, "cam")


@pytest.fixture
def rig():
    """A started worker over a FakeModel with a manual clock; stopped after the test."""
    clock, stats, model = Clock(), Stats(), FakeModel()
    slot = FrameSlot(clip_frames=4, stats=stats)
    config = WorkerConfig(max_frame_age_s=1.0, frame_wait_s=0.3, queue_size=2, clip_frames=4)
    worker = Worker(model, slot, stats, config, now_ns=clock, classify=classify)
    worker.start()
    yield worker, model, clock
    model.gate.set()
    worker.stop()


def ask(worker: Worker, question: str = DISTANCE_Q, request_id: str = "q") -> tuple[Request, list[Result]]:
    results: list[Result] = []
    done = threading.Event()
    request = Request(question, request_id, on_done=lambda r: (results.append(r), done.set()))
    assert worker.submit(request)
    assert done.wait(5), f"no answer to {request_id}"
    return request, results


def test_answers_about_newest_frame_and_counts_drops(rig):
    worker, model, clock = rig
    for i in range(5):
        worker.slot.offer(frame(i, clock()), clock(), max_age_s=1.0)
    _, [result] = ask(worker)
    assert result.error == ""
    assert model.seen == [[4]]  # the newest frame, not the oldest queued one
    assert result.frame.stamp_ns == clock() and result.answer.frame_timestamps_s == (clock() / NS_PER_S,)
    snap = worker.stats.snapshot()
    assert (snap["frames_received"], snap["frames_dropped"], snap["questions_answered"]) == (5, 4, 1)


def test_stale_frames_are_rejected_and_a_question_without_fresh_frame_errors(rig):
    worker, model, clock = rig
    assert worker.slot.offer(frame(1, clock() - 2 * NS_PER_S), clock(), max_age_s=1.0) == "stale"
    worker.slot.offer(frame(2, clock()), clock(), max_age_s=1.0)
    clock.advance(1.5)  # the stored frame ages past max_frame_age_s while nothing new arrives
    _, [result] = ask(worker)
    assert "no frame newer than max_frame_age_s=1.0" in result.error and "1.50 s old" in result.error
    assert model.seen == []
    snap = worker.stats.snapshot()
    assert (snap["frames_rejected_stale"], snap["errors"], snap["questions_answered"]) == (1, 1, 0)


def test_video_question_gets_2fps_history_ending_with_newest(rig):
    worker, model, clock = rig
    start = clock()
    for i in range(12):  # 10 fps for 1.1 s: history keeps one frame per 0.5 s
        worker.slot.offer(frame(i, start + i * NS_PER_S // 10), start + i * NS_PER_S // 10, max_age_s=1.0)
    clock.now_ns = start + 11 * NS_PER_S // 10
    _, [result] = ask(worker, ROOM_Q)
    assert model.seen == [[0, 5, 10, 11]]
    assert [round(f.stamp_s - start / NS_PER_S, 1) for f in result.frames] == [0.0, 0.5, 1.0, 1.1]


def test_burst_beyond_queue_is_refused_and_queued_ones_are_answered(rig):
    worker, model, clock = rig
    worker.slot.offer(frame(7, clock()), clock(), max_age_s=1.0)
    model.gate.clear()
    results: list[Result] = []
    accepted = [worker.submit(Request(DISTANCE_Q, "q0", on_done=results.append))]
    assert model.started.wait(5)  # q0 is inside the model; the queue (size 2) is empty again
    accepted += [worker.submit(Request(DISTANCE_Q, f"q{i}", on_done=results.append)) for i in range(1, 6)]
    assert accepted == [True, True, True, False, False, False]
    model.gate.set()
    deadline = time.monotonic() + 5
    while len(results) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sorted(r.request.request_id for r in results) == ["q0", "q1", "q2"]
    snap = worker.stats.snapshot()
    assert (snap["questions_received"], snap["questions_refused"], snap["questions_answered"]) == (6, 3, 3)


def test_model_exception_gives_error_answer_and_worker_keeps_going(rig):
    worker, _, clock = rig
    worker.slot.offer(frame(3, clock()), clock(), max_age_s=1.0)
    _, [bad] = ask(worker, "explode: how far is the chair?", "bad")
    assert bad.error == "ModelError: the fake backend crashed" and bad.answer is None
    assert bad.to_dict()["error"] == bad.error and bad.to_dict()["request_id"] == "bad"
    _, [good] = ask(worker, DISTANCE_Q, "good")
    assert good.error == "" and good.answer.value == 2.0
    snap = worker.stats.snapshot()
    assert (snap["errors"], snap["questions_answered"]) == (1, 1)


def test_cancel_while_waiting_for_frame(rig):
    worker, _, _ = rig
    stages, results = [], []
    request = Request(DISTANCE_Q, "c", on_stage=stages.append, on_done=results.append)
    worker.config.frame_wait_s = 5.0
    assert worker.submit(request)
    deadline = time.monotonic() + 5
    while not stages and time.monotonic() < deadline:
        time.sleep(0.01)
    request.cancelled.set()
    while not results and time.monotonic() < deadline:
        time.sleep(0.01)
    assert stages == ["waiting_for_frame"] and results[0].error == "cancelled"


def test_stop_answers_queued_questions_with_an_error():
    stats, model = Stats(), FakeModel()
    slot = FrameSlot(clip_frames=2, stats=stats)
    worker = Worker(model, slot, stats, WorkerConfig(queue_size=3), now_ns=Clock(), classify=classify)
    results: list[Result] = []
    for i in range(3):  # never started: all three stay queued
        assert worker.submit(Request(DISTANCE_Q, f"q{i}", on_done=results.append))
    worker.stop()
    assert [r.error for r in results] == ["node is shutting down"] * 3
    assert not worker.submit(Request(DISTANCE_Q, "late"))


def test_result_json_carries_image_stamp_and_frame_id():
    request = Request(DISTANCE_Q, "q9")
    stamp_ns = 1_700_000_000 * NS_PER_S + 123_456_789
    result = Result(request, kind=QuestionKind.DISTANCE, frames=(frame(0, stamp_ns),), error="x")
    out = result.to_dict()
    assert out["stamp"] == {"sec": 1_700_000_000, "nanosec": 123_456_789}
    assert (out["frame_id"], out["kind"], out["question"], out["text"]) == ("cam", "distance", DISTANCE_Q, "")


def test_answer_mode_and_token_budget_reach_the_model(rig):
    worker, model, clock = rig
    worker.config.max_new_tokens = 64
    worker.slot.offer(frame(1, clock()), clock(), max_age_s=1.0)
    done = threading.Event()
    assert worker.submit(Request(DISTANCE_Q, "r", reasoning=True, on_done=lambda _: done.set()))
    assert done.wait(5)
    _, [result] = ask(worker, DISTANCE_Q, "f")
    assert model.options == [(True, 64), (False, 64)] and result.error == ""


def test_stats_summarise_inference_latency():
    stats = Stats()
    assert stats.snapshot()["inference_ms_mean"] == 0.0
    for ms in (10.0, 30.0, 20.0):
        stats.record_inference_ms(ms)
    snap = stats.snapshot()
    assert (snap["inference_ms_last"], snap["inference_ms_mean"], snap["inference_ms_max"]) == (20.0, 20.0, 30.0)
    with pytest.raises(KeyError, match="unknown counter 'frames_lost'"):
        stats.count("frames_lost")
