"""Images → ``pixel_values`` + ``grid_thw`` for the Qwen2.5-VL vision tower, with numpy and OpenCV only.

Produces the same arrays as transformers' ``Qwen2VLImageProcessorPil`` (patch order bit-exact; pixel
values within a resampling tolerance, see ``tests/sdk/test_processing_image.py``) 6–9× faster, so a
robot can preprocess a camera frame in ~2 ms on one CPU core. The speed comes from doing all layout
work on uint8 (4× less memory traffic than float32) and fusing rescale + normalise into one
``cv2.LUT`` per channel that writes straight into the output rows, twice (the temporal repeat).

Resampling: OpenCV bicubic when enlarging or shrinking slightly, ``INTER_AREA`` when shrinking by
more than 10 % per side. PIL's bicubic (used by transformers and qwen-vl-utils) low-pass filters when
it shrinks; OpenCV's bicubic does not, and aliases. ``INTER_AREA`` is what tracks PIL there
(measured mean |Δ| 0.009 vs 0.04 in normalised units for a 1.5× shrink).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache

import cv2
import numpy as np

from m2sdk.errors import InputError
from m2sdk.processing.config import ImageProcessorConfig

_AREA_BELOW_SCALE = 0.9  # per-side scale under which INTER_AREA replaces INTER_CUBIC


def smart_resize(
    height: int,
    width: int,
    factor: int = 28,
    min_pixels: int = 4 * 28 * 28,
    max_pixels: int = 16384 * 28 * 28,
) -> tuple[int, int]:
    """Target (height, width): multiples of ``factor``, aspect kept, pixel count in [min, max].

    The exact algorithm of transformers' ``qwen2_vl.smart_resize`` (same float operations, so the
    same rounding), because the token count the model sees depends on it. Tiny images are enlarged
    to reach ``min_pixels``; huge ones are shrunk below ``max_pixels``.

    Raises:
        InputError: a side is < 1 px, or the aspect ratio is above 200 (the ViT cannot tile it).

    Example:
        >>> smart_resize(480, 640)
        (476, 644)
        >>> smart_resize(720, 1280, max_pixels=512 * 28 * 28)
        (448, 840)
    """
    if height < 1 or width < 1:
        raise InputError(f"image size {height}x{width} (HxW) has an empty side")
    if max(height, width) / min(height, width) > 200:
        raise InputError(
            f"image {height}x{width} (HxW): absolute aspect ratio must be smaller than 200, "
            f"got {max(height, width) / min(height, width)}; crop it first"
        )
    h_bar = round(height / factor) * factor
    w_bar = round(width / factor) * factor
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar


def preprocess_images(
    images: Sequence[np.ndarray], config: ImageProcessorConfig | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Resize, normalise and patchify RGB images for the vision tower.

    Args:
        images: ``(H, W, 3)`` uint8 **RGB** arrays (use :func:`m2sdk.processing.to_rgb` on camera
            frames, which are BGR). Sizes may differ.
        config: Processor settings; defaults to the M2 / Qwen2.5-VL ones.

    Returns:
        ``pixel_values`` float32 ``(sum of patches, 3*2*14*14 = 1176)``, rows in the order the ViT
        expects (2×2 merge windows outermost; channel, time, row, column inside each row), and
        ``grid_thw`` int64 ``(n_images, 3)`` = (1, H/14, W/14) per image.

    Raises:
        InputError: an image is not ``(H, W, 3)`` uint8, or its size cannot be tiled (see smart_resize).

    Example:
        >>> pixel_values, grid_thw = preprocess_images([to_rgb(cv2.imread("desk.jpg"))])
        >>> pixel_values.shape, grid_thw.tolist()
        ((1564, 1176), [[1, 34, 46]])
    """
    config = config or ImageProcessorConfig()
    sizes = []
    for index, image in enumerate(images):
        check_rgb_uint8(image, f"image {index}")
        h, w = image.shape[:2]
        sizes.append(smart_resize(h, w, config.factor, config.min_pixels, config.max_pixels))
    ps = config.patch_size
    grid_thw = np.array([(1, h // ps, w // ps) for h, w in sizes], dtype=np.int64).reshape(-1, 3)
    pixel_values = np.empty((int(grid_thw.prod(axis=1).sum()), patch_dim(config)), dtype=np.float32)
    start = 0
    for image, (h, w) in zip(images, sizes, strict=True):
        stop = start + (h // ps) * (w // ps)
        patchify_normalize(resize_rgb(image, h, w)[None], config, pixel_values[start:stop])
        start = stop
    return pixel_values, grid_thw


def num_image_tokens(grid_thw: np.ndarray | Sequence[int], merge_size: int = 2) -> list[int]:
    """LLM tokens (``<imagePatch>`` count) per image or video: t·h·w / merge_size².

    Args:
        grid_thw: One ``(t, h, w)`` row or an ``(n, 3)`` array, as returned by the preprocessors.
        merge_size: Patches merged per side into one token (2 for M2).

    Returns:
        One count per row, always a list (``[n]`` for a single row).

    Example:
        >>> num_image_tokens([[1, 34, 46]])
        [391]
    """
    grid = np.asarray(grid_thw, dtype=np.int64).reshape(-1, 3)  # (n, 3)
    return (grid.prod(axis=1) // (merge_size * merge_size)).tolist()


def patch_dim(config: ImageProcessorConfig) -> int:
    """Length of one ``pixel_values`` row: channels × temporal patch × patch² (3·2·14·14 = 1176)."""
    return 3 * config.temporal_patch_size * config.patch_size * config.patch_size


def check_rgb_uint8(image: np.ndarray, what: str) -> None:
    """Raise InputError unless ``image`` is an ``(H, W, 3)`` uint8 array."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        desc = f"{type(image).__name__} {getattr(image, 'dtype', '')} {getattr(image, 'shape', '')}".strip()
        raise InputError(
            f"{what} must be an (H, W, 3) uint8 RGB array, got {desc}; convert it with m2sdk.processing.to_rgb"
        )


def resize_rgb(image: np.ndarray, height: int, width: int, out: np.ndarray | None = None) -> np.ndarray:
    """Resize ``(H, W, 3)`` uint8 to ``(height, width, 3)``; bicubic, or area when shrinking > 10 %.

    Returns ``image`` itself when the size already matches and no ``out`` is given.
    """
    h, w = image.shape[:2]
    if (h, w) == (height, width):
        if out is None:
            return image
        out[...] = image
        return out
    shrinking = min(height / h, width / w) < _AREA_BELOW_SCALE
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC
    resized = cv2.resize(image, (width, height), dst=out, interpolation=interpolation)
    if out is not None and resized is not out:  # OpenCV reallocated instead of writing into out
        out[...] = resized
        return out
    return resized


def patchify_normalize(frames: np.ndarray, config: ImageProcessorConfig, out: np.ndarray) -> None:
    """Write normalised patches of ``frames`` into ``out`` in the Qwen2-VL row order.

    Args:
        frames: ``(T, H, W, 3)`` uint8 RGB, H and W multiples of ``config.factor``. ``T == 1`` is an
            image (repeated over the temporal patch); otherwise T must be a multiple of
            ``temporal_patch_size`` (consecutive frames share a temporal patch).
        config: Processor settings.
        out: Float32 ``(grid_t * H/14 * W/14, 1176)`` C-contiguous destination, filled in place.
    """
    ps, ms, tp = config.patch_size, config.merge_size, config.temporal_patch_size
    n_frames, height, width, channels = frames.shape
    per_step = 1 if n_frames == 1 else tp  # frames stored per temporal patch
    grid_t, grid_h, grid_w = n_frames // per_step, height // ps, width // ps
    # Layout on uint8 (cheap): (gt, k, gh/ms, ms, ps, gw/ms, ms, ps, C) -> (gt, gh/ms, gw/ms, ms, ms, C, k, ps, ps)
    windows = frames.reshape(grid_t, per_step, grid_h // ms, ms, ps, grid_w // ms, ms, ps, channels)
    patches = np.ascontiguousarray(windows.transpose(0, 2, 5, 3, 6, 8, 1, 4, 7))
    patches = patches.reshape(-1, channels, per_step, ps * ps)  # (N, C, k, ps*ps) uint8
    rows = out.reshape(-1, channels, tp, ps * ps)  # (N, C, tp, ps*ps) float32 view
    for channel, lut in enumerate(_normalise_luts(config.image_mean, config.image_std)):
        for step in range(tp):
            dst = rows[:, channel, step]
            written = cv2.LUT(patches[:, channel, step % per_step], lut, dst=dst)
            if written is not dst:  # OpenCV reallocated instead of writing into the view
                dst[...] = written


@lru_cache(maxsize=8)
def _normalise_luts(mean: tuple[float, ...], std: tuple[float, ...]) -> tuple[np.ndarray, ...]:
    """Per channel, the float32 value of every uint8 level: (v / 255 - mean) / std, computed in float64."""
    levels = np.arange(256, dtype=np.float64) / 255.0
    return tuple(((levels - m) / s).astype(np.float32) for m, s in zip(mean, std, strict=True))
