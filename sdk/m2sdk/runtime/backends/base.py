"""The contract every backend fulfils for the shared generation loop in :mod:`m2sdk.runtime.generation`.

The split follows the graph split of the export (see ../shared/reference/edge_export.md): a vision
encoder, an embedding step (token lookup + scatter of visual features into the ``<imagePatch>`` slots),
and a decoder with a KV cache that takes host-computed M-RoPE positions. Backends hold their own KV
cache between ``prefill`` and ``step``; one backend instance serves one query at a time.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from m2sdk.processor import M2Processor


class Backend(Protocol):
    """What the generation loop needs from a backend. Arrays are numpy at the boundary.

    Attributes:
        name: "torch", "onnxruntime" or "tensorrt".
        processor: The processor (tokenizer, pixel settings, prompt) that matches the weights.
        spatial_merge_size, tokens_per_second: Vision settings the M-RoPE positions depend on.
        max_context: Longest prompt + answer the backend accepts, in tokens.
    """

    name: str
    processor: M2Processor
    spatial_merge_size: int
    tokens_per_second: float
    max_context: int

    def encode_vision(self, pixel_values: np.ndarray, grid_thw: np.ndarray) -> np.ndarray:
        """Patches (N, 1176) of one or more images (or one video) → projected, L2-normalised
        features (N / merge², hidden), in prompt order."""
        ...

    def prefill(self, input_ids: np.ndarray, visual_features: np.ndarray | None, positions: np.ndarray) -> np.ndarray:
        """Run the prompt. input_ids (S,), visual features in patch-token order (n_patch_tokens, hidden),
        positions (3, S). Resets the KV cache. Returns the last token's logits (vocab,) float32."""
        ...

    def step(self, token_id: int, positions: np.ndarray) -> np.ndarray:
        """Append one token at positions (3, 1) using the KV cache; returns its logits (vocab,)."""
        ...
