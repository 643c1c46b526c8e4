"""Export the Qwen2 decoder with M-RoPE and a KV cache: ``inputs_embeds`` in, last-token logits out.

Inputs: ``inputs_embeds`` (B, S, hidden) float32, ``attention_mask`` (B, past + S) int64 (1 = attend),
``position_ids`` (3, B, S) int64 (host M-RoPE, :mod:`m2sdk.rope`), and ``past_key.{i}`` /
``past_value.{i}`` (B, kv_heads, past, head_dim) per layer. Outputs: ``logits`` (B, vocab) of the last
position and ``present_key.{i}`` / ``present_value.{i}`` (B, kv_heads, past + S, head_dim).
Batch, sequence and past lengths are dynamic; the prefill runs with ``past = 0``.

The wrapper runs transformers' own ``Qwen2_5_VLTextModel`` (layers, norms, rotary) in eager attention,
so the graph is MatMul + Softmax (no fused op TensorRT would not know). Two things are ours: the KV
cache object, a tiny stand-in for ``DynamicCache`` that concatenates graph inputs, and the 4D causal
mask, built in the graph from ``attention_mask`` (transformers' mask helpers branch on Python values
that would be frozen at export time).
"""

from __future__ import annotations

import torch
from torch import nn

from m2export.vision_export import quiet_exporter, save_program


def io_names(num_layers: int) -> tuple[list[str], list[str]]:
    """Input and output names of the decoder graph."""
    past = [f"past_{kv}.{i}" for i in range(num_layers) for kv in ("key", "value")]
    present = [f"present_{kv}.{i}" for i in range(num_layers) for kv in ("key", "value")]
    return ["inputs_embeds", "attention_mask", "position_ids", *past], ["logits", *present]


class _GraphCache:
    """The part of transformers' ``Cache`` API the attention layers call: ``update``."""

    def __init__(self, past: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
        self.past = past
        self.present: list[tuple[torch.Tensor, torch.Tensor]] = []

    def update(self, key_states, value_states, layer_idx: int, *args, **kwargs):
        past_k, past_v = self.past[layer_idx]
        keys = torch.cat([past_k, key_states], dim=2)  # (B, kv_heads, past + S, head_dim)
        values = torch.cat([past_v, value_states], dim=2)
        self.present.append((keys, values))
        return keys, values


def causal_mask(attention_mask: torch.Tensor, seq_len: int, dtype: torch.dtype) -> torch.Tensor:
    """(B, 1, S, past + S) additive mask: a query sees cached and earlier tokens that are not padding."""
    total = attention_mask.shape[1]
    query_pos = torch.arange(seq_len, device=attention_mask.device)[:, None] + (total - seq_len)
    key_pos = torch.arange(total, device=attention_mask.device)[None, :]
    allowed = (key_pos <= query_pos)[None, None] & attention_mask[:, None, None, :].bool()
    return torch.where(allowed, 0.0, torch.finfo(torch.float32).min).to(dtype)


class DecoderForExport(nn.Module):
    """Decoder + final norm + LM head of the last position, with an explicit KV cache."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.text = model.model.language_model
        self.lm_head = model.lm_head
        self.num_layers = model.config.text_config.num_hidden_layers

    def forward(self, inputs_embeds, attention_mask, position_ids, *past):
        cache = _GraphCache([(past[2 * i], past[2 * i + 1]) for i in range(self.num_layers)])
        mask = causal_mask(attention_mask, inputs_embeds.shape[1], inputs_embeds.dtype)
        out = self.text(
            inputs_embeds=inputs_embeds,
            attention_mask={"full_attention": mask},  # a prepared mapping: upstream uses it as is
            position_ids=position_ids,
            cache=cache,
            use_cache=True,
        )
        logits = self.lm_head(out.last_hidden_state[:, -1])  # (B, vocab)
        return (logits, *[t for kv in cache.present for t in kv])


def example_inputs(text_config, batch: int = 1, seq: int = 5, past: int = 3) -> tuple[torch.Tensor, ...]:
    """Tensors for tracing (past > 0 so the cache concat is traced on real data)."""
    gen = torch.Generator().manual_seed(0)
    kv_heads = text_config.num_key_value_heads
    head_dim = text_config.hidden_size // text_config.num_attention_heads
    embeds = torch.randn(batch, seq, text_config.hidden_size, generator=gen)
    mask = torch.ones(batch, past + seq, dtype=torch.int64)
    positions = torch.arange(past, past + seq)[None, None].expand(3, batch, seq).contiguous()
    kv = [torch.randn(batch, kv_heads, past, head_dim, generator=gen) for _ in range(2 * text_config.num_hidden_layers)]
    return (embeds, mask, positions, *kv)


def export_decoder(model: nn.Module, path, *, max_context: int = 32768, opset: int = 21):
    """Write ``decoder.onnx`` (+ external data) with dynamic batch, sequence and past lengths.

    Example:
        >>> export_decoder(build_preset("m2-tiny"), Path("out/decoder.onnx"))
    """
    from torch.export import Dim

    text_config = model.config.text_config
    wrapper = DecoderForExport(model).eval()
    inputs, outputs = io_names(text_config.num_hidden_layers)
    batch = Dim("batch", min=1, max=1024)
    seq = Dim("seq", min=1, max=max_context)
    past = Dim("past", min=0, max=max_context)
    total = Dim("total", min=1, max=2 * max_context)
    shapes = {
        "inputs_embeds": {0: batch, 1: seq},
        "attention_mask": {0: batch, 1: total},
        "position_ids": {1: batch, 2: seq},
        "past": tuple({0: batch, 2: past} for _ in inputs[3:]),
    }
    previous = text_config._attn_implementation
    text_config._attn_implementation = "eager"  # plain MatMul + Softmax in the graph; restored below
    try:
        with torch.no_grad(), quiet_exporter():
            program = torch.onnx.export(
                wrapper, example_inputs(text_config), dynamo=True, opset_version=opset, input_names=inputs,
                output_names=outputs, dynamic_shapes=shapes, verbose=False, optimize=True,
            )  # fmt: skip
    finally:
        text_config._attn_implementation = previous
    return save_program(program, path)
