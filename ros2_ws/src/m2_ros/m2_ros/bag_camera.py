"""A stand-in camera: a rosbag2 of synthetic room views, replayed live with fresh stamps.

Tests, the latency benchmark and operators without a robot at hand use it to feed the node real
``sensor_msgs`` messages over DDS. The bag is written with ``rosbags`` (pure Python, CDR byte-identical
to rclpy) from :func:`m2sdk.data.render_views`; replay restamps each message with the current ROS time
by patching the stamp in the serialized bytes (no per-frame numpy -> message conversion).

Example:
    >>> write_synthetic_bag("/tmp/cam_bag", seed=0, n_frames=30)
    >>> camera = BagCamera(node, "/tmp/cam_bag", topic="/camera/image_raw", fps=15.0)
    >>> camera.start()   # publishes until camera.stop(); camera.published holds (stamp_ns, index)
"""

from __future__ import annotations

import argparse
import struct
import sys
import threading
import time
from pathlib import Path
from typing import Any

IMAGE_TYPE = "sensor_msgs/msg/Image"
COMPRESSED_TYPE = "sensor_msgs/msg/CompressedImage"
CDR_LE = b"\x00\x01"  # encapsulation header of little-endian CDR; the header stamp follows it


def write_synthetic_bag(
    path: str | Path,
    *,
    seed: int = 0,
    n_frames: int = 30,
    fps: float = 15.0,
    width: int = 320,
    height: int = 240,
    topic: str = "/camera/image_raw",
    frame_id: str = "camera_optical_frame",
    compressed: bool = False,
    objects: tuple[int, int] = (6, 12),
    unique_colours: bool = False,
) -> Path:
    """Write an MCAP rosbag2 of a camera walking through one synthetic room (bgr8 or JPEG frames).

    Example:
        >>> write_synthetic_bag("bags/room0", seed=0, n_frames=30, compressed=True)
        PosixPath('bags/room0')
    """
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import Stores, get_typestore

    from m2sdk.data import render_views

    typestore = get_typestore(Stores.ROS2_JAZZY)
    msgtype = COMPRESSED_TYPE if compressed else IMAGE_TYPE
    path = Path(path)
    with Writer(path, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        connection = writer.add_connection(topic, msgtype, typestore=typestore)
        for index, (frame, _meta) in enumerate(render_views(seed, n_frames, width, height, objects, unique_colours)):
            stamp_ns = int(index * 1e9 / fps)
            msg = _image_msg(typestore, frame, stamp_ns, frame_id, compressed)
            writer.write(connection, stamp_ns, typestore.serialize_cdr(msg, msgtype))
    return path


def _image_msg(typestore: Any, frame: Any, stamp_ns: int, frame_id: str, compressed: bool) -> Any:
    import cv2
    import numpy as np

    types = typestore.types
    stamp = types["builtin_interfaces/msg/Time"](sec=stamp_ns // 10**9, nanosec=stamp_ns % 10**9)
    header = types["std_msgs/msg/Header"](stamp=stamp, frame_id=frame_id)
    if compressed:
        jpeg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].reshape(-1)
        return types[COMPRESSED_TYPE](header=header, format="jpeg", data=jpeg)
    height, width = frame.shape[:2]
    return types[IMAGE_TYPE](
        header=header, height=height, width=width, encoding="bgr8", is_bigendian=0, step=width * 3,
        data=np.ascontiguousarray(frame).reshape(-1),
    )  # fmt: skip


def read_bag(path: str | Path) -> tuple[str, list[bytes]]:
    """The image message type and the raw CDR messages of the bag's one image topic, in order."""
    from rosbags.rosbag2 import Reader

    with Reader(Path(path)) as reader:
        connections = [c for c in reader.connections if c.msgtype in (IMAGE_TYPE, COMPRESSED_TYPE)]
        if len(connections) != 1:
            raise ValueError(f"{path}: expected one image topic, found {[c.topic for c in connections]}")
        raw = [bytes(data) for _conn, _ts, data in reader.messages(connections=connections)]
    return connections[0].msgtype, raw


def restamp(raw: bytes, stamp_ns: int) -> bytes:
    """``raw`` (little-endian CDR of a message starting with std_msgs/Header) with a new header stamp."""
    if raw[:2] != CDR_LE:
        raise ValueError("expected little-endian CDR (encapsulation 00 01)")
    out = bytearray(raw)
    struct.pack_into("<iI", out, 4, stamp_ns // 10**9, stamp_ns % 10**9)  # Time{int32 sec, uint32 nanosec}
    return bytes(out)


class BagCamera:
    """Publishes a bag's frames in a loop at ``fps`` from a thread, each stamped with the node's now.

    Args:
        node: The rclpy node to publish from.
        bag: A bag folder written by :func:`write_synthetic_bag` (or any bag with one image topic).
        topic: Where to publish (for compressed frames, the ``.../compressed`` topic).
        fps: Frame rate.
        reliable: Reliable QoS (needed by a node with ``image_qos: reliable``); else best effort.

    Attributes:
        published: ``(stamp_ns, bag_index)`` of every frame sent, oldest first.
    """

    def __init__(self, node: Any, bag: str | Path, topic: str, fps: float = 15.0, reliable: bool = False) -> None:
        from rclpy.qos import QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import CompressedImage, Image

        msgtype, self._raw = read_bag(bag)
        msg_class = CompressedImage if msgtype == COMPRESSED_TYPE else Image
        reliability = ReliabilityPolicy.RELIABLE if reliable else ReliabilityPolicy.BEST_EFFORT
        self._pub = node.create_publisher(msg_class, topic, QoSProfile(depth=1, reliability=reliability))
        self._node, self._period_s = node, 1.0 / fps
        self.published: list[tuple[int, int]] = []
        self._lock = threading.Lock()
        self._running = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="bag_camera", daemon=True)

    def start(self) -> BagCamera:
        self._running.set()
        self._thread.start()
        return self

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def stop(self) -> None:
        self._stop.set()
        self._running.set()
        self._thread.join(2.0)

    def publish(self, msg: Any) -> None:
        """Send one extra message on the camera's topic (tests inject broken or old frames this way)."""
        self._pub.publish(msg)

    def subscriber_count(self) -> int:
        return self._pub.get_subscription_count()

    def stamps_ns(self) -> list[int]:
        with self._lock:
            return [stamp for stamp, _ in self.published]

    def _loop(self) -> None:
        index, next_s = 0, time.monotonic()
        while not self._stop.is_set():
            self._running.wait()
            stamp_ns = self._node.get_clock().now().nanoseconds
            self._pub.publish(restamp(self._raw[index % len(self._raw)], stamp_ns))
            with self._lock:
                self.published.append((stamp_ns, index % len(self._raw)))
            index += 1
            next_s = max(next_s + self._period_s, time.monotonic())
            self._stop.wait(next_s - time.monotonic())


def main(args: list[str] | None = None) -> int:
    """``ros2 run m2_ros m2_bag_camera``: a synthetic camera for trying the node without a robot."""
    import rclpy
    import rclpy.signals

    parser = argparse.ArgumentParser(
        description="Publish a synthetic room walk (or a bag) as a live camera.",
        epilog="Example:\n  ros2 run m2_ros m2_bag_camera --topic /camera/image_raw --fps 15",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--bag", help="bag folder to replay; default: write a synthetic one")
    parser.add_argument("--topic", default="/camera/image_raw")
    parser.add_argument("--fps", type=float, default=15.0)
    parser.add_argument("--seed", type=int, default=0, help="room of the synthetic bag")
    parser.add_argument("--compressed", action="store_true", help="JPEG on <topic>/compressed")
    parser.add_argument("--size", default="320x240", help="frame size WxH of the synthetic bag")
    parser.add_argument(
        "--objects",
        type=int,
        nargs=2,
        default=(6, 12),
        metavar=("MIN", "MAX"),
        help="objects per room of the synthetic bag (m2-mini's rooms: 3 5)",
    )
    parser.add_argument("--unique-colours", action="store_true", help="one colour per object in the room")
    argv = sys.argv if args is None else args
    ns = parser.parse_args(rclpy.utilities.remove_ros_args(argv)[1:])
    rclpy.init(args=argv, signal_handler_options=rclpy.signals.SignalHandlerOptions.NO)  # SIGINT: KeyboardInterrupt
    node = rclpy.create_node("m2_bag_camera")
    bag = ns.bag or _default_bag(ns)
    topic = ns.topic.rstrip("/") + "/compressed" if ns.compressed else ns.topic
    camera = BagCamera(node, bag, topic, fps=ns.fps).start()
    node.get_logger().info(f"publishing {bag} on {topic} at {ns.fps} fps")
    try:
        rclpy.spin(node)
    except KeyboardInterrupt:
        pass
    finally:
        camera.stop()
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


def _default_bag(ns: argparse.Namespace) -> Path:
    import tempfile

    width, height = (int(v) for v in ns.size.lower().split("x"))
    path = Path(tempfile.mkdtemp(prefix="m2_bag_")) / "camera"
    return write_synthetic_bag(path, seed=ns.seed, n_frames=60, fps=ns.fps, compressed=ns.compressed, width=width,
                               height=height, objects=tuple(ns.objects), unique_colours=ns.unique_colours)  # fmt: skip
