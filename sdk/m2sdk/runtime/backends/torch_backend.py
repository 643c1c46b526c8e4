"""PyTorch backend: the stages of :class:`M2ReasoningForConditionalGeneration` for the shared loop."""

from __future__ import annotations

from typing import Any

import numpy as np

from m2sdk._deps import require
from m2sdk.processor import M2Processor


class TorchBackend:
    """Runs vision, prefill and decode steps of the PyTorch model, keeping a transformers KV cache.

    Example:
        >>> backend = TorchBackend.from_pretrained("m2-tiny")
        >>> generate(backend, backend.processor(frame, "How far is the lamp?"))
    """

    name = "torch"

    def __init__(self, model: Any, processor: M2Processor) -> None:
        self.torch = require("torch")
        self.model = model.eval()
        self.processor = processor
        config = model.config
        self.spatial_merge_size = config.vision_config.spatial_merge_size
        self.tokens_per_second = config.vision_config.tokens_per_second
        self.max_context = min(processor.max_context, config.text_config.max_position_embeddings)
        self.device = next(model.parameters()).device
        self.dtype = next(model.parameters()).dtype
        self._cache: Any = None

    @classmethod
    def from_pretrained(cls, path_or_preset: str, *, device: str = "cpu", dtype: Any = None) -> TorchBackend:
        from m2sdk.model.checkpoint import load_model

        model, processor = load_model(path_or_preset, device=device, dtype=dtype)
        return cls(model, processor)

    def encode_vision(self, pixel_values: np.ndarray, grid_thw: np.ndarray) -> np.ndarray:
        torch = self.torch
        with torch.inference_mode():
            pixels = torch.from_numpy(pixel_values).to(self.device, self.dtype)
            grid = torch.from_numpy(np.asarray(grid_thw)).long().to(self.device)
            feats = self.model.model.get_image_features(pixels, grid).pooler_output
            return torch.cat(feats, dim=0).float().cpu().numpy()

    def prefill(self, input_ids: np.ndarray, visual_features: np.ndarray | None, positions: np.ndarray) -> np.ndarray:
        torch = self.torch
        from transformers import DynamicCache

        with torch.inference_mode():
            ids = torch.from_numpy(np.asarray(input_ids)).long()[None].to(self.device)
            embeds = self.model.get_input_embeddings()(ids)  # (1, S, H)
            if visual_features is not None:
                mask = ids == self.model.config.image_token_id
                feats = torch.from_numpy(visual_features).to(self.device, embeds.dtype)
                embeds = embeds.masked_scatter(mask[..., None], feats)
            self._cache = DynamicCache(config=self.model.config.text_config)
            return self._forward(embeds, positions)

    def step(self, token_id: int, positions: np.ndarray) -> np.ndarray:
        torch = self.torch
        with torch.inference_mode():
            ids = torch.tensor([[token_id]], device=self.device)
            return self._forward(self.model.get_input_embeddings()(ids), positions)

    def _forward(self, embeds: Any, positions: np.ndarray) -> np.ndarray:
        torch = self.torch
        pos = torch.from_numpy(np.asarray(positions)).long()[:, None, :].to(self.device)  # (3, 1, S)
        out = self.model.model.language_model(inputs_embeds=embeds, position_ids=pos, cache=self._cache, use_cache=True)
        logits = self.model.lm_head(out.last_hidden_state[:, -1])  # (1, vocab)
        return logits[0].float().cpu().numpy()
