"""A second node set up like a robot with a JPEG camera: compressed transport, reliable QoS, a
standing question, and a SIGINT while a question waits (it gets an error answer, the node exits 0).

Needs: bash scripts/ros2_setup.sh && source scripts/ros2_env.sh (skips otherwise).
"""

from __future__ import annotations

import time

import pytest

rclpy = pytest.importorskip("rclpy", reason="ROS 2 not set up: bash scripts/ros2_setup.sh")
pytest.importorskip("m2_interfaces.msg", reason="ros2_ws not built/sourced: scripts/ros2_setup.sh, ros2_env.sh")
pytest.importorskip("rosbags", reason="pip install rosbags (scripts/ros2_setup.sh does)")

from m2_interfaces.srv import AskSpatial  # noqa: E402

from m2_ros.bag_camera import write_synthetic_bag  # noqa: E402
from tests.ros.harness import FRAME_ID, NODE_EXE, Client, NodeProcess, stamp_ns, start_camera, wait_for  # noqa: E402

pytestmark = pytest.mark.ros

NAMESPACE = "/robot2"
CAMERA_TOPIC = "/e2e_cam2/image_raw"
STANDING_Q = "How far is the nearest obstacle in front of me, in metres?"


@pytest.fixture
def ros():
    if not NODE_EXE.exists():
        pytest.skip(f"{NODE_EXE} missing: run bash scripts/ros2_setup.sh")
    rclpy.init()
    yield
    rclpy.try_shutdown()


def first_good_standing_answer(client: Client):
    with client._lock:
        ids = sorted((i for i in client.msgs if i.startswith("standing-")), key=lambda i: int(i.split("-")[1]))
        good = [client.msgs[i][0] for i in ids if client.msgs[i][0].error == ""]
    return good[0] if good else None


def test_compressed_reliable_camera_standing_question_and_sigint(ros, tmp_path):
    bag = write_synthetic_bag(tmp_path / "bag", n_frames=10, topic=CAMERA_TOPIC, compressed=True)
    node = NodeProcess(
        tmp_path / "node.log",
        namespace=NAMESPACE,
        model="m2-tiny",  # wiring tests: the tiny random preset keeps them fast
        image_topic=CAMERA_TOPIC,
        image_transport="compressed",
        image_qos="reliable",
        standing_question=STANDING_Q,
        standing_period_s=0.5,
        frame_wait_s=60.0,  # a question without frames waits until the SIGINT below
    )
    try:
        node.wait_ready()
        client = Client(f"{NAMESPACE}/m2_spatial")
        client.wait_connected()
        camera = start_camera(client, bag, f"{CAMERA_TOPIC}/compressed", reliable=True)

        msg = wait_for(lambda: first_good_standing_answer(client), 30, "a standing answer")
        assert (msg.question, msg.kind, msg.header.frame_id) == (STANDING_Q, "distance", FRAME_ID)
        assert stamp_ns(msg.header.stamp) in camera.stamps_ns()

        camera.stop()  # no more frames: once the last one is stale, questions wait for a new one
        time.sleep(1.5)
        pending = client.service.call_async(AskSpatial.Request(question=STANDING_Q, request_id="at-exit"))
        # One question waits for a frame in the worker, the other in the queue.
        client.wait_counter("queue_depth", 1)
        code = node.interrupt()
        wait_for(pending.done, 10, "the service answer sent while shutting down")
        assert pending.result().answer.error == "node is shutting down"
        client.close()
    finally:
        code = node.interrupt()
    assert code == 0, node.log()
    assert "shut down cleanly" in node.log()
