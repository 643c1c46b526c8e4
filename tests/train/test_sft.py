"""Cold-start SFT on m2-tiny: the loss falls, sample weights scale it, checkpoints are m2sdk checkpoints."""

from __future__ import annotations

import pytest
import torch

from m2sdk.model.checkpoint import load_model
from m2train.checkpointing import complete_checkpoints, read_state
from m2train.common import train_and_save
from m2train.config import ModelConfig
from m2train.logs import read_jsonl
from m2train.sft import build_sft_trainer
from tests.train.conftest import sft_config


def test_sft_lowers_the_training_loss_and_saves_loadable_checkpoints(tiny_data, tmp_path):
    config = sft_config(tiny_data, tmp_path / "sft", max_steps=24, save_steps=12, lr=3e-3, batch=8)
    final = train_and_save(build_sft_trainer(config), config)
    losses = [r["loss"] for r in read_jsonl(tmp_path / "sft/logs/metrics.jsonl") if "loss" in r]
    assert len(losses) == 24
    assert sum(losses[-4:]) / 4 < 0.75 * sum(losses[:4]) / 4, losses
    assert [p.name for p in complete_checkpoints(tmp_path / "sft")] == ["checkpoint-12", "checkpoint-24"]
    assert read_state(tmp_path / "sft/checkpoint-12")["kind"] == "sft"
    model, processor = load_model(final)
    assert processor.tokenizer.vocab_size == model.config.text_config.vocab_size
    load_model(tmp_path / "sft/checkpoint-12")


def test_sample_weights_scale_the_loss(tiny_data, tmp_path):
    trainer = build_sft_trainer(sft_config(tiny_data, tmp_path / "w"))
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(2)])
    model = trainer.model
    with torch.no_grad():
        base = trainer.compute_loss(model, dict(batch))
        doubled = trainer.compute_loss(model, {**batch, "sample_weight": batch["sample_weight"] * 2})
        only_first = trainer.compute_loss(model, {**batch, "sample_weight": torch.tensor([1.0, 0.0])})
        first_alone = trainer.compute_loss(
            model,
            {k: (v[:1] if k != "pixel_values" and k != "image_grid_thw" else v) for k, v in _first(batch).items()},
        )
    assert doubled.item() == pytest.approx(2 * base.item(), rel=1e-5)
    n_first = (batch["labels"][0, 1:] != -100).sum()
    n_all = (batch["labels"][:, 1:] != -100).sum()
    assert only_first.item() == pytest.approx(first_alone.item() * n_first.item() / n_all.item(), rel=1e-4)


def _first(batch):
    """The first sample of a collated batch on its own (its pixel rows and grid only)."""
    rows = int(batch["image_grid_thw"][0].prod())
    out = {k: v[:1] for k, v in batch.items() if k not in ("pixel_values", "image_grid_thw")}
    out["pixel_values"] = batch["pixel_values"][:rows]
    out["image_grid_thw"] = batch["image_grid_thw"][:1]
    length = int(out["attention_mask"].sum())
    return {
        k: (v[:, :length] if v.dim() == 2 and k != "pixel_values" and k != "image_grid_thw" else v)
        for k, v in out.items()
    }


def test_frozen_vision_tower_does_not_change(tiny_data, tmp_path):
    config = sft_config(tiny_data, tmp_path / "f", max_steps=2, model=ModelConfig(freeze_vision=True))
    trainer = build_sft_trainer(config)
    vision = {k: v.clone() for k, v in trainer.model.model.visual.state_dict().items()}
    projector = trainer.model.model.linear_proj[0].weight.clone()
    trainer.train()
    assert all(torch.equal(vision[k], v) for k, v in trainer.model.model.visual.state_dict().items())
    assert not torch.equal(projector, trainer.model.model.linear_proj[0].weight)
