"""Calibration data for GPTQ / AWQ: decoder inputs of synthetic spatial questions.

The questions and frames come from :mod:`m2sdk.data` (rendered rooms with exact answers, a seed
different from the evaluation's), go through the bundle's processor, and become decoder feeds: prompt
embeddings with the torch model's visual features in their patch slots, host M-RoPE positions and an
empty KV cache. Everything runs on the CPU.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from onnxruntime.quantization import CalibrationDataReader

from m2sdk.processor import M2Processor
from m2sdk.runtime.embedding import embed_prompt
from m2sdk.runtime.generation import prompt_positions, visual_features

CALIBRATION_SEED = 7_000_001


def calibration_inputs(processor: M2Processor, image_size: tuple[int, int], n: int) -> list[Any]:
    """``n`` processed synthetic questions (fast answer mode) at the bundle's image size."""
    from m2sdk.data.synth import SynthConfig, synthesize
    from m2sdk.processing import to_rgb

    width, height = image_size
    with tempfile.TemporaryDirectory(prefix="m2-calib-") as folder:
        records = synthesize(SynthConfig(Path(folder), n=n, seed=CALIBRATION_SEED, width=width, height=height))
        return [
            processor([to_rgb(Path(folder) / m) for m in rec.media], rec.question, options=rec.options, reasoning=False)
            for rec in records
        ]


def decoder_feeds(backend: Any, inputs_list: list[Any], num_layers: int) -> list[dict[str, np.ndarray]]:
    """Prefill feeds of the decoder graph for each prompt (``backend`` gives the visual features)."""
    table = backend.model.get_input_embeddings().weight.detach().float().numpy()  # (vocab, hidden)
    patch_id = backend.model.config.image_token_id
    text = backend.model.config.text_config
    empty = np.zeros((1, text.num_key_value_heads, 0, text.hidden_size // text.num_attention_heads), np.float32)
    feeds = []
    for inputs in inputs_list:
        positions, _ = prompt_positions(backend, inputs)
        embeds = embed_prompt(table, inputs.input_ids, patch_id, visual_features(backend, inputs))
        feed = {
            "inputs_embeds": embeds[None],
            "attention_mask": np.ones((1, len(inputs)), np.int64),
            "position_ids": positions[:, None, :].astype(np.int64),
        }
        feed |= {f"past_{kv}.{i}": empty for i in range(num_layers) for kv in ("key", "value")}
        feeds.append(feed)
    return feeds


def stacked(feeds: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """One batch of all feeds, cut to the shortest prompt (ModelOpt wants equal shapes)."""
    length = min(f["inputs_embeds"].shape[1] for f in feeds)
    out = {
        "inputs_embeds": np.concatenate([f["inputs_embeds"][:, :length] for f in feeds]),
        "attention_mask": np.ones((len(feeds), length), np.int64),
        "position_ids": np.concatenate([f["position_ids"][:, :, :length] for f in feeds], axis=1),
    }
    for name in feeds[0]:
        if name.startswith("past_"):
            out[name] = np.concatenate([f[name] for f in feeds])
    return out


class FeedReader(CalibrationDataReader):
    """Calibration reader (ONNX Runtime GPTQ) over prepared feeds."""

    def __init__(self, feeds: list[dict[str, np.ndarray]]) -> None:
        self.feeds = feeds
        self._next = iter(feeds)

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._next, None)

    def rewind(self) -> None:
        self._next = iter(self.feeds)
