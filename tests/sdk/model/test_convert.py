"""`m2 convert`: an official-layout tiny checkpoint converts to identical logits."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import save_file

from m2sdk.errors import CheckpointError
from m2sdk.model.checkpoint import load_model
from m2sdk.model.convert import convert_official


def _official_name(key: str) -> str:
    """The release's tensor names, written out independently of the converter's table."""
    if key.startswith("model.visual."):
        return "vision_model." + key[len("model.visual.") :]
    if key.startswith("model.linear_proj."):
        return "linear_proj." + key[len("model.linear_proj.") :]
    if key.startswith("model.language_model."):
        return "language_model.model." + key[len("model.language_model.") :]
    assert key == "lm_head.weight"
    return "language_model.lm_head.weight"


def _write_official(model, processor, folder, n_shards: int = 2) -> None:
    folder.mkdir()
    state = {_official_name(k): v.contiguous() for k, v in model.state_dict().items()}
    names = sorted(state)
    weight_map = {}
    for i in range(n_shards):
        shard = f"model-{i + 1:05d}-of-{n_shards:05d}.safetensors"
        part = {n: state[n] for n in names[i::n_shards]}
        save_file(part, str(folder / shard))
        weight_map.update(dict.fromkeys(part, shard))
    (folder / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    text, vision = model.config.text_config, model.config.vision_config
    llm = {
        "model_type": "qwen2", "vocab_size": text.vocab_size, "hidden_size": text.hidden_size,
        "intermediate_size": text.intermediate_size, "num_hidden_layers": text.num_hidden_layers,
        "num_attention_heads": text.num_attention_heads, "num_key_value_heads": text.num_key_value_heads,
        "max_position_embeddings": text.max_position_embeddings, "rms_norm_eps": text.rms_norm_eps,
        "rope_theta": 1e6, "rope_scaling": {"type": "mrope", "mrope_section": [2, 3, 3]},
    }  # fmt: skip
    vis = {k: getattr(vision, k) for k in ("depth", "hidden_size", "num_heads", "intermediate_size",
                                           "out_hidden_size", "window_size", "tokens_per_second")}  # fmt: skip
    vis["fullatt_block_indexes"] = list(vision.fullatt_block_indexes)
    bailing = {"architectures": ["Bailing_qwen2_5NativeForConditionalGeneration"], "mlp_depths": 2,
               "llm_config": llm, "vision_config": vis}  # fmt: skip
    (folder / "config.json").write_text(json.dumps(bailing))
    processor.tokenizer.save(folder)


def test_official_layout_converts_to_identical_logits(tiny_model, tiny_processor, tmp_path, frame_rgb):
    src = tmp_path / "official"
    _write_official(tiny_model, tiny_processor, src)
    dst = convert_official(src, tmp_path / "converted")
    model, processor = load_model(dst)
    inputs = processor(frame_rgb, "How far is the chair from the camera?").to_torch()
    with torch.no_grad():
        assert torch.equal(model(**inputs).logits, tiny_model(**inputs).logits)
    assert not (tmp_path / "converted.partial").exists()


def test_convert_refuses_unknown_tensor_and_leaves_nothing(tiny_model, tiny_processor, tmp_path):
    src = tmp_path / "official"
    _write_official(tiny_model, tiny_processor, src, n_shards=1)
    save_file({"audio_model.encoder.w": torch.zeros(2)}, str(src / "model-00001-of-00001.safetensors"))
    with pytest.raises(CheckpointError, match="audio_model"):
        convert_official(src, tmp_path / "converted")
    assert not (tmp_path / "converted").exists()
