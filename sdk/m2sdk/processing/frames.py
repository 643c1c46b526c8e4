"""Turn whatever a robot or an app holds (OpenCV array, PIL image, file path) into an RGB uint8 frame.

**numpy arrays are taken as BGR by default**, because that is what ``cv2.imread`` and
``cv2.VideoCapture.read`` return, and feeding BGR to a model trained on RGB silently degrades the
answers. Pass ``bgr=False`` for arrays that are already RGB (PIL, imageio, ROS ``rgb8``).

Conversion rules (one place, so every entry point behaves the same):

* grayscale ``(H, W)`` or ``(H, W, 1)`` → the grey value copied to R, G and B;
* 4 channels (BGRA, or RGBA with ``bgr=False``) → the alpha channel is dropped, like
  ``PIL.Image.convert("RGB")`` and ``cv2.imread`` do;
* integer arrays of any width are accepted when every value is in 0…255 (a 16-bit image is refused,
  since guessing its scale would be wrong for depth maps);
* float arrays are accepted when every value is finite and in [0, 1] and become ``round(x * 255)``;
  floats in 0…255 are refused because they cannot be told apart from [0, 1] data by their dtype;
* ``PIL.Image`` and file paths carry their own channel order, so ``bgr`` does not apply to them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from m2sdk.errors import InputError

_IMREAD_RGB = getattr(cv2, "IMREAD_COLOR_RGB", None)  # OpenCV >= 4.10 decodes straight to RGB


def to_rgb(frame: Any, *, bgr: bool = True) -> np.ndarray:
    """Return ``frame`` as a C-contiguous ``(H, W, 3)`` uint8 **RGB** array.

    Args:
        frame: numpy array (**BGR by default**), ``PIL.Image.Image``, or a ``str``/``PathLike`` to an
            image file (decoded with OpenCV, PIL as the fallback; EXIF orientation applied).
        bgr: Channel order of a 3- or 4-channel numpy ``frame``. ``True`` (default) = OpenCV's BGR(A);
            ``False`` = RGB(A). Ignored for PIL images, paths and grayscale.

    Returns:
        ``(H, W, 3)`` uint8 RGB. It may be ``frame`` itself when no conversion was needed, so copy it
        before writing into it.

    Raises:
        InputError: ``None``, an empty array, a wrong shape or channel count, an unsupported dtype or
            out-of-range values, a missing file or a file that cannot be decoded.

    Example:
        >>> bgr = cv2.imread("kitchen.jpg")            # OpenCV gives BGR
        >>> rgb = to_rgb(bgr)                          # default bgr=True swaps to RGB
        >>> rgb2 = to_rgb(pil_image)                   # PIL is RGB already
        >>> rgb3 = to_rgb("kitchen.jpg")               # or let m2sdk read the file
    """
    if frame is None:
        raise InputError("frame is None: the camera or cv2.imread returned no image (check the device or path)")
    if isinstance(frame, (str, os.PathLike)):
        return _read_image_file(Path(frame))
    if isinstance(frame, np.ndarray):
        return _array_to_rgb(frame, bgr=bgr)
    if _is_pil_image(frame):
        return _pil_to_rgb(frame)
    raise InputError(
        f"unsupported frame type {type(frame).__name__}: pass a numpy array (BGR by default), "
        "a PIL.Image or a path to an image file"
    )


def _array_to_rgb(frame: np.ndarray, *, bgr: bool) -> np.ndarray:
    if frame.size == 0:
        raise InputError(f"frame is empty (shape {frame.shape}): the camera delivered no pixels")
    channels = 1 if frame.ndim == 2 else frame.shape[-1]
    if frame.ndim not in (2, 3) or channels not in (1, 3, 4):
        raise InputError(f"frame has shape {frame.shape}; expected (H, W) grayscale or (H, W, C) with C = 1, 3 or 4")
    image = np.ascontiguousarray(_to_uint8(frame))  # (H, W[, C]) uint8
    if channels == 1:
        return cv2.cvtColor(image.reshape(image.shape[:2]), cv2.COLOR_GRAY2RGB)
    if channels == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2RGB if bgr else cv2.COLOR_RGBA2RGB)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB) if bgr else image


def _to_uint8(frame: np.ndarray) -> np.ndarray:
    """Check the value range and cast; uint8 passes through without a copy."""
    kind = frame.dtype.kind
    if frame.dtype == np.uint8:
        return frame
    if kind in "iu":
        low, high = int(frame.min()), int(frame.max())
        if low < 0 or high > 255:
            raise InputError(
                f"frame of dtype {frame.dtype} has values in [{low}, {high}], outside 0..255; "
                "scale it to 8 bit first (e.g. (img >> 8).astype(np.uint8) for 16-bit images)"
            )
        return frame.astype(np.uint8)
    if kind == "f":
        low, high = float(np.min(frame)), float(np.max(frame))  # NaN propagates into low/high
        if not (low >= 0.0 and high <= 1.0):
            raise InputError(
                f"float frame has values in [{low}, {high}]; float frames must be finite and in [0, 1] "
                "(for 0..255 floats use img.astype(np.uint8))"
            )
        return (frame.astype(np.float32) * 255.0 + 0.5).astype(np.uint8)
    raise InputError(f"unsupported frame dtype {frame.dtype}: use uint8 (or float in [0, 1])")


def _is_pil_image(frame: Any) -> bool:
    # Checked by module name so that PIL is not imported for numpy callers.
    return type(frame).__module__.startswith("PIL.") and hasattr(frame, "convert")


def _pil_to_rgb(image: Any) -> np.ndarray:
    if image.width == 0 or image.height == 0:
        raise InputError(f"PIL image is empty (size {image.size})")
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        # convert("RGB") would clip these to 255; the array path checks the range instead.
        return _array_to_rgb(np.asarray(image), bgr=False)
    if image.mode != "RGB":
        image = image.convert("RGB")  # L, P, RGBA, CMYK, ... (alpha dropped)
    return np.ascontiguousarray(np.asarray(image, dtype=np.uint8))


def _read_image_file(path: Path) -> np.ndarray:
    if not path.is_file():
        raise InputError(f"image file not found: {path}")
    if _IMREAD_RGB is not None:
        image = cv2.imread(str(path), _IMREAD_RGB)
    else:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        image = None if image is None else cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    if image is not None:
        return image
    return _read_with_pil(path)  # formats or paths OpenCV cannot open (e.g. non-ASCII on Windows)


def _read_with_pil(path: Path) -> np.ndarray:
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image = ImageOps.exif_transpose(image)
            return _pil_to_rgb(image)
    except InputError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise InputError(f"cannot decode image file {path}: {err} (corrupt or unsupported format?)") from err
