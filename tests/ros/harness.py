"""Drives a real ``m2_spatial_node`` process over real DDS: camera, questions, answers, diagnostics.

Import only after ``pytest.importorskip("rclpy")``; conftest.py has set the loopback environment.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from m2_interfaces.action import AskSpatial as AskSpatialAction
from m2_interfaces.msg import SpatialAnswer
from m2_interfaces.srv import AskSpatial
from rclpy.action import ActionClient
from rclpy.executors import SingleThreadedExecutor
from std_msgs.msg import String

from m2_ros.bag_camera import BagCamera
from tests.ros.conftest import SRC, WS

NODE_EXE = WS / "install" / "m2_ros" / "lib" / "m2_ros" / "m2_spatial_node"
PARAMS_YAML = SRC / "config" / "params.yaml"
FRAME_ID = "camera_optical_frame"
DEPTH = 200


def wait_for(predicate: Callable[[], Any], timeout_s: float, what: str) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def stamp_ns(stamp: Any) -> int:
    return stamp.sec * 1_000_000_000 + stamp.nanosec


class NodeProcess:
    """``m2_spatial_node`` as a child process with the shipped params.yaml plus ``-p`` overrides."""

    def __init__(self, log_path: Path, namespace: str = "", **params: Any) -> None:
        args = [str(NODE_EXE), "--ros-args", "--params-file", str(PARAMS_YAML)]
        for name, value in params.items():
            args += ["-p", f"{name}:={value!r}" if isinstance(value, str) else f"{name}:={value}"]
        if namespace:
            args += ["-r", f"__ns:={namespace}"]
        self.log_path = log_path
        self._log = log_path.open("w")
        self.proc = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT, env=os.environ.copy())

    def log(self) -> str:
        return self.log_path.read_text()

    def wait_ready(self, timeout_s: float = 60.0) -> None:
        def ready() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"node exited with {self.proc.returncode}:\n{self.log()}")
            return "ready:" in self.log()

        wait_for(ready, timeout_s, f"the node to start (log: {self.log_path})")

    def interrupt(self, timeout_s: float = 20.0) -> int:
        """SIGINT, as ros2 launch or Ctrl-C sends it; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode


