"""Host-side 3-axis M-RoPE positions: a numpy port of transformers' Qwen2.5-VL ``get_rope_index``.

Exported graphs and the ONNX/TensorRT runtimes take ``position_ids [3, B, S]`` as an input, computed
here; this is where users' bugs cluster, so it is golden-tested against transformers (text only, one
image, several images, video). Text tokens get the same position on all three axes; a vision block
gets (t, h, w) grid positions offset by the running position; decode steps continue at
``past_len + rope_delta``.
"""

from __future__ import annotations

import itertools

import numpy as np


def get_rope_index(
    mm_token_type_ids: np.ndarray,
    image_grid_thw: np.ndarray | None = None,
    video_grid_thw: np.ndarray | None = None,
    second_per_grid_ts: np.ndarray | None = None,
    *,
    spatial_merge_size: int = 2,
    tokens_per_second: float = 2,
) -> tuple[np.ndarray, int]:
    """Positions ``(3, S)`` int64 and the ``rope_delta`` of one prompt.

    Args:
        mm_token_type_ids: (S,) 0 for text, 1 for image patches, 2 for video patches.
        image_grid_thw: (n_images, 3) grids in patches, in prompt order.
        video_grid_thw: (n_videos, 3).
        second_per_grid_ts: (n_videos,) seconds per temporal grid step (temporal_patch_size / fps).

    Example:
        >>> pos, delta = get_rope_index(np.array([0, 0, 1, 1, 1, 1, 0]), np.array([[1, 4, 4]]))
        >>> pos[:, 2:6].tolist()
        [[2, 2, 2, 2], [2, 2, 3, 3], [2, 3, 2, 3]]
    """
    grids = {1: iter(_rows(image_grid_thw)), 2: iter(_rows(video_grid_thw))}
    seconds = iter(np.ravel(second_per_grid_ts).tolist() if second_per_grid_ts is not None else [])
    chunks: list[np.ndarray] = []
    current = 0
    for kind, group in itertools.groupby(np.asarray(mm_token_type_ids).tolist()):
        length = len(list(group))
        if kind == 0:
            chunks.append(np.broadcast_to(np.arange(length, dtype=np.int64) + current, (3, length)))
            current += length
            continue
        t, h, w = next(grids[kind])
        interval = tokens_per_second * next(seconds, 1.0) if kind == 2 else 1
        block = vision_positions(current, (t, h, w), spatial_merge_size, interval)
        if block.shape[1] != length:
            raise ValueError(f"a vision block has {length} tokens but its grid {t, h, w} needs {block.shape[1]}")
        chunks.append(block)
        current += max(h, w) // spatial_merge_size
    positions = np.concatenate(chunks, axis=1) if chunks else np.zeros((3, 0), np.int64)
    delta = int(positions.max()) + 1 - positions.shape[1] if positions.size else 0
    return positions, delta


def vision_positions(start: int, grid_thw: tuple[int, int, int], merge: int, interval: float) -> np.ndarray:
    """(3, t·h·w / merge²) positions of one image or video block starting at ``start``."""
    t, h, w = int(grid_thw[0]), int(grid_thw[1]) // merge, int(grid_thw[2]) // merge
    pos_t = (np.arange(t) * interval).astype(np.int64) + start
    pos_h = np.arange(h, dtype=np.int64) + start
    pos_w = np.arange(w, dtype=np.int64) + start
    tt, hh, ww = np.meshgrid(pos_t, pos_h, pos_w, indexing="ij")
    return np.stack([tt.ravel(), hh.ravel(), ww.ravel()])


def decode_positions(past_len: int, n_new: int, rope_delta: int) -> np.ndarray:
    """(3, n_new) positions of tokens appended after ``past_len`` cached tokens."""
    pos = np.arange(past_len, past_len + n_new, dtype=np.int64) + rope_delta
    return np.broadcast_to(pos, (3, n_new)).copy()


def _rows(grid: np.ndarray | None) -> list[tuple[int, int, int]]:
    if grid is None:
        return []
    return [tuple(int(x) for x in row) for row in np.asarray(grid).reshape(-1, 3)]
