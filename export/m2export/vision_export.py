"""Export the vision encoder (ViT + patch merger + M2 projector + L2 norm) of one frame to ONNX.

transformers' ViT builds its window index, attention segments and 2D rotary table from ``grid_thw``
with Python loops, which ``torch.onnx.export`` cannot trace. :class:`VisionEncoderForExport` is a thin
wrapper over the *same* modules (patch embed, blocks, merger, projector) that takes those tensors as
inputs instead; the SDK computes them in numpy (:mod:`m2sdk.runtime.vision_inputs`). Only the
attention of a block is re-written (15 lines), as masked matmul + softmax, because upstream splits
``cu_seqlens`` into Python lists.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from transformers.models.qwen2_5_vl.modeling_qwen2_5_vl import apply_rotary_pos_emb_vision

from m2sdk.runtime.vision_inputs import VisionSpec, make_vision_inputs

log = logging.getLogger(__name__)

VISION_INPUTS = ("pixel_values", "window_index", "reverse_index", "rotary_cos", "rotary_sin", "window_mask")
VISION_OUTPUTS = ("visual_features",)


def vision_spec(config) -> VisionSpec:
    """The host-side settings of ``config.vision_config`` (stored in the bundle manifest)."""
    vc = config.vision_config
    return VisionSpec(
        patch_size=vc.patch_size,
        temporal_patch_size=vc.temporal_patch_size,
        spatial_merge_size=vc.spatial_merge_size,
        window_size=vc.window_size,
        head_dim=vc.hidden_size // vc.num_heads,
        rope_theta=float(vc.rope_parameters["rope_theta"]),
    )


def block_attention(attn: nn.Module, x: torch.Tensor, cos, sin, mask: torch.Tensor | None) -> torch.Tensor:
    """Upstream ``Qwen2_5_VLVisionAttention`` with an additive mask instead of ``cu_seqlens`` splits.

    x (N, D); cos/sin (N, head_dim) float32; mask (N, N) additive or None (one frame, full attention).
    """
    n = x.shape[0]
    q, k, v = attn.qkv(x).reshape(n, 3, attn.num_heads, -1).permute(1, 0, 2, 3).unbind(0)  # (N, heads, hd)
    q, k = apply_rotary_pos_emb_vision(q, k, cos, sin)
    q, k, v = (t.transpose(0, 1) for t in (q, k, v))  # (heads, N, hd)
    scores = torch.matmul(q, k.transpose(1, 2)).float() * attn.scaling  # (heads, N, N), fp32
    if mask is not None:
        scores = scores + mask
    probs = scores.softmax(dim=-1).to(v.dtype)
    out = torch.matmul(probs, v).transpose(0, 1).reshape(n, -1)  # (N, D)
    return attn.proj(out)


class VisionEncoderForExport(nn.Module):
    """One frame's patches → projected, L2-normalised visual tokens, with host-computed helpers.

    Inputs: pixel_values (N, 1176); window_index, reverse_index (N/4,) int64; rotary_cos, rotary_sin
    (N, head_dim) fp32 in window order; window_mask (N, N) additive fp32 in window order.
    Output: visual_features (N/4, hidden) in the processor's (row-major merged-token) order.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.visual = model.model.visual
        self.linear_proj = model.model.linear_proj
        self.full_blocks = set(self.visual.fullatt_block_indexes)
        self.merge_unit = self.visual.spatial_merge_unit

    def forward(self, pixel_values, window_index, reverse_index, rotary_cos, rotary_sin, window_mask):
        h = self.visual.patch_embed(pixel_values)  # (N, D)
        n, d = h.shape
        h = h.reshape(n // self.merge_unit, self.merge_unit, d)[window_index].reshape(n, d)
        for i, blk in enumerate(self.visual.blocks):
            mask = None if i in self.full_blocks else window_mask
            h = h + block_attention(blk.attn, blk.norm1(h), rotary_cos, rotary_sin, mask)
            h = h + blk.mlp(blk.norm2(h))
        merged = self.visual.merger(h)[reverse_index]  # (N/4, hidden), back in processor order
        projected = self.linear_proj(merged)
        return F.normalize(projected.float(), dim=-1).to(projected.dtype)


def example_inputs(spec: VisionSpec, grid_hw: tuple[int, int], seed: int = 0) -> tuple[torch.Tensor, ...]:
    """Tensors for tracing, for a frame of ``grid_hw`` patches."""
    grid_h, grid_w = grid_hw
    host = make_vision_inputs(grid_h, grid_w, spec)
    n = grid_h * grid_w
    pixels = np.random.default_rng(seed).standard_normal((n, 3 * spec.temporal_patch_size * spec.patch_size**2))
    feeds = host.feeds(pixels.astype(np.float32))
    return tuple(torch.from_numpy(feeds[name]) for name in VISION_INPUTS)


def export_vision(model: nn.Module, path: Path, *, opset: int = 21) -> Path:
    """Write ``vision.onnx`` (external data next to it) with a dynamic number of patches.

    Example:
        >>> export_vision(build_preset("m2-tiny"), Path("out/vision.onnx"))
    """
    from torch.export import Dim

    spec = vision_spec(model.config)
    wrapper = VisionEncoderForExport(model).eval()
    args = example_inputs(spec, (8, 12))
    tokens = Dim("tokens", min=1, max=65536)
    patches = spec.merge_unit * tokens
    shapes = {
        "pixel_values": {0: patches},
        "window_index": {0: tokens},
        "reverse_index": {0: tokens},
        "rotary_cos": {0: patches},
        "rotary_sin": {0: patches},
        "window_mask": {0: patches, 1: patches},
    }
    with torch.no_grad(), quiet_exporter():
        program = torch.onnx.export(
            wrapper, args, dynamo=True, opset_version=opset, input_names=list(VISION_INPUTS),
            output_names=list(VISION_OUTPUTS), dynamic_shapes=shapes, verbose=False, optimize=True,
        )  # fmt: skip
    return save_program(program, path)


@contextlib.contextmanager
def quiet_exporter() -> Iterator[None]:
    """Silence the exporter's chatter (hundreds of INFO lines per graph) and its harmless warnings."""
    loggers = [logging.getLogger(name) for name in ("onnxscript", "onnx_ir", "torch.onnx", "torch.export")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)  # also hides "torchvision is not installed" (never needed here)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=UserWarning, module=r"torch\.onnx.*")
            warnings.filterwarnings("ignore", message=".*axis name.*")
            warnings.filterwarnings("ignore", category=FutureWarning, message=".*treespec.*")
            yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def save_program(program, path: Path) -> Path:
    """Save an ONNX program with every weight in ``<name>.data`` (the 2 GB protobuf limit)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    program.save(str(path), external_data=True)
    log.info("wrote %s", path)
    return path