class Client:
    """A test-side node: publishes questions, collects both answer forms and diagnostics."""

    def __init__(self, node_ns: str = "/m2_spatial") -> None:
        self.node = rclpy.create_node(f"m2_test_client_{os.getpid()}_{node_ns.strip('/').replace('/', '_')}")
        self.ns = node_ns
        self._lock = threading.Lock()
        self.json: dict[str, list[dict]] = defaultdict(list)
        self.msgs: dict[str, list[SpatialAnswer]] = defaultdict(list)
        self.diagnostics: list[dict[str, str]] = []
        self.arrival_s: dict[str, float] = {}  # monotonic time the first SpatialAnswer of an id arrived
        self.arrival_ros_s: dict[str, float] = {}  # the same in ROS time (to compare with image stamps)
        n = self.node
        n.create_subscription(String, f"{node_ns}/answer", self._on_json, DEPTH)
        n.create_subscription(SpatialAnswer, f"{node_ns}/spatial_answer", self._on_msg, DEPTH)
        n.create_subscription(DiagnosticArray, "/diagnostics", self._on_diag, 10)
        self.questions = n.create_publisher(String, f"{node_ns}/question", DEPTH)
        self.service = n.create_client(AskSpatial, f"{node_ns}/ask")
        self.action = ActionClient(n, AskSpatialAction, f"{node_ns}/ask")
        # One spin thread, and every ActionClient call made on it: in rclpy 7.1.6 a goal response taken
        # by a concurrent spin before send_goal_async registers it is dropped (ros2/rclpy#1123).
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(n)
        self._spin = threading.Thread(target=self.executor.spin, daemon=True)
        self._spin.start()

    def wait_connected(self, timeout_s: float = 30.0) -> None:
        """Until every topic, the service and the action are matched both ways."""
        wait_for(lambda: self.questions.get_subscription_count() > 0, timeout_s, "question subscriber")
        for topic in ("answer", "spatial_answer"):
            wait_for(lambda t=topic: self.node.count_publishers(f"{self.ns}/{t}") > 0, timeout_s, topic)
        assert self.service.wait_for_service(timeout_s), "service not available"
        assert self.action.wait_for_server(timeout_s), "action server not available"
        feedback = f"{self.ns}/ask/_action/feedback"
        wait_for(lambda: self.node.count_publishers(feedback) > 0, timeout_s, "action feedback")

    def close(self) -> None:
        self.executor.shutdown(timeout_sec=2.0)
        self.node.destroy_node()

    def _on_json(self, msg: String) -> None:
        data = json.loads(msg.data)
        with self._lock:
            self.json[data["request_id"]].append(data)

    def _on_msg(self, msg: SpatialAnswer) -> None:
        arrival_s, arrival_ros_s = time.monotonic(), self.node.get_clock().now().nanoseconds / 1e9
        with self._lock:
            self.msgs[msg.request_id].append(msg)
            self.arrival_s.setdefault(msg.request_id, arrival_s)
            self.arrival_ros_s.setdefault(msg.request_id, arrival_ros_s)

    def _on_diag(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            if status.name.startswith(f"{self.ns}:"):
                with self._lock:
                    self.diagnostics.append({kv.key: kv.value for kv in status.values})

    def ask_topic(self, question: str, request_id: str | None = None, timeout_s: float = 30.0):
        """Publish a question (JSON when ``request_id`` is given); returns (json_answer, SpatialAnswer)."""
        text = question if request_id is None else json.dumps({"id": request_id, "question": question})
        self.questions.publish(String(data=text))
        if request_id is None:
            return None
        return self.wait_answer(request_id, timeout_s)

    def wait_answer(self, request_id: str, timeout_s: float = 30.0) -> tuple[dict, SpatialAnswer]:
        def both():
            with self._lock:
                if self.json.get(request_id) and self.msgs.get(request_id):
                    return self.json[request_id][0], self.msgs[request_id][0]
            return None

        return wait_for(both, timeout_s, f"the answer to {request_id!r}")

    def counter(self, name: str) -> float:
        with self._lock:
            return float(self.diagnostics[-1][name]) if self.diagnostics else -1.0

    def wait_counter(self, name: str, at_least: float, timeout_s: float = 15.0) -> float:
        wait_for(lambda: self.counter(name) >= at_least, timeout_s, f"diagnostics {name} >= {at_least}")
        return self.counter(name)

    def call_service(self, question: str, request_id: str = "", timeout_s: float = 30.0) -> SpatialAnswer:
        future = self.service.call_async(AskSpatial.Request(question=question, request_id=request_id))
        wait_for(future.done, timeout_s, f"service answer to {request_id!r}")
        return future.result().answer


def on_spin_thread(client: Client, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run ``fn`` on the client's spin thread and return what it returned."""
    task = client.executor.create_task(fn, *args, **kwargs)
    wait_for(task.done, 10, f"{getattr(fn, '__name__', fn)} on the spin thread")
    return task.result()


def send_goal(client: Client, goal: Any, feedback: Callable[[Any], None]) -> Any:
    """Send an action goal; returns the accepted (or rejected) ClientGoalHandle."""
    future = on_spin_thread(client, client.action.send_goal_async, goal, feedback_callback=feedback)
    return wait_for(lambda: future.done() and future.result(), 30, "goal acceptance")


def goal_result(handle: Any, client: Client, timeout_s: float = 30.0) -> Any:
    """Wait for a goal's result; returns the GetResult response (``status``, ``result``)."""
    future = on_spin_thread(client, handle.get_result_async)
    wait_for(future.done, timeout_s, "the action result")
    return future.result()


def cancel_goal(handle: Any, client: Client) -> Any:
    future = on_spin_thread(client, handle.cancel_goal_async)
    wait_for(future.done, 10, "the cancel response")
    return future.result()


def start_camera(client: Client, bag: Path, topic: str, reliable: bool = False) -> BagCamera:
    """A 15 fps camera replaying ``bag``; returns once the node's image subscription matched it."""
    camera = BagCamera(client.node, bag, topic, fps=15.0, reliable=reliable)
    wait_for(lambda: camera.subscriber_count() > 0, 30.0, f"a subscriber on {topic}")
    return camera.start()
