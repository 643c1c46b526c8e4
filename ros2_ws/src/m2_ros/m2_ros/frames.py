"""Turn ``sensor_msgs/Image`` and ``sensor_msgs/CompressedImage`` messages into BGR numpy frames.

No cv_bridge (not installable from PyPI, and one more thing to match across distros): raw images are
viewed with ``np.frombuffer`` (~3 µs) and validated strictly, because a camera driver that fills
``step`` or ``data`` wrongly must give a clear error, not a garbled frame fed to the model.

The functions only read message attributes (``height``, ``width``, ``encoding``, ``step``, ``data``,
``format``), so this module does not import ROS.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from m2sdk.errors import InputError

# encoding -> (channels, channel order of the stored bytes). All 8 bits per channel.
RAW_ENCODINGS: dict[str, tuple[int, str]] = {
    "bgr8": (3, "bgr"),
    "rgb8": (3, "rgb"),
    "bgra8": (4, "bgra"),
    "rgba8": (4, "rgba"),
    "mono8": (1, "mono"),
    "8UC1": (1, "mono"),
    "8UC3": (3, "bgr"),  # OpenCV's default order
}


def image_to_bgr(msg: Any) -> np.ndarray:
    """Decode a ``sensor_msgs/Image`` into a contiguous ``(H, W, 3)`` uint8 BGR array.

    Rows are read with the message's ``step`` (drivers pad rows), and the pixels are copied, so the
    result does not keep the message alive.

    Raises:
        InputError: unknown encoding, zero size, ``step`` shorter than a row, or ``data`` shorter than
            ``step * height``.

    Example:
        >>> frame = image_to_bgr(msg)  # msg.encoding == "rgb8", 240x320
        >>> frame.shape, frame.dtype
        ((240, 320, 3), dtype('uint8'))
    """
    encoding = str(msg.encoding)
    if encoding not in RAW_ENCODINGS:
        raise InputError(
            f"sensor_msgs/Image encoding {encoding!r} is not supported; use one of "
            f"{sorted(RAW_ENCODINGS)} or image_transport:=compressed"
        )
    channels, order = RAW_ENCODINGS[encoding]
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    if height <= 0 or width <= 0:
        raise InputError(f"sensor_msgs/Image has size {width}x{height}; width and height must be > 0")
    row_bytes = width * channels
    if step < row_bytes:
        raise InputError(f"sensor_msgs/Image step {step} < width*channels = {row_bytes} ({encoding})")
    data = np.frombuffer(msg.data, dtype=np.uint8)
    if data.size < step * height:
        raise InputError(
            f"sensor_msgs/Image data has {data.size} bytes, needs step*height = {step}*{height} "
            f"= {step * height}; the frame is truncated"
        )
    pixels = data[: step * height].reshape(height, step)[:, :row_bytes]  # (H, W*C), row padding dropped
    return _to_bgr(pixels.reshape(height, width, channels), order)


def _to_bgr(pixels: np.ndarray, order: str) -> np.ndarray:
    """``(H, W, C)`` uint8 in ``order`` -> new contiguous ``(H, W, 3)`` BGR array."""
    if order == "bgr":
        return pixels.copy()
    if order == "rgb":
        return np.ascontiguousarray(pixels[:, :, ::-1])
    if order in ("bgra", "rgba"):
        bgr = pixels[:, :, :3] if order == "bgra" else pixels[:, :, 2::-1]
        return np.ascontiguousarray(bgr)
    return np.ascontiguousarray(np.repeat(pixels, 3, axis=2))  # mono -> grey BGR


def compressed_to_bgr(msg: Any) -> np.ndarray:
    """Decode a ``sensor_msgs/CompressedImage`` (JPEG or PNG) into an ``(H, W, 3)`` uint8 BGR array.

    ``format`` is only checked for being a format OpenCV decodes; the bytes decide (image_transport
    writes strings such as ``"rgb8; jpeg compressed bgr8"``).

    Raises:
        InputError: empty data, a format other than JPEG/PNG, or bytes OpenCV cannot decode.

    Example:
        >>> frame = compressed_to_bgr(msg)  # msg.format == "jpeg"
    """
    import cv2  # opencv-python-headless is an m2sdk dependency; imported here to keep import light

    fmt = str(msg.format).lower()
    if fmt and "jpeg" not in fmt and "jpg" not in fmt and "png" not in fmt:
        raise InputError(f"sensor_msgs/CompressedImage format {msg.format!r} is not supported; use jpeg or png")
    data = np.frombuffer(msg.data, dtype=np.uint8)
    if data.size == 0:
        raise InputError("sensor_msgs/CompressedImage has no data")
    frame = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if frame is None:
        raise InputError(f"sensor_msgs/CompressedImage ({msg.format!r}, {data.size} bytes) could not be decoded")
    return frame


def stamp_to_ns(stamp: Any) -> int:
    """``builtin_interfaces/Time`` -> integer nanoseconds (exact, unlike a float of seconds).

    Example:
        >>> stamp_to_ns(msg.header.stamp)
        1700000000123456789
    """
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)
