"""``m2 demo --ros``: the ROS 2 node on loopback, a camera bag replayed into it, answers as a robot sees them.

Three processes, each started through ``scripts/ros2_env.sh`` so DDS stays on loopback
(``ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST``) on a random domain: ``m2_spatial_node``, ``m2_bag_camera``
(a synthetic room walk written as a rosbag2) and ``m2_ask`` (publishes questions, prints the JSON answers).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import time
from pathlib import Path
from typing import Any

from m2sdk.errors import M2Error

REPO = Path(__file__).resolve().parents[3]
WORKSPACE = REPO / "ros2_ws"
ENV_SCRIPT = REPO / "scripts" / "ros2_env.sh"
EXECUTABLES = WORKSPACE / "install" / "m2_ros" / "lib" / "m2_ros"  # where `ros2 run m2_ros X` looks


def _ros_command(command: str) -> list[str]:
    """``command`` (an m2_ros executable and its arguments) run with the workspace sourced."""
    return ["bash", "-c", f"source '{ENV_SCRIPT}' >/dev/null && exec '{EXECUTABLES}'/{command}"]


def _loopback_env() -> dict[str, str]:
    env = dict(os.environ)
    env["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    env["ROS_DOMAIN_ID"] = str(random.randint(1, 100))
    env["RMW_IMPLEMENTATION"] = "rmw_fastrtps_cpp"
    return env


def _wait_ready(proc: subprocess.Popen, log: Path, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise M2Error(f"m2_spatial_node exited with {proc.returncode}; log: {log}\n{log.read_text()[-2000:]}")
        if "ready:" in log.read_text():
            return
        time.sleep(0.2)
    raise M2Error(f"m2_spatial_node did not get ready in {timeout_s:.0f} s; log: {log}")


def run_ros_demo(config: Any, question: str = "How far is the chair from the camera, in metres?") -> list[str]:
    """Start node + camera, ask ``question`` three times, print and return the JSON answers received."""
    from rich.console import Console

    console = Console()
    if not (WORKSPACE / "install" / "setup.bash").is_file():
        raise M2Error(f"the ROS 2 workspace is not built ({WORKSPACE}/install); run: bash scripts/ros2_setup.sh")
    env, log = _loopback_env(), config.out / "ros_node.log"
    params = WORKSPACE / "src" / "m2_ros" / "config" / "params.yaml"
    node_cmd = f"m2_spatial_node --ros-args --params-file '{params}' -p model:='{config.model}'"
    console.print(f"  DDS on loopback only, ROS_DOMAIN_ID={env['ROS_DOMAIN_ID']}; node log: {log}")
    with log.open("w") as log_file:
        node = subprocess.Popen(_ros_command(node_cmd), env=env, stdout=log_file, stderr=subprocess.STDOUT)
        low, high = config.objects
        room = f"--seed {config.seed} --size {config.width}x{config.height} --objects {low} {high}"
        room += " --unique-colours" if config.unique_colours else ""
        camera = subprocess.Popen(_ros_command(f"m2_bag_camera --fps 10 {room}"), env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        try:
            _wait_ready(node, log)
            ask = subprocess.run(_ros_command(f"m2_ask '{question}' --count 3 --timeout-s 90"), env=env,
                                 capture_output=True, text=True, timeout=120)  # fmt: skip
        finally:
            for proc in (camera, node):
                proc.send_signal(2)  # SIGINT, as Ctrl-C or ros2 launch would
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
    answers = [line for line in ask.stdout.splitlines() if line.startswith("{")]
    for line in answers:
        console.print(f"  subscriber got: {describe(json.loads(line))}")
    if not answers:
        raise M2Error(f"no answer reached the subscriber; m2_ask said: {ask.stderr[-1000:]}")
    return answers


def describe(answer: dict[str, Any]) -> str:
    """One line of a JSON answer as a robot receives it: id, value, image stamp, latency, error."""
    value = f"{answer['value']:g} {answer.get('unit') or ''}".strip() if answer.get("value") is not None else "-"
    stamp = answer.get("stamp") or {}
    image = f"{stamp.get('sec', 0)}.{stamp.get('nanosec', 0):09d}" if stamp else "none"
    error = f"  error: {answer['error']}" if answer.get("error") else ""
    return (f"[{answer.get('request_id')}] text {answer.get('text', '')[:24]!r} value {value}  image stamp {image} "
            f"({answer.get('frame_id')})  latency {answer.get('latency_ms', 0):.0f} ms{error}")  # fmt: skip
