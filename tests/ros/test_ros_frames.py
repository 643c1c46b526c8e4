"""Image decoding on real ``sensor_msgs`` messages: encodings, row padding, truncated and bad frames."""

from __future__ import annotations

import numpy as np
import pytest

from m2sdk.errors import InputError

sensor_msgs = pytest.importorskip("sensor_msgs.msg", reason="ROS 2 not set up: bash scripts/ros2_setup.sh")
cv2 = pytest.importorskip("cv2")

from m2_ros.frames import compressed_to_bgr, image_to_bgr, stamp_to_ns  # noqa: E402

H, W = 5, 7


@pytest.fixture
def bgr() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (H, W, 3), dtype=np.uint8)


def make_image(pixels: np.ndarray, encoding: str, pad: int = 0) -> sensor_msgs.Image:
    """A raw Image with ``pad`` junk bytes after every row, as some drivers send."""
    rows = pixels.reshape(H, -1)
    padded = np.concatenate([rows, np.full((H, pad), 0xAB, np.uint8)], axis=1)
    msg = sensor_msgs.Image(height=H, width=W, encoding=encoding, step=padded.shape[1])
    msg.data = padded.tobytes()
    return msg


@pytest.mark.parametrize("pad", [0, 3])
@pytest.mark.parametrize(
    ("encoding", "to_msg_pixels"),
    [
        ("bgr8", lambda p: p),
        ("rgb8", lambda p: p[:, :, ::-1]),
        ("bgra8", lambda p: np.dstack([p, np.full((H, W), 9, np.uint8)])),
        ("rgba8", lambda p: np.dstack([p[:, :, ::-1], np.full((H, W), 9, np.uint8)])),
    ],
)
def test_colour_encodings_decode_to_the_same_bgr(bgr, encoding, to_msg_pixels, pad):
    out = image_to_bgr(make_image(np.ascontiguousarray(to_msg_pixels(bgr)), encoding, pad))
    assert out.shape == (H, W, 3) and out.dtype == np.uint8 and out.flags.c_contiguous
    np.testing.assert_array_equal(out, bgr)


def test_mono8_becomes_grey_bgr(bgr):
    grey = bgr[:, :, 0].copy()
    out = image_to_bgr(make_image(grey, "mono8", pad=1))
    np.testing.assert_array_equal(out, np.stack([grey] * 3, axis=-1))


def test_truncated_data_is_rejected(bgr):
    msg = make_image(bgr, "bgr8")
    msg.data = bytes(msg.data)[: msg.step * H - 1]
    with pytest.raises(InputError, match=r"needs step\*height = 21\*5 = 105; the frame is truncated"):
        image_to_bgr(msg)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("encoding", "yuv422", "encoding 'yuv422' is not supported"),
        ("encoding", "16UC1", "encoding '16UC1' is not supported"),
        ("step", 20, "step 20 < width\\*channels = 21"),
        ("height", 0, "width and height must be > 0"),
    ],
)
def test_bad_header_fields_are_rejected(bgr, field, value, message):
    msg = make_image(bgr, "bgr8")
    setattr(msg, field, value)
    with pytest.raises(InputError, match=message):
        image_to_bgr(msg)


@pytest.mark.parametrize(("fmt", "ext"), [("png", ".png"), ("rgb8; png compressed bgr8", ".png")])
def test_compressed_png_round_trips_exactly(bgr, fmt, ext):
    ok, buf = cv2.imencode(ext, bgr)
    assert ok
    msg = sensor_msgs.CompressedImage(format=fmt)
    msg.data = buf.tobytes()
    np.testing.assert_array_equal(compressed_to_bgr(msg), bgr)


def test_compressed_jpeg_decodes_close_to_the_original():
    smooth = np.dstack([np.tile(np.linspace(0, 255, 64, dtype=np.uint8), (48, 1))] * 3)  # (48, 64, 3)
    msg = sensor_msgs.CompressedImage(format="jpeg")
    msg.data = cv2.imencode(".jpg", smooth, [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes()
    out = compressed_to_bgr(msg)
    assert out.shape == (48, 64, 3)
    assert np.abs(out.astype(int) - smooth).mean() < 3.0


@pytest.mark.parametrize(
    ("fmt", "data", "message"),
    [
        ("jpeg", b"", "has no data"),
        ("jpeg", b"\xff\xd8 definitely not a jpeg", "could not be decoded"),
        ("tiff", b"II*\x00", "format 'tiff' is not supported"),
    ],
)
def test_bad_compressed_images_are_rejected(fmt, data, message):
    msg = sensor_msgs.CompressedImage(format=fmt)
    msg.data = data
    with pytest.raises(InputError, match=message):
        compressed_to_bgr(msg)


def test_stamp_to_ns_is_exact():
    from builtin_interfaces.msg import Time

    assert stamp_to_ns(Time(sec=1_700_000_000, nanosec=999_999_999)) == 1_700_000_000_999_999_999
