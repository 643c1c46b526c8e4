"""Answer latency of ``m2_spatial_node`` under a live 15 fps camera, against the model's inference time.

The node should answer a question per inference with no backlog: the round trip (question published
-> answer received) should stay within the inference time plus a small constant for the whole run,
and camera frames the node never used should be counted as drops, not queued.

Closed loop: the next question is published as soon as the previous answer arrives, so the worker is
always busy and any backlog or callback starvation would show up as a growing overhead.

Run (after bash scripts/ros2_setup.sh):
    source scripts/ros2_env.sh && python bench/ros_latency.py --minutes 3
Prints numbers; not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

# Network hygiene: set before rclpy is imported anywhere.
os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
os.environ["RMW_IMPLEMENTATION"] = "rmw_fastrtps_cpp"
os.environ.setdefault("ROS_DOMAIN_ID", str(random.randint(1, 100)))

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "ros2_ws" / "src" / "m2_ros")]

QUESTION = "How far is the nearest obstacle in front of me, in metres?"


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=1.0, help="length of the run")
    p.add_argument("--fps", type=float, default=15.0, help="camera frame rate")
    p.add_argument("--width", type=int, default=320)
    p.add_argument("--height", type=int, default=240)
    p.add_argument("--model", default="m2-tiny", help="checkpoint or preset the node loads")
    p.add_argument("--answer-mode", default="fast", choices=("fast", "reasoning"))
    p.add_argument("--max-new-tokens", type=int, default=0, help="0 = the model's default")
    return p.parse_args()


def percentiles(values: list[float]) -> str:
    if not values:
        return "n/a"
    v = sorted(values)
    pick = lambda q: v[min(len(v) - 1, int(q * len(v)))]  # noqa: E731
    return f"p50 {pick(0.5):7.1f}  p95 {pick(0.95):7.1f}  max {v[-1]:7.1f}  (n={len(v)})"


def main() -> int:
    args = parse_args()
    import rclpy

    from m2_ros.bag_camera import BagCamera, write_synthetic_bag
    from tests.ros.harness import Client, NodeProcess, wait_for

    work = Path(tempfile.mkdtemp(prefix="m2_ros_bench_"))
    topic = "/bench_cam/image_raw"
    bag = write_synthetic_bag(work / "bag", n_frames=30, fps=args.fps, width=args.width, height=args.height)
    node = NodeProcess(
        work / "node.log", image_topic=topic, model=args.model, answer_mode=args.answer_mode,
        max_new_tokens=args.max_new_tokens, diagnostics_period_s=0.5,
    )  # fmt: skip
    rclpy.init()
    try:
        node.wait_ready(120)
        client = Client()
        client.wait_connected()
        camera = BagCamera(client.node, bag, topic, fps=args.fps)
        wait_for(lambda: camera.subscriber_count() > 0, 30, "the node's image subscription")
        camera.start()
        time.sleep(1.0)
        rows = run_closed_loop(client, args.minutes * 60.0)
        camera.stop()
        time.sleep(1.0)  # one more diagnostics period
        report(rows, client.diagnostics[-1], len(camera.published), args)
        client.close()
    finally:
        code = node.interrupt()
        rclpy.try_shutdown()
    print(f"node exit code after SIGINT: {code}; node log: {node.log_path}")
    return 0


def run_closed_loop(client, duration_s: float) -> list[dict[str, float]]:
    """Ask, wait for the answer, ask again, for ``duration_s``; one row per answer."""
    rows, end_s, index = [], time.monotonic() + duration_s, 0
    next_report_s = time.monotonic() + 30
    while time.monotonic() < end_s:
        request_id = f"bench-{index}"
        sent_s = time.monotonic()
        client.questions.publish(json_question(request_id))
        _, msg = client.wait_answer(request_id, timeout_s=120)
        stamp_s = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
        rows.append({
            "roundtrip_ms": (client.arrival_s[request_id] - sent_s) * 1e3,
            "node_latency_ms": msg.latency_ms,
            "inference_ms": msg.inference_ms,
            "frame_age_ms": (client.arrival_ros_s[request_id] - stamp_s) * 1e3 if stamp_s else float("nan"),
            "error": bool(msg.error),
        })  # fmt: skip
        index += 1
        if time.monotonic() > next_report_s:
            next_report_s += 30
            recent = rows[-50:]
            print(f"  {len(rows)} answers; last 50: overhead "
                  f"{percentiles([r['roundtrip_ms'] - r['inference_ms'] for r in recent])} ms", flush=True)  # fmt: skip
    return rows


def json_question(request_id: str):
    from std_msgs.msg import String

    return String(data=json.dumps({"id": request_id, "question": QUESTION}))


def report(rows: list[dict], diag: dict[str, str], published: int, args: argparse.Namespace) -> None:
    ok = [r for r in rows if not r["error"]]
    overhead = [r["roundtrip_ms"] - r["inference_ms"] for r in ok]
    half = len(overhead) // 2
    received, dropped = float(diag["frames_received"]), float(diag["frames_dropped"])
    print(f"\nm2_spatial_node, {args.model}, {args.answer_mode} mode, camera {args.width}x{args.height} "
          f"@ {args.fps} fps for {args.minutes} min, closed-loop questions")  # fmt: skip
    print(f"answers: {len(rows)} ({len(rows) - len(ok)} errors)")
    print(f"round trip ms      {percentiles([r['roundtrip_ms'] for r in ok])}")
    print(f"inference ms       {percentiles([r['inference_ms'] for r in ok])}")
    print(f"node latency ms    {percentiles([r['node_latency_ms'] for r in ok])}  (question in -> answer out)")
    print(f"overhead ms        {percentiles(overhead)}  (round trip - inference)")
    print(f"  first half       {percentiles(overhead[:half])}")
    print(f"  second half      {percentiles(overhead[half:])}  (no growth = no backlog)")
    print(f"frame age at answer ms {percentiles([r['frame_age_ms'] for r in ok])}")
    print(f"frames: published {published}, received {received:.0f} (lost in DDS {published - received:.0f}), "
          f"dropped unused {dropped:.0f}, used {received - dropped:.0f}, "
          f"rejected stale {diag['frames_rejected_stale']}, malformed {diag['frames_rejected_malformed']}")  # fmt: skip
    print(f"questions: answered {diag['questions_answered']}, refused {diag['questions_refused']}, "
          f"errors {diag['errors']}; node inference mean {diag['inference_ms_mean']} ms")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
