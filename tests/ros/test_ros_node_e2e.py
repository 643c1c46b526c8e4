"""End to end over real DDS: the installed ``m2_spatial_node`` (m2-tiny) answers a replayed camera bag.

A camera publishes a rosbag2 of synthetic room views (written with ``rosbags``) at 15 fps, 320x240 bgr8,
restamped live. Questions go in by topic, service and action; answers are checked against the stamps
of frames the camera actually published. Each fault case is a test, and the node keeps answering.

Needs: bash scripts/ros2_setup.sh && source scripts/ros2_env.sh (skips otherwise).
"""

from __future__ import annotations

import itertools
import json
import time

import pytest

rclpy = pytest.importorskip("rclpy", reason="ROS 2 not set up: bash scripts/ros2_setup.sh")
pytest.importorskip("m2_interfaces.msg", reason="ros2_ws not built/sourced: scripts/ros2_setup.sh, ros2_env.sh")
pytest.importorskip("rosbags", reason="pip install rosbags (scripts/ros2_setup.sh does)")

import numpy as np  # noqa: E402
import yaml  # noqa: E402
from action_msgs.msg import GoalStatus  # noqa: E402
from m2_interfaces.action import AskSpatial as AskSpatialAction  # noqa: E402
from m2_interfaces.srv import AskSpatial  # noqa: E402
from rcl_interfaces.srv import ListParameters  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402
from std_msgs.msg import String  # noqa: E402

from m2_ros.bag_camera import write_synthetic_bag  # noqa: E402
from tests.ros.harness import (  # noqa: E402
    FRAME_ID,
    NODE_EXE,
    PARAMS_YAML,
    Client,
    NodeProcess,
    cancel_goal,
    goal_result,
    send_goal,
    stamp_ns,
    start_camera,
    wait_for,
)

pytestmark = pytest.mark.ros

CAMERA_TOPIC = "/e2e_cam/image_raw"
MAX_AGE_S = 1.0
FRAME_WAIT_S = 2.0
QUEUE_SIZE = 2
DISTANCE_Q = "How far is the chair from the camera, in metres?"
ROOM_Q = "What is the size of this room, in square metres?"


@pytest.fixture(scope="module")
def ros():
    if not NODE_EXE.exists():
        pytest.skip(f"{NODE_EXE} missing: run bash scripts/ros2_setup.sh")
    rclpy.init()
    yield
    rclpy.try_shutdown()


@pytest.fixture(scope="module")
def bag(tmp_path_factory):
    return write_synthetic_bag(tmp_path_factory.mktemp("bag") / "camera", seed=0, n_frames=20, topic=CAMERA_TOPIC)


@pytest.fixture(scope="module")
def node(ros, tmp_path_factory):
    proc = NodeProcess(
        tmp_path_factory.mktemp("node") / "m2_spatial.log",
        model="m2-tiny",  # wiring tests: the tiny random preset keeps them fast
        image_topic=CAMERA_TOPIC,
        queue_size=QUEUE_SIZE,
        max_frame_age_s=MAX_AGE_S,
        frame_wait_s=FRAME_WAIT_S,
        clip_s=2.0,
        diagnostics_period_s=0.2,
    )
    proc.wait_ready()
    yield proc
    assert proc.interrupt() == 0, proc.log()


@pytest.fixture(scope="module")
def client(node):
    client = Client()
    client.wait_connected()
    yield client
    client.close()


@pytest.fixture(scope="module")
def camera(client, bag):
    camera = start_camera(client, bag, CAMERA_TOPIC)
    yield camera
    camera.stop()


@pytest.fixture
def paused(camera):
    """The camera stopped long enough for its last frame to be older than max_frame_age_s."""
    camera.pause()
    time.sleep(MAX_AGE_S + 0.2)
    yield camera
    camera.resume()


def assert_answer_used_a_published_frame(camera, asked_ns: int, data: dict, msg) -> None:
    """The answer's header is the stamp/frame_id of a frame the camera sent, fresh when asked."""
    used_ns = stamp_ns(msg.header.stamp)
    assert used_ns in camera.stamps_ns(), "answer stamped with a frame the camera never sent"
    assert msg.header.frame_id == FRAME_ID and data["frame_id"] == FRAME_ID
    assert asked_ns - MAX_AGE_S * 1e9 <= used_ns, "answered about a frame older than max_frame_age_s"
    assert data["stamp"] == {"sec": msg.header.stamp.sec, "nanosec": msg.header.stamp.nanosec}
    assert msg.frame_stamps_s[-1] == pytest.approx(used_ns / 1e9, abs=1e-6)
    assert data["frame_timestamps_s"] == pytest.approx(list(msg.frame_stamps_s), abs=1e-6)
    assert msg.error == "" and data["error"] == ""
    assert msg.inference_ms > 0 and msg.latency_ms >= msg.inference_ms


