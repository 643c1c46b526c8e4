"""Cold-start SFT on multimodal chain-of-thought data, with TRL's ``SFTTrainer``.

Each sample teaches the full assistant turn, ``<think>{cot}</think><answer>\\boxed{answer}</answer>``
(or the fast answer-only form), built by M2's own processor: the loss covers the assistant tokens only
(``labels`` are -100 on the system prompt, the question and the image tokens) and every sample carries a
weight (its dataset's ``weight`` × the record's own), so the loss is

    L = Σ_b w_b · Σ_t −log p(y_bt) / (number of assistant tokens in the batch)

which is TRL's token-mean NLL when every weight is 1. TRL's fused LM head computes the log-probabilities
without materialising the (B, S, vocab) logits.

Example:
    >>> from m2train.config import load_config
    >>> final_checkpoint = run_sft(load_config("train/configs/sft_tiny.yaml", "sft"))
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
from trl import SFTConfig, SFTTrainer

from m2train.checkpointing import AtomicCheckpointMixin
from m2train.common import callbacks_for, load_policy, run_config_dict, train_and_save, training_kwargs
from m2train.config import SFTRunConfig
from m2train.data import SFTCollator, load_mixture, sft_dataset
from m2train.faults import LOSS_HINT, FaultChecksMixin, check_finite
from m2train.trl_processor import TRLProcessor

logger = logging.getLogger(__name__)


class M2SFTTrainer(FaultChecksMixin, AtomicCheckpointMixin, SFTTrainer):
    """``SFTTrainer`` with per-sample loss weights, fault checks and atomic m2sdk-format checkpoints."""

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        weights = inputs.pop("sample_weight")  # (B,)
        inputs["use_cache"] = False
        outputs = model(**inputs, fused_lm_head=True)
        per_token = -outputs.log_probs * weights.to(outputs.log_probs.dtype)[:, None]  # (B, S-1), 0 off the answer
        num_tokens = outputs.label_mask.sum() if num_items_in_batch is None else num_items_in_batch
        loss = per_token.sum() / torch.as_tensor(num_tokens, device=per_token.device).clamp(min=1)
        if self.args.average_tokens_across_devices and num_items_in_batch is not None:
            loss = loss * self.accelerator.num_processes  # DDP averages gradients; the token count is global
        if self.m2_check_finite:
            check_finite("the training loss", loss, self.state.global_step, LOSS_HINT)
        self._log_batch(outputs, weights)
        return (loss, outputs) if return_outputs else loss

    def _log_batch(self, outputs: Any, weights: torch.Tensor) -> None:
        mode = "train" if self.model.training else "eval"
        valid = outputs.label_mask.sum().clamp(min=1)
        self._metrics[mode]["mean_token_accuracy"].append((outputs.is_top1.sum() / valid).item())
        self._metrics[mode]["entropy"].append((outputs.entropy.detach().sum() / valid).item())
        self._metrics[mode]["weights/mean"].append(weights.float().mean().item())

    def m2_state(self) -> dict[str, Any]:
        return {"kind": "sft", "config": self.m2_run_config}


def build_sft_trainer(config: SFTRunConfig) -> M2SFTTrainer:
    """The configured trainer (model, data, callbacks), ready for ``train()``."""
    model, processor = load_policy(config)
    samples = load_mixture(config.data.datasets)
    dataset = sft_dataset(samples, processor, max_length=config.data.max_length, mode=config.data.response)
    args = SFTConfig(
        **training_kwargs(config),
        max_length=config.data.max_length,
        packing=False,
        dataset_kwargs={"skip_prepare_dataset": True},
    )
    trainer = M2SFTTrainer(
        model=model,
        args=args,
        train_dataset=dataset,
        data_collator=SFTCollator(processor),
        processing_class=TRLProcessor(processor),
        callbacks=callbacks_for(config),
    )
    trainer.m2_processor = processor
    trainer.m2_check_finite = config.check_finite
    trainer.m2_run_config = run_config_dict(config)
    return trainer


def run_sft(config: SFTRunConfig) -> Path:
    """Run SFT to the end (resuming if a checkpoint exists); returns the final checkpoint folder."""
    trainer = build_sft_trainer(config)
    logger.info("SFT: %d samples, output %s", len(trainer.train_dataset), config.output_dir)
    return train_and_save(trainer, config)
