"""`m2 demo --ros`: node + bag camera + m2_ask on loopback; the subscriber receives stamped answers."""

from __future__ import annotations

import json

import pytest

from m2sdk.demo.ros import WORKSPACE, describe, run_ros_demo
from m2sdk.demo.runner import DemoConfig

pytestmark = pytest.mark.skipif(
    not (WORKSPACE / "install" / "m2_ros" / "lib" / "m2_ros" / "m2_ask").is_file(),
    reason="ros2_ws not built (bash scripts/ros2_setup.sh)",
)


def test_ros_demo_prints_answers_a_subscriber_receives(tmp_path):
    answers = run_ros_demo(DemoConfig(out=tmp_path, model="m2-tiny"), question="How far is the chair, in metres?")
    assert len(answers) == 3
    for line in answers:
        answer = json.loads(line)
        assert answer["request_id"].startswith("ask-") and answer["stamp"]["sec"] + answer["stamp"]["nanosec"] > 0
        assert answer["question"] == "How far is the chair, in metres?" and not answer["error"]
        assert "image stamp" in describe(answer)
    assert "ready:" in (tmp_path / "ros_node.log").read_text()