def now_ns(client) -> int:
    return client.node.get_clock().now().nanoseconds


def test_node_declares_exactly_the_parameters_of_params_yaml(client, camera):
    service = client.node.create_client(ListParameters, "/m2_spatial/list_parameters")
    assert service.wait_for_service(10)
    future = service.call_async(ListParameters.Request())
    wait_for(future.done, 10, "list_parameters")
    names = set(future.result().result.names) - {"use_sim_time", "start_type_description_service"}  # rclpy's
    yaml_names = set(yaml.safe_load(PARAMS_YAML.read_text())["m2_spatial"]["ros__parameters"])
    assert names == yaml_names


def test_topic_question_json_and_plain_text(client, camera):
    asked = now_ns(client)
    data, msg = client.ask_topic(DISTANCE_Q, request_id="topic-json-1")
    assert_answer_used_a_published_frame(camera, asked, data, msg)
    assert (msg.request_id, msg.question, msg.kind) == ("topic-json-1", DISTANCE_Q, "distance")
    assert data["text"] == msg.text and data["kind"] == "distance" and data["backend"] == "torch"

    before = set(client.json)
    client.ask_topic("How many chairs are there?")
    new_id = wait_for(lambda: set(client.json) - before, 30, "the plain-text answer").pop()
    data, msg = client.wait_answer(new_id)
    assert new_id.startswith("topic-") and msg.kind == "count" and msg.error == ""


def test_service_question(client, camera):
    asked = now_ns(client)
    msg = client.call_service(DISTANCE_Q, request_id="srv-1")
    data, published = client.wait_answer("srv-1")
    assert published.header == msg.header and published.text == msg.text
    assert_answer_used_a_published_frame(camera, asked, data, msg)

    future = client.service.call_async(AskSpatial.Request(question=DISTANCE_Q, answer_mode="slow"))
    wait_for(future.done, 30, "the answer to a bad answer_mode")
    assert future.result().answer.error == 'answer mode must be "fast" or "reasoning" (or empty), got \'slow\''


def test_action_question_reports_stages_and_succeeds(client, camera):
    stages: list[str] = []
    asked = now_ns(client)
    goal = AskSpatialAction.Goal(question=DISTANCE_Q, request_id="act-1")
    handle = send_goal(client, goal, lambda fb: stages.append(fb.feedback.stage))
    assert handle.accepted
    result = goal_result(handle, client)
    assert result.status == GoalStatus.STATUS_SUCCEEDED
    msg = result.result.answer
    data, _ = client.wait_answer("act-1")
    assert_answer_used_a_published_frame(camera, asked, data, msg)
    assert stages[:2] == ["waiting_for_frame", "vision"]


def test_video_question_uses_the_2fps_clip_history(client, camera):
    wait_for(lambda: len(camera.stamps_ns()) > 30, 10, "2 s of camera frames")
    asked = now_ns(client)
    data, msg = client.ask_topic(ROOM_Q, request_id="clip-1")
    assert_answer_used_a_published_frame(camera, asked, data, msg)
    stamps = list(msg.frame_stamps_s)
    assert msg.kind == "room_size" and 2 <= len(stamps) <= 4  # clip_s=2.0 -> up to 4 frames at 2 fps
    published_s = {s / 1e9 for s in camera.stamps_ns()}
    assert all(min(abs(s - p) for p in published_s) < 1e-6 for s in stamps)
    assert all(b - a >= 0.5 - 1e-6 for a, b in itertools.pairwise(stamps[:-1]))  # history is 2 fps
    assert stamps == sorted(stamps)


def test_model_exception_gives_error_answer_and_node_keeps_answering(client, camera):
    too_long = "How far is the chair from the camera? " * 2000  # ~10k tokens; m2-tiny holds 4096
    data, msg = client.ask_topic(too_long, request_id="long-1")
    assert msg.error.startswith("PromptTooLongError") and data["error"] == msg.error
    assert msg.text == "" and np.isnan(msg.value)
    asked = now_ns(client)
    data, msg = client.ask_topic(DISTANCE_Q, request_id="after-long")
    assert_answer_used_a_published_frame(camera, asked, data, msg)


