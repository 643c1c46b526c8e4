"""m2sdk.processing.to_rgb: every input kind becomes (H, W, 3) uint8 RGB, every bad input an InputError."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from m2sdk.errors import InputError
from m2sdk.processing import to_rgb

B, G, R = 10, 120, 230  # distinct channel values, so a swap is visible


def bgr_frame(height: int = 6, width: int = 8) -> np.ndarray:
    frame = np.empty((height, width, 3), np.uint8)
    frame[...] = (B, G, R)
    return frame


def assert_rgb(image: np.ndarray, shape: tuple[int, int], rgb: tuple[int, int, int]) -> None:
    assert image.dtype == np.uint8 and image.shape == (*shape, 3) and image.flags.c_contiguous
    np.testing.assert_array_equal(image[0, 0], rgb)


def test_numpy_is_bgr_by_default() -> None:
    assert_rgb(to_rgb(bgr_frame()), (6, 8), (R, G, B))


def test_bgr_false_keeps_the_channel_order() -> None:
    frame = bgr_frame()
    out = to_rgb(frame, bgr=False)
    assert_rgb(out, (6, 8), (B, G, R))
    assert out is frame  # already RGB uint8 contiguous: no copy


def test_non_contiguous_view_is_made_contiguous() -> None:
    out = to_rgb(bgr_frame(6, 16)[:, ::2], bgr=False)
    assert_rgb(out, (6, 8), (B, G, R))


@pytest.mark.parametrize("shape", [(5, 7), (5, 7, 1)])
def test_grayscale_is_copied_to_three_channels(shape) -> None:
    gray = np.full(shape, 77, np.uint8)
    assert_rgb(to_rgb(gray), (5, 7), (77, 77, 77))


def test_four_channels_drop_alpha() -> None:
    bgra = np.empty((4, 4, 4), np.uint8)
    bgra[...] = (B, G, R, 0)  # alpha is dropped, not composited
    assert_rgb(to_rgb(bgra), (4, 4), (R, G, B))
    assert_rgb(to_rgb(bgra, bgr=False), (4, 4), (B, G, R))


def test_float_in_unit_range_is_scaled() -> None:
    frame = np.zeros((3, 3, 3), np.float32)
    frame[..., 0], frame[..., 2] = 1.0, 0.5
    out = to_rgb(frame, bgr=False)
    assert_rgb(out, (3, 3), (255, 0, 128))


def test_wider_integers_in_range_are_accepted() -> None:
    assert_rgb(to_rgb(np.full((2, 2, 3), 200, np.int64)), (2, 2), (200, 200, 200))
    assert_rgb(to_rgb(np.full((2, 2), 9, np.uint16)), (2, 2), (9, 9, 9))


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (None, "None"),
        (np.zeros((0, 4, 3), np.uint8), "empty"),
        (np.zeros((4, 4, 0), np.uint8), "empty"),
        (np.zeros((4,), np.uint8), "shape"),
        (np.zeros((2, 4, 4, 3), np.uint8), "shape"),
        (np.zeros((4, 4, 2), np.uint8), "shape"),
        (np.zeros((4, 4, 5), np.uint8), "shape"),
        (np.zeros((4, 4, 3), np.complex64), "dtype"),
        (np.zeros((4, 4, 3), bool), "dtype"),
        (np.zeros((4, 4, 3), object), "dtype"),
        (np.full((4, 4, 3), 300, np.int64), r"outside 0\.\.255"),
        (np.full((4, 4, 3), -1, np.int16), r"outside 0\.\.255"),
        (np.full((4, 4), 4000, np.uint16), "16-bit"),
        (np.full((4, 4, 3), 128.0, np.float32), r"\[0, 1\]"),
        (np.full((4, 4, 3), np.nan, np.float64), r"\[0, 1\]"),
        ([[1, 2], [3, 4]], "unsupported frame type list"),
    ],
)
def test_bad_inputs_raise_input_error(frame, message: str) -> None:
    with pytest.raises(InputError, match=message):
        to_rgb(frame)


def test_pil_images_are_rgb_already() -> None:
    rgb = np.empty((6, 8, 3), np.uint8)
    rgb[...] = (R, G, B)
    assert_rgb(to_rgb(Image.fromarray(rgb)), (6, 8), (R, G, B))
    assert_rgb(to_rgb(Image.fromarray(rgb), bgr=True), (6, 8), (R, G, B))  # flag ignored for PIL
    assert_rgb(to_rgb(Image.fromarray(rgb).convert("RGBA")), (6, 8), (R, G, B))
    gray = Image.fromarray(rgb).convert("L")
    assert_rgb(to_rgb(gray), (6, 8), (gray.getpixel((0, 0)),) * 3)


def test_pil_16_bit_out_of_range_is_refused() -> None:
    with pytest.raises(InputError, match=r"outside 0\.\.255"):
        to_rgb(Image.fromarray(np.full((4, 4), 4000, np.uint16)))


def test_path_is_decoded_as_rgb(tmp_path: Path) -> None:
    path = tmp_path / "frame.png"
    assert cv2.imwrite(str(path), bgr_frame())  # written as BGR by OpenCV
    assert_rgb(to_rgb(path), (6, 8), (R, G, B))
    assert_rgb(to_rgb(str(path), bgr=False), (6, 8), (R, G, B))  # flag ignored for files


def test_path_opencv_cannot_read_falls_back_to_pil(tmp_path: Path) -> None:
    path = tmp_path / "frame.pcx"  # PCX: PIL reads it, OpenCV does not
    rgb = np.empty((6, 8, 3), np.uint8)
    rgb[...] = (R, G, B)
    Image.fromarray(rgb).save(path)
    assert cv2.imread(str(path)) is None
    assert_rgb(to_rgb(path), (6, 8), (R, G, B))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        to_rgb(tmp_path / "nope.jpg")


def test_corrupt_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.jpg"
    path.write_bytes(b"\xff\xd8\xff\xe0 definitely not a jpeg" + bytes(200))
    with pytest.raises(InputError, match=r"cannot decode image file .*broken\.jpg"):
        to_rgb(path)
