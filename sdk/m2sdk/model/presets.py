"""Named models: random presets (``m2-7b``, ``m2-tiny``, ``m2-mini-init``) and bundled trained ones (``m2-mini``).

Preset weights are random but seeded: the same preset is bit-identical in every process, which tests
and export parity checks rely on. Presets use the offline tokenizer, and their configs take the special
token ids from it; converted real checkpoints carry the released ids (:data:`m2sdk.tokens.RELEASED_IDS`).

A bundled name (:data:`BUNDLED`) is a trained checkpoint folder shipped inside the package:
``load_model("m2-mini")`` loads ``m2sdk/assets/m2-mini`` (trained from ``m2-mini-init`` by
``scripts/train_m2_mini.sh``), so it works offline right after ``pip install``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from m2sdk import tokens
from m2sdk.tokenizer import M2Tokenizer


@dataclass(frozen=True)
class Preset:
    """Dimensions of one preset; ``seed`` fixes its random weights."""

    vision: dict[str, Any]
    text: dict[str, Any]
    seed: int
    description: str
    image: dict[str, Any] | None = None  # ImageProcessorConfig overrides (None: the defaults)


_QWEN25_VIT_600M = dict(
    depth=32, hidden_size=1280, num_heads=16, intermediate_size=3420, out_hidden_size=3584,
    fullatt_block_indexes=[7, 15, 23, 31], window_size=112, patch_size=14, spatial_merge_size=2,
    temporal_patch_size=2, tokens_per_second=2, hidden_act="silu",
)  # fmt: skip
_QWEN25_7B = dict(
    hidden_size=3584, intermediate_size=18944, num_hidden_layers=28, num_attention_heads=28,
    num_key_value_heads=4, max_position_embeddings=32768, rms_norm_eps=1e-6, vocab_size=152064,
    rope_parameters={"rope_type": "default", "rope_theta": 1e6, "mrope_section": [16, 24, 24]},
)  # fmt: skip

PRESETS: dict[str, Preset] = {
    "m2-7b": Preset(_QWEN25_VIT_600M, _QWEN25_7B, seed=7, description="M2-Reasoning-7B dimensions (8.3B)"),
    "m2-tiny": Preset(
        vision=dict(
            depth=2, hidden_size=32, num_heads=2, intermediate_size=64, out_hidden_size=64,
            fullatt_block_indexes=[1], window_size=112, patch_size=14, spatial_merge_size=2,
            temporal_patch_size=2, tokens_per_second=2, hidden_act="silu",
        ),
        text=dict(
            hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, max_position_embeddings=4096, rms_norm_eps=1e-6, vocab_size=None,
            rope_parameters={"rope_type": "default", "rope_theta": 1e6, "mrope_section": [2, 3, 3]},
        ),
        seed=1234,
        description="tiny random M2 for tests and CPU work (a few MB)",
    ),
    "m2-mini-init": Preset(
        vision=dict(
            depth=4, hidden_size=128, num_heads=4, intermediate_size=256, out_hidden_size=256,
            fullatt_block_indexes=[0, 1, 2, 3], window_size=112, patch_size=14, spatial_merge_size=2,
            temporal_patch_size=2, tokens_per_second=2, hidden_act="silu",
        ),
        text=dict(
            hidden_size=256, intermediate_size=512, num_hidden_layers=4, num_attention_heads=4,
            num_key_value_heads=2, max_position_embeddings=4096, rms_norm_eps=1e-6, vocab_size=None,
            rope_parameters={"rope_type": "default", "rope_theta": 1e4, "mrope_section": [8, 12, 12]},
        ),
        seed=2024,
        description="m2-mini's architecture with seeded random weights (what scripts/train_m2_mini.sh trains)",
        # 640x480 camera frames become 224x168 (8x6 = 48 visual tokens): small enough to train on a CPU.
        image=dict(min_pixels=16 * 28 * 28, max_pixels=224 * 168, video_min_pixels=16 * 28 * 28,
                   video_max_pixels=224 * 168, video_total_pixels=16 * 224 * 168),
    ),
}  # fmt: skip

# Trained checkpoints shipped in the package: name -> folder under m2sdk/assets.
BUNDLED: dict[str, str] = {"m2-mini": "m2-mini"}
_ASSETS = Path(__file__).resolve().parent.parent / "assets"


def bundled_checkpoint(name: str) -> Path | None:
    """The shipped checkpoint folder of a bundled model name, or None for any other name.

    Raises:
        CheckpointError: The name is bundled but its folder is missing from this installation.

    Example:
        >>> bundled_checkpoint("m2-mini").name
        'm2-mini'
    """
    if name not in BUNDLED:
        return None
    folder = _ASSETS / BUNDLED[name]
    if not (folder / "config.json").is_file():
        from m2sdk.errors import CheckpointError

        raise CheckpointError(
            f"the bundled model {name!r} is missing from {folder}; reinstall m2sdk or rebuild it with "
            "scripts/train_m2_mini.sh"
        )
    return folder


def preset_config(name: str):
    """The :class:`~m2sdk.model.config.M2ReasoningConfig` of a preset.

    Example:
        >>> preset_config("m2-tiny").text_config.num_hidden_layers
        2
    """
    from m2sdk.model.config import M2ReasoningConfig

    preset = _get(name)
    tok = M2Tokenizer.tiny()
    text = dict(preset.text)
    text["vocab_size"] = text["vocab_size"] or tok.vocab_size
    return M2ReasoningConfig(
        vision_config=dict(preset.vision),
        text_config={**text, "eos_token_id": tok.eos_id, "bos_token_id": None, "pad_token_id": tok.pad_id},
        **token_ids(tok),
    )


def token_ids(tok: M2Tokenizer) -> dict[str, int]:
    """Config fields holding special token ids, read from a tokenizer."""
    return {
        "image_token_id": tok.id_of(tokens.IMAGE_PATCH),
        "video_token_id": tok.id_of(tokens.IMAGE_PATCH),
        "vision_start_token_id": tok.id_of(tokens.IMAGE_START),
        "vision_end_token_id": tok.id_of(tokens.IMAGE_END),
        "image_start_token_id": tok.id_of(tokens.IMAGE_START),
        "image_end_token_id": tok.id_of(tokens.IMAGE_END),
        "video_start_token_id": tok.id_of(tokens.VIDEO_START),
        "video_end_token_id": tok.id_of(tokens.VIDEO_END),
        "think_start_token_id": tok.id_of(tokens.THINK_START),
        "think_end_token_id": tok.id_of(tokens.THINK_END),
        "im_end_token_id": tok.eos_id,
    }


def build_preset(name: str, *, dtype: Any = None, device: Any = "cpu"):
    """A preset model with its seeded random weights, in eval mode.

    ``device="meta"`` builds it without memory (for counting parameters of ``m2-7b`` on a laptop).

    Example:
        >>> model = build_preset("m2-tiny")
        >>> sum(p.numel() for p in model.parameters()) < 1_000_000
        True
    """
    import torch

    from m2sdk.model.modeling import M2ReasoningForConditionalGeneration

    config = preset_config(name)
    with torch.random.fork_rng(devices=[]), torch.device(device):
        torch.manual_seed(_get(name).seed)
        model = M2ReasoningForConditionalGeneration(config)
    if dtype is not None:
        model = model.to(dtype)
    return model.eval()


def preset_processor(name: str):
    """The processor that goes with a preset (offline tokenizer, the preset's image settings)."""
    from m2sdk.processing import ImageProcessorConfig
    from m2sdk.processor import M2Processor

    image = _get(name).image
    return M2Processor.tiny(ImageProcessorConfig(**image) if image else None)


def _get(name: str) -> Preset:
    if name not in PRESETS:
        from m2sdk.errors import InputError

        known = sorted([*PRESETS, *BUNDLED])
        raise InputError(f"unknown preset {name!r}; choose one of {known} or give a checkpoint folder")
    return PRESETS[name]
