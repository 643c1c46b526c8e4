"""Host-side inputs of the exported vision encoder: the data-dependent parts of the Qwen2.5-VL ViT.

A plain ``torch.onnx.export`` of the transformers ViT fails on ``grid_thw``: the window index, the
``cu_seqlens`` attention segments and the 2D rotary table are built with Python loops, ``tolist()``
and ``repeat_interleave``. The exported graph therefore takes them as inputs, computed here in numpy
(no torch), the way ONNX Runtime GenAI and TensorRT Edge-LLM feed this model
(see ../shared/reference/edge_export.md).

Attention in this ViT never crosses a temporal patch (full-attention blocks attend within one
``h × w`` frame, windowed blocks within one 112 px window), so the encoder runs once per image and
per temporal step of a video: the full-attention blocks need no mask, and the window mask is
``(N, N)`` for the ``N = h·w`` patches of one frame. This keeps the mask small (a 640×480 frame:
1564 patches, 9.8 MB) and lets TensorRT use one static profile for the camera's resolution.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

MASKED = float(np.finfo(np.float32).min)  # additive mask value: exp() underflows to exactly 0


@dataclass(frozen=True)
class VisionSpec:
    """The ViT settings the host-side inputs depend on (stored in a bundle's manifest).

    Example:
        >>> spec = VisionSpec(patch_size=14, temporal_patch_size=2, spatial_merge_size=2,
        ...                   window_size=112, head_dim=80, rope_theta=10000.0)
        >>> spec.window_tokens
        4
    """

    patch_size: int
    temporal_patch_size: int
    spatial_merge_size: int
    window_size: int
    head_dim: int
    rope_theta: float

    def __post_init__(self) -> None:
        for name in ("patch_size", "temporal_patch_size", "spatial_merge_size", "window_size", "head_dim"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"VisionSpec.{name} must be >= 1, got {getattr(self, name)}")
        if self.head_dim % 4:
            raise ValueError(f"VisionSpec.head_dim must be a multiple of 4 (2D rotary), got {self.head_dim}")

    @property
    def window_tokens(self) -> int:
        """Side of one attention window, in merged tokens (112 px / 28 px = 4)."""
        return self.window_size // self.spatial_merge_size // self.patch_size

    @property
    def merge_unit(self) -> int:
        return self.spatial_merge_size**2

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VisionSpec:
        return cls(**data)


@dataclass
class VisionInputs:
    """Graph inputs for one frame of ``h × w`` patches (N = h·w), besides the pixels.

    Shapes: ``window_index`` / ``reverse_index`` (N / merge²,) int64; ``rotary_cos`` / ``rotary_sin``
    (N, head_dim) float32, already in window order; ``window_mask`` (N, N) float32, additive (0 or
    :data:`MASKED`), in window order.
    """

    window_index: np.ndarray
    reverse_index: np.ndarray
    rotary_cos: np.ndarray
    rotary_sin: np.ndarray
    window_mask: np.ndarray

    def feeds(self, pixel_values: np.ndarray) -> dict[str, np.ndarray]:
        """The vision graph's input dict for ``pixel_values`` (N, 1176) of this frame."""
        return {
            "pixel_values": np.ascontiguousarray(pixel_values, dtype=np.float32),
            "window_index": self.window_index,
            "reverse_index": self.reverse_index,
            "rotary_cos": self.rotary_cos,
            "rotary_sin": self.rotary_sin,
            "window_mask": self.window_mask,
        }


def window_partition(grid_h: int, grid_w: int, spec: VisionSpec) -> tuple[np.ndarray, np.ndarray]:
    """Merged-token order of window attention and the window sizes (port of transformers'
    ``get_vision_window_index`` for one frame).

    Returns:
        window_index: (h·w / merge²,) int64, merged-token ids in window-major order.
        window_lengths: (n_windows,) int64, merged tokens per non-empty window.
    """
    win, merge = spec.window_tokens, spec.spatial_merge_size
    llm_h, llm_w = grid_h // merge, grid_w // merge
    index = np.arange(llm_h * llm_w, dtype=np.int64).reshape(llm_h, llm_w)
    pad_h, pad_w = (-llm_h) % win, (-llm_w) % win  # upstream pads a whole extra window; empty ones drop out
    padded = np.pad(index, ((0, pad_h), (0, pad_w)), constant_values=-1)
    n_h, n_w = padded.shape[0] // win, padded.shape[1] // win
    windows = padded.reshape(n_h, win, n_w, win).transpose(0, 2, 1, 3).reshape(n_h * n_w, win * win)
    lengths = (windows >= 0).sum(axis=1)
    flat = windows.ravel()
    return flat[flat >= 0], lengths[lengths > 0].astype(np.int64)


def patch_positions(grid_h: int, grid_w: int, merge: int) -> np.ndarray:
    """(h·w, 2) int64 (row, col) of each patch, in the processor's merge-block order."""
    rows, cols = np.meshgrid(np.arange(grid_h), np.arange(grid_w), indexing="ij")
    block = (grid_h // merge, merge, grid_w // merge, merge)
    rows = rows.reshape(block).transpose(0, 2, 1, 3).ravel()
    cols = cols.reshape(block).transpose(0, 2, 1, 3).ravel()
    return np.stack([rows, cols], axis=-1).astype(np.int64)


def rotary_table(positions: np.ndarray, head_dim: int, theta: float) -> tuple[np.ndarray, np.ndarray]:
    """(N, head_dim) cos and sin of the ViT's axial 2D rotary embedding, in float32."""
    spatial_dim = head_dim // 2
    inv_freq = 1.0 / (theta ** (np.arange(0, spatial_dim, 2, dtype=np.float32) / spatial_dim))
    freqs = positions[..., None].astype(np.float32) * inv_freq.astype(np.float32)  # (N, 2, head_dim/4)
    freqs = freqs.reshape(positions.shape[0], -1)  # (N, head_dim/2): rows' then cols' frequencies
    angles = np.concatenate([freqs, freqs], axis=-1)  # (N, head_dim)
    return np.cos(angles).astype(np.float32), np.sin(angles).astype(np.float32)


def window_mask(window_lengths: np.ndarray, merge_unit: int) -> np.ndarray:
    """(N, N) additive float32 mask: 0 inside a window, :data:`MASKED` across windows."""
    window_id = np.repeat(np.arange(len(window_lengths)), window_lengths * merge_unit)
    same = window_id[:, None] == window_id[None, :]
    return np.where(same, np.float32(0.0), np.float32(MASKED)).astype(np.float32)


def make_vision_inputs(grid_h: int, grid_w: int, spec: VisionSpec) -> VisionInputs:
    """All host-computed inputs for one frame of ``grid_h × grid_w`` patches.

    Example:
        >>> inputs = make_vision_inputs(34, 46, spec)  # a 644×476 px frame
        >>> inputs.window_mask.shape
        (1564, 1564)
    """
    merge = spec.spatial_merge_size
    if grid_h % merge or grid_w % merge:
        raise ValueError(f"grid {grid_h}×{grid_w} is not a multiple of the merge size {merge}")
    index, lengths = window_partition(grid_h, grid_w, spec)
    cos, sin = rotary_table(patch_positions(grid_h, grid_w, merge), spec.head_dim, spec.rope_theta)
    n_tokens = index.shape[0]
    cos = cos.reshape(n_tokens, spec.merge_unit, -1)[index].reshape(cos.shape)  # into window order
    sin = sin.reshape(n_tokens, spec.merge_unit, -1)[index].reshape(sin.shape)
    return VisionInputs(
        window_index=index,
        reverse_index=np.argsort(index).astype(np.int64),
        rotary_cos=np.ascontiguousarray(cos),
        rotary_sin=np.ascontiguousarray(sin),
        window_mask=window_mask(lengths, spec.merge_unit),
    )


def frame_slices(pixel_values: np.ndarray, grid_thw: np.ndarray) -> Iterator[tuple[np.ndarray, int, int]]:
    """Split ``pixel_values`` (sum t·h·w, 1176) into per-frame ``(patches (h·w, 1176), h, w)``.

    The encoder runs once per frame: its attention never crosses images or temporal patches.
    """
    grid = np.asarray(grid_thw).reshape(-1, 3)
    expected = int(np.prod(grid, axis=1).sum())
    if pixel_values.shape[0] != expected:
        raise ValueError(f"pixel_values has {pixel_values.shape[0]} patches but grid_thw needs {expected}")
    start = 0
    for t, h, w in grid.tolist():
        for _ in range(int(t)):
            yield pixel_values[start : start + h * w], int(h), int(w)
            start += h * w
