"""Convert an official M2-Reasoning release into an m2sdk checkpoint folder (``m2 convert SRC DST``).

The release (inclusionAI/M2-Reasoning) stores ``Bailing_qwen2_5NativeForConditionalGeneration``
weights as safetensors shards whose keys start with ``vision_model.`` (the Qwen2.5 ViT, same module
names as transformers'), ``linear_proj.`` (the projector) and ``language_model.`` (a Qwen2ForCausalLM),
with a "Bailing" config ``{"mlp_depths": 2, "llm_config": {...}, "vision_config": {...}}``.
Shards are renamed one at a time, so memory stays at one shard.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from m2sdk.errors import CheckpointError
from m2sdk.model.checkpoint import INDEX_FILE, WEIGHTS_FILE, validate_checkpoint

# Official prefix → m2sdk prefix, first match wins (lm_head before the rest of the language model).
KEY_PREFIXES: tuple[tuple[str, str], ...] = (
    ("vision_model.", "model.visual."),
    ("linear_proj.", "model.linear_proj."),
    ("language_model.lm_head.", "lm_head."),
    ("language_model.model.", "model.language_model."),
)
_TEXT_KEYS = (
    "vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
    "num_key_value_heads", "max_position_embeddings", "rms_norm_eps", "hidden_act", "attention_dropout",
)  # fmt: skip
_VISION_KEYS = (
    "depth", "hidden_size", "num_heads", "intermediate_size", "out_hidden_size", "fullatt_block_indexes",
    "window_size", "patch_size", "spatial_merge_size", "temporal_patch_size", "tokens_per_second",
    "hidden_act", "in_channels",
)  # fmt: skip
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.json", "merges.txt")


def rename_key(key: str) -> str:
    """The m2sdk name of an official tensor name; unknown prefixes (e.g. audio) raise."""
    for old, new in KEY_PREFIXES:
        if key.startswith(old):
            return new + key[len(old) :]
    raise CheckpointError(f"tensor {key!r} has no known M2 prefix {[p for p, _ in KEY_PREFIXES]}")


def config_from_bailing(bailing: dict[str, Any], token_ids: dict[str, int]):
    """An :class:`M2ReasoningConfig` from the release's Bailing config dict."""
    from m2sdk.model.config import M2ReasoningConfig

    try:
        llm, vision = bailing["llm_config"], bailing["vision_config"]
    except KeyError as err:
        raise CheckpointError(f"not a Bailing/M2 config: missing {err}") from err
    rope = dict(llm.get("rope_scaling") or {})
    text = {k: llm[k] for k in _TEXT_KEYS if k in llm}
    text["rope_parameters"] = {
        "rope_type": "default",
        "rope_theta": float(llm.get("rope_theta", 1e6)),
        "mrope_section": list(rope.get("mrope_section", [16, 24, 24])),
    }
    vis = {k: vision[k] for k in _VISION_KEYS if k in vision}
    vis.setdefault("out_hidden_size", text["hidden_size"])
    return M2ReasoningConfig(
        vision_config=vis,
        text_config={**text, "eos_token_id": token_ids["im_end_token_id"], "bos_token_id": None},
        projector_depth=int(bailing.get("mlp_depths", 2)),
        **token_ids,
    )


def official_token_ids(src: Path) -> dict[str, int]:
    """Special token ids from the release's tokenizer.json, or the published ids if it has none."""
    from m2sdk import tokens
    from m2sdk.model.presets import token_ids
    from m2sdk.tokenizer import M2Tokenizer

    if (src / "tokenizer.json").is_file():
        return token_ids(M2Tokenizer.from_folder(src))
    ids = tokens.RELEASED_IDS
    return {
        "image_token_id": ids[tokens.IMAGE_PATCH], "video_token_id": ids[tokens.IMAGE_PATCH],
        "vision_start_token_id": ids[tokens.IMAGE_START], "vision_end_token_id": ids[tokens.IMAGE_END],
        "image_start_token_id": ids[tokens.IMAGE_START], "image_end_token_id": ids[tokens.IMAGE_END],
        "video_start_token_id": ids[tokens.VIDEO_START], "video_end_token_id": ids[tokens.VIDEO_END],
        "think_start_token_id": ids[tokens.THINK_START], "think_end_token_id": ids[tokens.THINK_END],
        "im_end_token_id": ids[tokens.IM_END],
    }  # fmt: skip


def _source_shards(src: Path) -> list[Path]:
    index = src / INDEX_FILE
    if index.is_file():
        return sorted({src / f for f in json.loads(index.read_text())["weight_map"].values()})
    shards = sorted(src.glob("*.safetensors"))
    if not shards:
        raise CheckpointError(f"{src} holds no .safetensors files (pickle .bin weights are not converted)")
    return shards


def convert_official(src: str | Path, dst: str | Path, *, overwrite: bool = False) -> Path:
    """Convert the release folder ``src`` into the m2sdk checkpoint folder ``dst`` (written atomically).

    Example:
        >>> convert_official("M2-Reasoning-7B", "checkpoints/m2-7b")
    """
    src, dst = Path(src), Path(dst)
    if dst.exists() and not overwrite:
        raise CheckpointError(f"{dst} already exists; pass overwrite=True (--overwrite) to replace it")
    config_path = src / "config.json"
    if not config_path.is_file():
        raise CheckpointError(f"{config_path} is missing: is {src} an M2-Reasoning release folder?")
    config = config_from_bailing(json.loads(config_path.read_text()), official_token_ids(src))
    tmp = dst.with_name(dst.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        _write_converted(src, tmp, config)
        validate_checkpoint(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)  # never leave a half-written checkpoint behind
        raise
    if dst.exists():
        shutil.rmtree(dst)
    tmp.rename(dst)
    return dst


def _write_converted(src: Path, tmp: Path, config) -> None:
    """Rename the tensors of every source shard into ``tmp``, then config and processor files."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    weight_map: dict[str, str] = {}
    shards = _source_shards(src)
    for i, shard in enumerate(shards):
        name = WEIGHTS_FILE if len(shards) == 1 else f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors"
        with safe_open(str(shard), framework="pt") as f:
            tensors = {rename_key(k): f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (not a dict)
        save_file(tensors, str(tmp / name), metadata={"format": "pt"})
        weight_map.update(dict.fromkeys(tensors, name))
    if len(shards) > 1:
        (tmp / INDEX_FILE).write_text(json.dumps({"metadata": {}, "weight_map": weight_map}, indent=2))
    config.save_pretrained(tmp)
    _copy_processor_files(src, tmp)


def _copy_processor_files(src: Path, dst: Path) -> None:
    from m2sdk.processing import ImageProcessorConfig

    for name in _TOKENIZER_FILES:
        if (src / name).is_file():
            shutil.copy2(src / name, dst / name)
    settings = {}
    if (src / "preprocessor_config.json").is_file():
        settings = json.loads((src / "preprocessor_config.json").read_text())
    config = ImageProcessorConfig.from_dict(settings).to_dict()
    (dst / "preprocessor_config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
