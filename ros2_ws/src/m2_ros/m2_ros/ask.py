"""``m2_ask``: publish a question to the node and print the JSON answers a subscriber receives.

No custom message types needed: questions go out on ``<node>/question`` (std_msgs/String, JSON with an
id) and answers come back on ``<node>/answer`` (std_msgs/String, JSON). The ``ros2`` CLI is not always
installed (it is not on PyPI), so this is the operator's quick way to try a running node.

Example:
    ros2 run m2_ros m2_ask "How far is the chair from the camera, in metres?" --count 3
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any


def main(args: list[str] | None = None) -> int:
    import rclpy
    from std_msgs.msg import String

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("question")
    parser.add_argument("--node", default="/m2_spatial", help="namespace of the node's topics")
    parser.add_argument("--count", type=int, default=1, help="ask this many times, one answer each")
    parser.add_argument("--period-s", type=float, default=1.0, help="seconds between questions")
    parser.add_argument("--timeout-s", type=float, default=60.0, help="give up after this long")
    argv = sys.argv if args is None else args
    ns = parser.parse_args(rclpy.utilities.remove_ros_args(argv)[1:])
    rclpy.init(args=argv)
    node = rclpy.create_node("m2_ask")
    answers: list[dict[str, Any]] = []
    node.create_subscription(String, f"{ns.node}/answer", lambda msg: answers.append(json.loads(msg.data)), 10)
    pub = node.create_publisher(String, f"{ns.node}/question", 10)
    deadline = time.monotonic() + ns.timeout_s
    try:
        _ask_loop(node, pub, ns, answers, deadline)
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0 if len(answers) >= ns.count else 1


def _ask_loop(node: Any, pub: Any, ns: argparse.Namespace, answers: list, deadline: float) -> None:
    import rclpy
    from std_msgs.msg import String

    while pub.get_subscription_count() == 0 and time.monotonic() < deadline:
        rclpy.spin_once(node, timeout_sec=0.1)  # wait for the node to discover us
    asked = 0
    next_ask = time.monotonic()
    while len(answers) < ns.count and time.monotonic() < deadline:
        if asked < ns.count and time.monotonic() >= next_ask and asked == len(answers):
            pub.publish(String(data=json.dumps({"id": f"ask-{asked}", "question": ns.question})))
            asked += 1
            next_ask = time.monotonic() + ns.period_s
        printed = len(answers)
        rclpy.spin_once(node, timeout_sec=0.1)
        for answer in answers[printed:]:
            print(json.dumps(answer), flush=True)