def test_burst_beyond_the_queue_is_refused_and_every_question_gets_one_answer(client, camera):
    refused_before = client.wait_counter("questions_refused", 0)
    ids = [f"burst-{i}" for i in range(30)]
    for request_id in ids:
        client.questions.publish(String(data=json.dumps({"id": request_id, "question": DISTANCE_Q})))
    answers = [client.wait_answer(request_id)[1] for request_id in ids]
    refused = [m for m in answers if m.error.startswith("refused: queue full")]
    answered = [m for m in answers if m.error == ""]
    assert len(refused) + len(answered) == len(ids)
    assert refused and len(answered) >= QUEUE_SIZE
    assert all(len(client.msgs[request_id]) == 1 for request_id in ids)
    client.wait_counter("questions_refused", refused_before + len(refused))
    asked = now_ns(client)
    data, msg = client.ask_topic(DISTANCE_Q, request_id="after-burst")
    assert_answer_used_a_published_frame(camera, asked, data, msg)


def test_malformed_images_are_rejected_and_counted(client, paused):
    # Broken frames go out on the (paused) camera's own publisher: a new publisher could send before
    # the node's best-effort subscription has discovered it, and the frame would be lost.
    start = client.wait_counter("frames_rejected_malformed", 0)
    truncated = Image(height=240, width=320, encoding="bgr8", step=960)
    truncated.data = bytes(960 * 240 - 1)
    truncated.header.stamp = client.node.get_clock().now().to_msg()
    paused.publish(truncated)
    client.wait_counter("frames_rejected_malformed", start + 1)
    unknown = Image(height=2, width=2, encoding="yuv422", step=4, data=bytes(8))
    unknown.header.stamp = client.node.get_clock().now().to_msg()
    paused.publish(unknown)
    client.wait_counter("frames_rejected_malformed", start + 2)
    paused.resume()
    asked = now_ns(client)
    data, msg = client.ask_topic(DISTANCE_Q, request_id="after-malformed")
    assert_answer_used_a_published_frame(paused, asked, data, msg)


def test_stale_frames_are_rejected_and_a_question_without_a_fresh_frame_errors(client, paused):
    start = client.wait_counter("frames_rejected_stale", 0)
    old = Image(height=240, width=320, encoding="bgr8", step=960, data=bytes(960 * 240))
    old.header.stamp.sec = client.node.get_clock().now().to_msg().sec - 10
    paused.publish(old)
    client.wait_counter("frames_rejected_stale", start + 1)
    msg = client.call_service(DISTANCE_Q, request_id="stale-1")
    assert msg.error.startswith(f"NoFreshFrameError: no frame newer than max_frame_age_s={MAX_AGE_S} s")
    assert "newest frame is" in msg.error and msg.text == "" and msg.header.stamp.sec == 0


def test_action_cancel_while_waiting_for_a_frame(client, paused):
    stages: list[str] = []
    goal = AskSpatialAction.Goal(question=DISTANCE_Q, request_id="cancel-1")
    handle = send_goal(client, goal, lambda fb: stages.append(fb.feedback.stage))
    wait_for(lambda: "waiting_for_frame" in stages, 10, "waiting_for_frame feedback")
    assert len(cancel_goal(handle, client).goals_canceling) == 1
    result = goal_result(handle, client)
    assert result.status == GoalStatus.STATUS_CANCELED
    assert result.result.answer.error == "cancelled"
    assert "vision" not in stages


def test_diagnostics_count_frames_drops_answers_and_latency(client, camera):
    client.ask_topic(DISTANCE_Q, request_id="diag-1")
    answered = client.wait_counter("questions_answered", 1)
    snapshot = dict(client.diagnostics[-1])
    received, dropped = float(snapshot["frames_received"]), float(snapshot["frames_dropped"])
    assert received > 30 and 0 < dropped < received  # 15 fps, few questions: most frames go unused
    assert float(snapshot["inference_ms_mean"]) > 0 and answered >= 1
    assert {"frames_rejected_stale", "frames_rejected_malformed", "errors", "queue_depth"} <= set(snapshot)
