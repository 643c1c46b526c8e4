"""Fixtures of the ROS 2 tests.

The ROS-free parts of ``m2_ros`` (worker, frames, protocol, params) are imported from the source tree,
so their tests run without a colcon build. Tests that need rclpy skip unless ``scripts/ros2_setup.sh``
ran and ``scripts/ros2_env.sh`` is sourced.

Network hygiene: every DDS participant these tests create stays on this machine. The loopback
environment is set here, at import time, before any test module can import rclpy.
"""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WS = ROOT / "ros2_ws"
SRC = WS / "src" / "m2_ros"

os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
os.environ["RMW_IMPLEMENTATION"] = "rmw_fastrtps_cpp"
# A random domain per pytest run, so parallel runs on one machine never see each other's nodes.
os.environ.setdefault("ROS_DOMAIN_ID", str(random.randint(1, 100)))

if str(SRC) not in sys.path:
    sys.path.insert(0, str(SRC))
