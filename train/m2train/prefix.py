"""SFT forward that computes the prompt prefix every sample shares once per batch, not once per sample.

Every M2 training sample starts with the same tokens: the chat template's system turn (about 130 tokens
with M2's system prompt) and the opening of the user turn. Under causal attention their hidden states do
not depend on anything after them, so the batch's forward can run that prefix for one row, expand its
key/value cache to the whole batch (a view, no copy) and run only the rest of each sequence on top of
it. The result is the same as the plain forward up to float rounding; gradients from every row flow
back into the one prefix computation. For a small model on short samples that is most of the decoder's
work (m2-mini: 130 of ~230 tokens per sample).

Example:
    >>> hidden, start = shared_prefix_hidden(model, inputs, image_features)
    >>> logits = model.lm_head(hidden)   # rows for positions start .. S-1
"""

from __future__ import annotations

from typing import Any

import torch

MIN_PREFIX = 8  # below this, sharing saves nothing worth the extra call


def shared_prefix_length(input_ids: torch.Tensor, attention_mask: torch.Tensor, media_ids: list[int]) -> int:
    """Length of the text prefix identical in every row, unpadded, and before any media token.

    Example:
        >>> shared_prefix_length(torch.tensor([[5, 6, 7, 9], [5, 6, 8, 9]]), torch.ones(2, 4), [])
        2
    """
    same = (input_ids == input_ids[:1]).all(dim=0) & (attention_mask > 0).all(dim=0)
    for token in media_ids:
        same &= ~(input_ids == token).any(dim=0)
    differing = torch.nonzero(~same)
    return int(differing[0, 0]) if len(differing) else int(input_ids.shape[1]) - 1


def shared_prefix_hidden(model: Any, inputs: dict[str, Any], image_features: Any = None) -> tuple[torch.Tensor, int]:
    """Final hidden states (B, S - P, hidden) of positions P .. S-1 and P, computing the shared prefix once.

    Args:
        model: An unwrapped :class:`~m2sdk.model.modeling.M2ReasoningForConditionalGeneration`.
        inputs: The SFT batch (``input_ids``, ``attention_mask``, ``mm_token_type_ids`` and the media
            tensors, ``pixel_values``/``image_grid_thw`` and/or the video ones).
        image_features: Already computed image features (``get_image_features(..., return_dict=True)``),
            or None to encode ``pixel_values`` here.

    Falls back to one full pass (P = 0) when the rows share fewer than :data:`MIN_PREFIX` tokens.
    """
    from transformers import DynamicCache

    core = model.model
    config = model.config
    input_ids, attention_mask = inputs["input_ids"], inputs["attention_mask"]
    embeds = _embeddings(core, inputs, image_features)
    positions, _ = core.get_rope_index(
        input_ids, image_grid_thw=inputs.get("image_grid_thw"), video_grid_thw=inputs.get("video_grid_thw"),
        attention_mask=attention_mask, second_per_grid_ts=inputs.get("second_per_grid_ts"),
        mm_token_type_ids=inputs.get("mm_token_type_ids"),
    )  # fmt: skip
    media = [config.image_token_id, config.video_token_id, config.image_start_token_id, config.video_start_token_id]
    prefix = shared_prefix_length(input_ids, attention_mask, media)
    language_model = core.language_model
    if prefix < MIN_PREFIX:
        out = language_model(inputs_embeds=embeds, position_ids=positions, attention_mask=attention_mask)
        return out.last_hidden_state, 0
    cache = DynamicCache(config=language_model.config)
    language_model(
        inputs_embeds=embeds[:1, :prefix], position_ids=positions[:, :1, :prefix],
        attention_mask=attention_mask[:1, :prefix], cache=cache, use_cache=True,
    )  # fmt: skip
    batch = input_ids.shape[0]
    for layer in cache.layers:
        layer.keys = layer.keys.expand(batch, -1, -1, -1)
        layer.values = layer.values.expand(batch, -1, -1, -1)
    out = language_model(
        inputs_embeds=embeds[:, prefix:], position_ids=positions[:, :, prefix:], attention_mask=attention_mask,
        cache=cache, use_cache=True,
    )  # fmt: skip
    return out.last_hidden_state, prefix


def _embeddings(core: Any, inputs: dict[str, Any], image_features: Any) -> torch.Tensor:
    """Token embeddings with the image and video features scattered into their patch tokens."""
    input_ids = inputs["input_ids"]
    embeds = core.get_input_embeddings()(input_ids)
    if image_features is None and inputs.get("pixel_values") is not None:
        image_features = core.get_image_features(inputs["pixel_values"], inputs["image_grid_thw"], return_dict=True)
    video_features = None
    if inputs.get("pixel_values_videos") is not None:
        video_features = core.get_video_features(
            inputs["pixel_values_videos"], inputs["video_grid_thw"], return_dict=True
        )
    image = torch.cat(image_features.pooler_output).to(embeds.dtype) if image_features is not None else None
    video = torch.cat(video_features.pooler_output).to(embeds.dtype) if video_features is not None else None
    image_mask, video_mask = core.get_placeholder_mask(input_ids, embeds, image_features=image, video_features=video)
    if image is not None:
        embeds = embeds.masked_scatter(image_mask, image)
    if video is not None:
        embeds = embeds.masked_scatter(video_mask, video)
    return embeds
