"""`m2 train vision` and the SFT options around it: the vision tokens learn the code, nothing else moves."""

from __future__ import annotations

import pytest
import torch

from m2sdk.data.dataset import load_records
from m2sdk.errors import InputError
from m2sdk.model.checkpoint import load_model
from m2train.common import train_and_save
from m2train.config import (
    CheckpointConfig,
    DataConfig,
    DatasetSpec,
    LoggingConfig,
    ModelConfig,
    OptimConfig,
    VisionCodeConfig,
    VisionRunConfig,
)
from m2train.logs import read_jsonl
from m2train.sft import build_sft_trainer
from m2train.vision import build_vision_trainer
from tests.train.conftest import sft_config
from tests.train.synthetic import labelled_rooms


@pytest.fixture(scope="module")
def labelled(tmp_path_factory):
    return labelled_rooms(tmp_path_factory.mktemp("labelled"), n=24, seed=2, objects=(2, 3))


def vision_config(data, output_dir, *, max_steps=30) -> VisionRunConfig:
    return VisionRunConfig(
        data=DataConfig(datasets=[DatasetSpec(path=str(data))]),
        output_dir=str(output_dir),
        optim=OptimConfig(learning_rate=3e-3, per_device_batch_size=8, max_steps=max_steps, lr_scheduler="constant"),
        logging=LoggingConfig(every_steps=1, tensorboard=False, progress_bar=False),
        checkpoint=CheckpointConfig(save_steps=1000, save_total_limit=None),
    )


def _code_loss(trainer, model) -> float:
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(len(trainer.train_dataset))])
    with torch.no_grad():
        features = model.model.get_image_features(batch["pixel_values"], batch["image_grid_thw"], return_dict=True)
        return trainer.m2_vision_code.loss(torch.cat(features.pooler_output), batch["vision_targets"]).item()


def test_vision_stage_learns_the_code_and_leaves_the_language_model_alone(labelled, tmp_path):
    config = vision_config(labelled, tmp_path / "v")
    trainer = build_vision_trainer(config)
    records, _ = load_records(labelled / "samples.jsonl")
    images = {r.media[0] for r in records}
    assert len(images) < len(records) and len(trainer.train_dataset) == len(images)  # each image once
    language = {k: v.clone() for k, v in trainer.model.model.language_model.state_dict().items()}
    before = _code_loss(trainer, trainer.model)
    final = train_and_save(trainer, config)

    losses = [r["loss"] for r in read_jsonl(tmp_path / "v/logs/metrics.jsonl") if "loss" in r]
    assert len(losses) == 30 and sum(losses[-3:]) < 0.6 * sum(losses[:3]), losses
    after_model, _ = load_model(final)
    after = _code_loss(trainer, after_model)
    assert after < 0.6 * before, (before, after)
    for name, value in after_model.model.language_model.state_dict().items():
        assert torch.equal(value, language[name]), name


def test_vision_stage_needs_labelled_images(tiny_data, tmp_path):
    with pytest.raises(InputError, match="--labels"):
        build_vision_trainer(vision_config(tiny_data, tmp_path / "n"))


def test_sft_adds_the_code_loss_on_labelled_data(labelled, tmp_path):
    config = sft_config(labelled, tmp_path / "s", max_steps=2, vision_code=VisionCodeConfig(weight=0.5))
    trainer = build_sft_trainer(config)
    trainer.train()
    logged = [r for r in trainer.state.log_history if "vision_code_loss" in r]
    assert logged and all(0.0 < r["vision_code_loss"] <= 2.0 for r in logged)


def test_frozen_vision_tower_and_projector_do_not_change(tiny_data, tmp_path):
    model = ModelConfig(freeze_vision=True, freeze_projector=True, shared_prefix=True)
    trainer = build_sft_trainer(sft_config(tiny_data, tmp_path / "f", max_steps=2, model=model))
    frozen = {
        k: v.clone()
        for k, v in trainer.model.state_dict().items()
        if k.startswith(("model.visual", "model.linear_proj"))
    }
    embed = trainer.model.get_input_embeddings().weight.clone()
    trainer.train()
    state = trainer.model.state_dict()
    assert frozen and all(torch.equal(state[k], v) for k, v in frozen.items())
    assert not torch.equal(embed, trainer.model.get_input_embeddings().weight)  # the decoder did train
