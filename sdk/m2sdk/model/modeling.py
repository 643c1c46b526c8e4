"""`M2ReasoningForConditionalGeneration`: transformers' Qwen2.5-VL parts plus M2's projector.

Built by subclassing transformers' Qwen2.5-VL classes, so `generate`, KV caches, M-RoPE and attention
kernels are the maintained upstream ones. What M2 adds:

* ``model.linear_proj``: Linear → GELU → Linear (``projector_depth`` linears) after the patch merger, and
  the visual embeddings L2-normalised before they replace the ``<imagePatch>`` tokens;
* one patch token for images and videos, told apart by the ``<image>``/``<video>`` token before them.
"""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn
from transformers.models.qwen2_5_vl.modeling_qwen2_5_vl import (
    Qwen2_5_VisionTransformerPretrainedModel,
    Qwen2_5_VLForConditionalGeneration,
    Qwen2_5_VLModel,
    Qwen2_5_VLPreTrainedModel,
    Qwen2_5_VLTextModel,
)

from m2sdk.model.config import M2ReasoningConfig


def make_projector(hidden_size: int, depth: int) -> nn.Sequential:
    """M2's ``linear_proj``: ``depth`` square linears with GELU between them (indices 0, 2, ...)."""
    layers: list[nn.Module] = [nn.Linear(hidden_size, hidden_size)]
    for _ in range(depth - 1):
        layers += [nn.GELU(), nn.Linear(hidden_size, hidden_size)]
    return nn.Sequential(*layers)


class M2ReasoningModel(Qwen2_5_VLModel):
    """Vision tower + projector + Qwen2 decoder (no LM head)."""

    config: M2ReasoningConfig

    def __init__(self, config: M2ReasoningConfig):
        # Build the parts here rather than through Qwen2_5_VLModel.__init__, so each is made once.
        Qwen2_5_VLPreTrainedModel.__init__(self, config)
        self.visual = Qwen2_5_VisionTransformerPretrainedModel._from_config(config.vision_config)
        self.language_model = Qwen2_5_VLTextModel._from_config(config.text_config)
        self.linear_proj = make_projector(config.text_config.hidden_size, config.projector_depth)
        self.rope_deltas = None
        self.post_init()

    def project_visual(self, merged: torch.Tensor) -> torch.Tensor:
        """Merger output (N, hidden) → projector → L2 norm, kept in the projector's dtype."""
        projected = self.linear_proj(merged.to(self.linear_proj[0].weight.dtype))
        return F.normalize(projected, dim=-1)

    def get_image_features(self, pixel_values, image_grid_thw=None, **kwargs):
        outputs = super().get_image_features(pixel_values, image_grid_thw, **kwargs)
        outputs.pooler_output = tuple(self.project_visual(x) for x in outputs.pooler_output)
        return outputs

    def get_video_features(self, pixel_values_videos, video_grid_thw=None, **kwargs):
        outputs = super().get_video_features(pixel_values_videos, video_grid_thw, **kwargs)
        outputs.pooler_output = tuple(self.project_visual(x) for x in outputs.pooler_output)
        return outputs

    def get_placeholder_mask(self, input_ids, inputs_embeds, image_features=None, video_features=None):
        if input_ids is None:
            raise ValueError("M2 needs input_ids to place visual features (one patch token for both media)")
        patch = input_ids == self.config.image_token_id
        in_video = media_is_video(input_ids, self.config)
        image_mask, video_mask = patch & ~in_video, patch & in_video
        for mask, feats, name in ((image_mask, image_features, "image"), (video_mask, video_features, "video")):
            if feats is not None and int(mask.sum()) != feats.shape[0]:
                raise ValueError(
                    f"{name} features and {name} patch tokens do not match: "
                    f"{int(mask.sum())} tokens, {feats.shape[0]} features"
                )
        expand = (*input_ids.shape, inputs_embeds.shape[-1])
        return image_mask.unsqueeze(-1).expand(expand), video_mask.unsqueeze(-1).expand(expand)


def media_is_video(input_ids: torch.Tensor, config: M2ReasoningConfig) -> torch.Tensor:
    """(B, S) bool: True where the most recent media start token before a position is ``<video>``."""
    is_image_start = input_ids == config.image_start_token_id
    is_video_start = input_ids == config.video_start_token_id
    positions = torch.arange(input_ids.shape[-1], device=input_ids.device).expand_as(input_ids)
    last_image = torch.where(is_image_start, positions, -1).cummax(dim=-1).values
    last_video = torch.where(is_video_start, positions, -1).cummax(dim=-1).values
    return last_video > last_image


class M2ReasoningForConditionalGeneration(Qwen2_5_VLForConditionalGeneration):
    """M2-Reasoning with its LM head; ``generate`` works as for any transformers model.

    Load checkpoints with :func:`m2sdk.model.checkpoint.load_model` (validates every tensor first),
    or ``M2ReasoningForConditionalGeneration.from_pretrained(local_folder)``, which does the same.

    Example:
        >>> from m2sdk.model.presets import build_preset
        >>> model = build_preset("m2-tiny")
        >>> out = model.generate(**inputs.to_torch(), max_new_tokens=8, do_sample=False)
    """

    config_class = M2ReasoningConfig
    config: M2ReasoningConfig
    _checkpoint_conversion_mapping: ClassVar[dict[str, str]] = {}

    def __init__(self, config: M2ReasoningConfig):
        Qwen2_5_VLPreTrainedModel.__init__(self, config)
        self.model = M2ReasoningModel(config)
        self.lm_head = nn.Linear(config.text_config.hidden_size, config.text_config.vocab_size, bias=False)
        self.post_init()

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *args, **kwargs):
        """Load from a local folder only, after checking every tensor's presence, shape and file."""
        from m2sdk.model.checkpoint import validate_checkpoint

        validate_checkpoint(pretrained_model_name_or_path)
        kwargs["local_files_only"] = True
        kwargs.pop("trust_remote_code", None)
        return super().from_pretrained(pretrained_model_name_or_path, *args, **kwargs)
