"""`M2ReasoningConfig`: Qwen2.5-VL's vision and text configs plus M2's projector and token ids."""

from __future__ import annotations

from m2sdk._deps import require

require("transformers")

from huggingface_hub.dataclasses import strict  # noqa: E402  (after the friendly import check)
from transformers.models.qwen2_5_vl.configuration_qwen2_5_vl import Qwen2_5_VLConfig  # noqa: E402


@strict
class M2ReasoningConfig(Qwen2_5_VLConfig):
    """Configuration of M2-Reasoning: ViT + patch merger, a GELU projector with L2 norm, Qwen2 decoder.

    ``image_token_id`` and ``video_token_id`` both hold the ``<imagePatch>`` id (M2 uses one patch token
    for images and videos; the enclosing ``<image>``/``<video>`` tokens tell them apart).

    Example:
        >>> from m2sdk.model.presets import preset_config
        >>> config = preset_config("m2-7b")
        >>> config.text_config.hidden_size, config.projector_depth
        (3584, 2)
    """

    model_type = "m2_reasoning"

    projector_depth: int = 2
    image_start_token_id: int = 151679
    image_end_token_id: int = 151680
    video_start_token_id: int = 151681
    video_end_token_id: int = 151682
    think_start_token_id: int = 151676
    think_end_token_id: int = 151677
    im_end_token_id: int = 151645

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        if self.projector_depth < 1:
            raise ValueError(f"projector_depth must be >= 1, got {self.projector_depth}")
        if self.vision_config.out_hidden_size != self.text_config.hidden_size:
            raise ValueError(
                "vision_config.out_hidden_size must equal text_config.hidden_size "
                f"({self.vision_config.out_hidden_size} != {self.text_config.hidden_size})"
            )
        rope = self.text_config.rope_parameters or {}
        section = rope.get("mrope_section")
        head_dim = self.text_config.hidden_size // self.text_config.num_attention_heads
        if section is None or 2 * sum(section) != head_dim:
            raise ValueError(f"text_config.rope_parameters.mrope_section {section} must sum to head_dim/2")


def _register_auto_classes() -> None:
    """Let transformers' Auto* classes (used by TRL and accelerate) resolve ``model_type`` m2_reasoning."""
    import contextlib

    from transformers import AutoConfig

    with contextlib.suppress(ValueError):  # already registered in this process
        AutoConfig.register(M2ReasoningConfig.model_type, M2ReasoningConfig)


_register_auto_classes()
