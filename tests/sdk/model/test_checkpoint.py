"""Checkpoint folders: round trip, and clear errors for missing, mis-shaped or truncated tensors."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

from m2sdk.errors import CheckpointError
from m2sdk.model.checkpoint import load_model, validate_checkpoint


def _copy(src, tmp_path):
    dst = tmp_path / "ckpt"
    shutil.copytree(src, dst)
    return dst


def test_round_trip_gives_identical_logits(tiny_checkpoint, tiny_model, tiny_processor, frame_rgb):
    model, processor = load_model(tiny_checkpoint)
    inputs = processor(frame_rgb, "How far is the chair?").to_torch()
    with torch.no_grad():
        assert torch.equal(model(**inputs).logits, tiny_model(**inputs).logits)
    assert processor.tokenizer.vocab_size == tiny_processor.tokenizer.vocab_size
    assert sorted(p.name for p in tiny_checkpoint.iterdir()) == [
        "config.json", "generation_config.json", "model.safetensors", "preprocessor_config.json",
        "tokenizer.json", "tokenizer_config.json",
    ]  # fmt: skip


def test_missing_tensor_is_named(tiny_checkpoint, tmp_path):
    ckpt = _copy(tiny_checkpoint, tmp_path)
    tensors = load_file(ckpt / "model.safetensors")
    del tensors["model.linear_proj.2.weight"]
    save_file(tensors, ckpt / "model.safetensors")
    with pytest.raises(CheckpointError, match=r"model\.linear_proj\.2\.weight.*missing"):
        load_model(ckpt)


def test_wrong_shape_is_named_with_file(tiny_checkpoint, tmp_path):
    ckpt = _copy(tiny_checkpoint, tmp_path)
    tensors = load_file(ckpt / "model.safetensors")
    tensors["lm_head.weight"] = tensors["lm_head.weight"][:, :10].contiguous()
    save_file(tensors, ckpt / "model.safetensors")
    with pytest.raises(CheckpointError, match=r"model\.safetensors: tensor 'lm_head\.weight' has shape"):
        validate_checkpoint(ckpt)


def test_truncated_file_is_reported(tiny_checkpoint, tmp_path):
    ckpt = _copy(tiny_checkpoint, tmp_path)
    path = ckpt / "model.safetensors"
    path.write_bytes(path.read_bytes()[:-1000])
    with pytest.raises(CheckpointError, match=r"model\.safetensors is truncated: tensor '.+'"):
        load_model(ckpt)


def test_no_weights_and_pickle_weights_are_refused(tiny_checkpoint, tmp_path):
    ckpt = _copy(tiny_checkpoint, tmp_path)
    (ckpt / "model.safetensors").rename(ckpt / "pytorch_model.bin")
    with pytest.raises(CheckpointError, match="pickle weights are not loaded"):
        load_model(ckpt)


def test_not_a_folder_never_downloads(tmp_path):
    with pytest.raises(CheckpointError, match="not a local folder"):
        validate_checkpoint("inclusionAI/M2-Reasoning")


def test_bad_config_is_reported(tiny_checkpoint, tmp_path):
    ckpt = _copy(tiny_checkpoint, tmp_path)
    (ckpt / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match=r"config\.json is not a valid M2 config"):
        load_model(ckpt)


def test_sharded_checkpoint_loads(tiny_model, tiny_processor, tmp_path, frame_rgb):
    from m2sdk.model.checkpoint import save_checkpoint

    ckpt = save_checkpoint(tiny_model, tiny_processor, tmp_path / "sharded", max_shard_size="300KB")
    index = json.loads((ckpt / "model.safetensors.index.json").read_text())
    assert len(set(index["weight_map"].values())) > 1
    model, processor = load_model(ckpt)
    inputs = processor(frame_rgb, "How far?").to_torch()
    with torch.no_grad():
        assert torch.equal(model(**inputs).logits, tiny_model(**inputs).logits)
