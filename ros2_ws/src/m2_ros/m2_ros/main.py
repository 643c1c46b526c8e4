"""Entry point of ``ros2 run m2_ros m2_spatial_node``: spin the node until SIGINT, then stop cleanly."""

from __future__ import annotations

import signal
import sys
from typing import Any

import rclpy
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.signals import SignalHandlerOptions

from m2_ros.node import SpatialNode


def main(args: list[str] | None = None) -> int:
    """Run ``m2_spatial`` on a multi-threaded executor (service/action callbacks wait on the worker).

    SIGINT and SIGTERM raise KeyboardInterrupt in the spinning thread while the ROS context is still
    valid, so questions still queued get a "shutting down" error answer before the node goes away
    (rclpy's own handler would shut the context down first, and those answers could not be sent).

    Example:
        $ ros2 run m2_ros m2_spatial_node --ros-args --params-file config/params.yaml -p model:=m2-tiny
    """
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    node, executor = None, MultiThreadedExecutor(num_threads=4)
    try:
        node = SpatialNode()
        executor.add_node(node)
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except ValueError as err:  # a bad parameter (NodeParams names it)
        print(f"m2_spatial_node: {err}", file=sys.stderr)
        return 2
    finally:
        if node is not None:
            node.shutdown()  # queued questions get their error answers while ROS is still up
        executor.shutdown(timeout_sec=2.0)
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0


def _interrupt(_signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
