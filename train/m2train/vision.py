"""Vision pre-training (``m2 train vision``): the vision tower and projector learn the vision code.

The released M2 starts from Qwen2.5-VL's pretrained ViT. A model trained from random weights (m2-mini)
has no such start, and question answering alone does not teach its vision tower in a CPU budget
(docs/m2_mini.md). This stage stands in for that pre-training: every image of a labelled dataset
(``m2 data synth --labels``) is encoded, and each vision token is pulled onto its dense-label target
(:mod:`m2train.vision_code`). The language model is not run and its weights do not change; SFT then
starts from the output (``model.init: runs/vision/final``) and usually keeps the code loss on
(``vision_code.weight`` in its config) so the tokens stay readable while the decoder learns to read them.

Built on ``transformers.Trainer`` with the same atomic, resumable checkpoints and fault checks as SFT
and RL, so it scales the same way (``accelerate launch``).

Example:
    >>> from m2train.config import load_config
    >>> final = run_vision(load_config("train/configs/m2_mini_vision.yaml", "vision"))
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import Trainer, TrainingArguments

from m2sdk.errors import InputError
from m2train.checkpointing import AtomicCheckpointMixin
from m2train.common import (
    callbacks_for,
    check_single_process,
    load_policy,
    run_config_dict,
    train_and_save,
    training_kwargs,
)
from m2train.config import VisionRunConfig
from m2train.data import Sample, Vocab, budget_config, load_images, load_mixture, vision_targets
from m2train.faults import FaultChecksMixin
from m2train.vision_code import VisionCode

logger = logging.getLogger(__name__)


class LabelledImages(torch.utils.data.Dataset):
    """One example per distinct labelled image of a mixture (questions sharing an image count once).

    Images are read and encoded per step, not held in memory.
    """

    def __init__(self, samples: list[Sample], processor: Any, vocab: Vocab) -> None:
        seen: set[Path] = set()
        self.samples: list[Sample] = []
        for sample in samples:
            paths = sample.media_paths()
            if sample.record.media_type != "image" or len(paths) != 1 or not (sample.record.scene or {}).get("labels"):
                continue
            if paths[0] not in seen:
                seen.add(paths[0])
                self.samples.append(sample)
        if not self.samples:
            raise InputError(
                "no labelled single-image records in the mixture; make the data with `m2 data synth --labels`"
            )
        self.processor, self.vocab = processor, vocab

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        from m2sdk.processing import preprocess_images

        sample = self.samples[index]
        config = budget_config(self.processor.config, sample.spec)
        pixel_values, grid = preprocess_images(load_images(sample.media_paths(), config), config)
        return {
            "pixel_values": pixel_values,
            "image_grid_thw": grid,
            "vision_targets": vision_targets(sample, grid, config, self.vocab),
        }


def collate_images(examples: list[dict[str, np.ndarray]]) -> dict[str, torch.Tensor]:
    """Concatenate patches, grids and per-token targets in example order (the order of the vision tokens)."""
    return {
        "pixel_values": torch.as_tensor(np.concatenate([e["pixel_values"] for e in examples]), dtype=torch.float32),
        "image_grid_thw": torch.as_tensor(np.concatenate([e["image_grid_thw"] for e in examples]), dtype=torch.long),
        "vision_targets": torch.as_tensor(np.concatenate([e["vision_targets"] for e in examples]), dtype=torch.float32),
    }


class M2VisionTrainer(FaultChecksMixin, AtomicCheckpointMixin, Trainer):
    """Trains the vision tower and projector on the vision code loss; the language model stays frozen."""

    m2_vision_code: VisionCode

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        encoded = self.accelerator.unwrap_model(model).model.get_image_features(
            inputs["pixel_values"], inputs["image_grid_thw"], return_dict=True
        )
        loss = self.m2_vision_code.loss(torch.cat(encoded.pooler_output), inputs["vision_targets"])
        return (loss, encoded) if return_outputs else loss

    def m2_state(self) -> dict[str, Any]:
        return {"kind": "vision", "config": self.m2_run_config}


def build_vision_trainer(config: VisionRunConfig) -> M2VisionTrainer:
    """The configured trainer: model with its language model frozen, labelled images, callbacks."""
    model, processor = load_policy(config)
    model.model.language_model.requires_grad_(False)
    model.lm_head.requires_grad_(False)
    code = VisionCode.build(model.config.text_config.hidden_size, config.vision_code).to(model.device)
    dataset = LabelledImages(load_mixture(config.data.datasets), processor, (code.colour_names, code.category_names))
    trainer = M2VisionTrainer(
        model=model,
        args=TrainingArguments(**training_kwargs(config)),
        train_dataset=dataset,
        data_collator=collate_images,
        callbacks=callbacks_for(config),
    )
    trainer.m2_vision_code = code
    trainer.m2_processor = processor
    trainer.m2_check_finite = config.check_finite
    trainer.m2_run_config = run_config_dict(config)
    check_single_process(trainer, config)
    return trainer


def run_vision(config: VisionRunConfig) -> Path:
    """Run vision pre-training to the end (resuming if a checkpoint exists); returns the final checkpoint."""
    trainer = build_vision_trainer(config)
    logger.info("vision pre-training: %d labelled images, output %s", len(trainer.train_dataset), config.output_dir)
    return train_and_save(trainer, config)
