"""The host-side ViT inputs (window index, rotary table, window mask) against transformers' own code."""

from __future__ import annotations

import numpy as np
import pytest

from m2sdk.runtime.vision_inputs import (
    MASKED,
    VisionSpec,
    frame_slices,
    make_vision_inputs,
    patch_positions,
    window_partition,
)

torch = pytest.importorskip("torch")
vision_utils = pytest.importorskip("transformers.vision_utils")

SPEC = VisionSpec(patch_size=14, temporal_patch_size=2, spatial_merge_size=2, window_size=112, head_dim=16,
                  rope_theta=10000.0)  # fmt: skip
GRIDS = [(2, 2), (8, 8), (8, 12), (34, 46), (18, 30), (16, 16)]  # (h, w) in patches; 8 and 16 fill windows exactly


@pytest.mark.parametrize("grid", GRIDS)
def test_window_index_matches_transformers(grid):
    h, w = grid
    expected_index, expected_cu = vision_utils.get_vision_window_index(
        torch.tensor([[1, h, w]]), spatial_merge_size=2, window_size=112, patch_size=14
    )
    index, lengths = window_partition(h, w, SPEC)
    np.testing.assert_array_equal(index, expected_index.numpy())
    cu = np.concatenate([[0], np.cumsum(lengths * 4)])
    np.testing.assert_array_equal(cu, expected_cu.numpy())


@pytest.mark.parametrize("grid", GRIDS)
def test_patch_positions_match_transformers(grid):
    h, w = grid
    expected = vision_utils.get_vision_position_ids(torch.tensor([[1, h, w]]), 2)
    np.testing.assert_array_equal(patch_positions(h, w, 2), expected.numpy())


def test_rotary_table_matches_the_model(tiny_model):
    h, w = 8, 12
    visual = tiny_model.model.visual
    spec = VisionSpec(14, 2, 2, 112, visual.config.hidden_size // visual.config.num_heads, 10000.0)
    pos = torch.from_numpy(patch_positions(h, w, 2))
    cos, sin = visual.rotary_pos_emb(torch.zeros(1), pos)  # (N, head_dim), processor order
    index, _ = window_partition(h, w, spec)
    order = (index[:, None] * 4 + np.arange(4)).ravel()  # patch rows in window order
    host = make_vision_inputs(h, w, spec)
    np.testing.assert_allclose(host.rotary_cos, cos.numpy()[order], atol=1e-6)
    np.testing.assert_allclose(host.rotary_sin, sin.numpy()[order], atol=1e-6)


def test_window_mask_is_block_diagonal_over_windows():
    host = make_vision_inputs(8, 12, SPEC)  # 4×6 merged tokens: windows of 4×4 and 4×2 tokens
    mask = host.window_mask
    assert mask.shape == (96, 96)
    assert np.all(np.diag(mask) == 0)
    assert np.all(mask[:64, :64] == 0) and np.all(mask[64:, 64:] == 0)
    assert np.all(mask[:64, 64:] == MASKED) and np.all(mask[64:, :64] == MASKED)
    np.testing.assert_array_equal(host.window_index[host.reverse_index], np.arange(24))


def test_frame_slices_split_images_and_temporal_steps():
    pixels = np.arange(2 * 16 + 4 * 4)[:, None].repeat(3, 1)  # (48, 3)
    parts = list(frame_slices(pixels, np.array([[2, 4, 4], [1, 4, 4]])))
    assert [(p.shape[0], h, w) for p, h, w in parts] == [(16, 4, 4), (16, 4, 4), (16, 4, 4)]
    assert parts[1][0][0, 0] == 16
    with pytest.raises(ValueError, match="grid_thw needs 48"):
        list(frame_slices(pixels[:40], np.array([[2, 4, 4], [1, 4, 4]])))
