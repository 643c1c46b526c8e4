"""Pixel-side settings of the M2-Reasoning processor (saved as ``preprocessor_config.json``).

The defaults are those of Qwen2.5-VL, whose vision tower M2-Reasoning reuses: 14 px patches, two
frames per temporal patch, 2×2 patches merged into one LLM token (so one token per 28×28 px), CLIP
mean/std, and the qwen-vl-utils video budget (2 fps, 4…120 frames, 128…768 tokens per frame,
7680 tokens per clip).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

_CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
_CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
_INT_FIELDS = (
    "min_pixels",
    "max_pixels",
    "patch_size",
    "temporal_patch_size",
    "merge_size",
    "video_min_frames",
    "video_max_frames",
    "video_min_pixels",
    "video_max_pixels",
    "video_total_pixels",
)


@dataclass
class ImageProcessorConfig:
    """How frames become ``pixel_values`` and ``grid_thw`` for the vision tower.

    Pixel counts are of the resized image (height × width). One LLM token covers
    ``factor × factor`` = 28×28 px, so ``max_pixels = 16384*28*28`` allows up to 16384 tokens.

    Example:
        >>> cfg = ImageProcessorConfig(max_pixels=512 * 28 * 28)  # the official example's budget
        >>> cfg.factor
        28
        >>> ImageProcessorConfig.from_dict(cfg.to_dict()) == cfg
        True
    """

    min_pixels: int = 4 * 28 * 28
    max_pixels: int = 16384 * 28 * 28
    patch_size: int = 14
    temporal_patch_size: int = 2
    merge_size: int = 2
    image_mean: tuple[float, float, float] = _CLIP_MEAN
    image_std: tuple[float, float, float] = _CLIP_STD
    video_fps: float = 2.0
    video_min_frames: int = 4
    video_max_frames: int = 120
    video_min_pixels: int = 128 * 28 * 28
    video_max_pixels: int = 768 * 28 * 28
    video_total_pixels: int = 7680 * 28 * 28

    def __post_init__(self) -> None:
        self.image_mean = tuple(float(v) for v in self.image_mean)  # JSON gives lists
        self.image_std = tuple(float(v) for v in self.image_std)
        for name in _INT_FIELDS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"ImageProcessorConfig.{name} must be a positive int, got {value!r}")
        self._check_ranges()
        self._check_colour_stats()

    def _check_ranges(self) -> None:
        pairs = [
            ("min_pixels", "max_pixels"),
            ("video_min_frames", "video_max_frames"),
            ("video_min_pixels", "video_max_pixels"),
        ]
        for low, high in pairs:
            if getattr(self, low) > getattr(self, high):
                raise ValueError(
                    f"ImageProcessorConfig.{low} ({getattr(self, low)}) must be <= {high} ({getattr(self, high)})"
                )
        if self.video_max_frames < self.temporal_patch_size:
            raise ValueError(
                f"ImageProcessorConfig.video_max_frames ({self.video_max_frames}) must be >= "
                f"temporal_patch_size ({self.temporal_patch_size})"
            )
        if not (math.isfinite(self.video_fps) and self.video_fps > 0):
            raise ValueError(f"ImageProcessorConfig.video_fps must be a positive number, got {self.video_fps!r}")

    def _check_colour_stats(self) -> None:
        if len(self.image_mean) != 3:
            raise ValueError(f"ImageProcessorConfig.image_mean needs 3 values (R, G, B), got {self.image_mean}")
        if len(self.image_std) != 3 or not all(s > 0 for s in self.image_std):
            raise ValueError(f"ImageProcessorConfig.image_std needs 3 positive values, got {self.image_std}")

    @property
    def factor(self) -> int:
        """Side in pixels of the square one LLM token covers (patch_size × merge_size = 28)."""
        return self.patch_size * self.merge_size

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (tuples become lists), as written to ``preprocessor_config.json``."""
        data = asdict(self)
        data["image_mean"] = list(self.image_mean)
        data["image_std"] = list(self.image_std)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ImageProcessorConfig:
        """Build from a dict, ignoring unknown keys (a transformers processor config has many).

        Example:
            >>> ImageProcessorConfig.from_dict({"max_pixels": 401408, "do_resize": True}).max_pixels
            401408
        """
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})
