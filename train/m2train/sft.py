"""Cold-start SFT on multimodal chain-of-thought data, with TRL's ``SFTTrainer``.

Each sample teaches the full assistant turn, ``<think>{cot}</think><answer>\\boxed{answer}</answer>``
(or the fast answer-only form), built by M2's own processor: the loss covers the assistant tokens only
(``labels`` are -100 on the system prompt, the question and the image tokens) and every sample carries a
weight (its dataset's ``weight`` × the record's own), so the loss is

    L = Σ_b w_b · Σ_t −log p(y_bt) / (number of assistant tokens in the batch)

which is TRL's token-mean NLL when every weight is 1. TRL's fused LM head computes the log-probabilities
without materialising the (B, S, vocab) logits.

Two optional auxiliary terms use dense labels (``m2 data synth --labels``): the vision-code loss on the
vision tokens (``vision_code``, :mod:`m2train.vision_code`) and attention grounding of one decoder layer
(``grounding``, :mod:`m2train.grounding`), each added with its weight.

Example:
    >>> from m2train.config import load_config
    >>> final_checkpoint = run_sft(load_config("train/configs/sft_tiny.yaml", "sft"))
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import torch
from trl import SFTConfig, SFTTrainer

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
from m2train.config import SFTRunConfig
from m2train.data import IGNORE_INDEX, SFTCollator, load_mixture, sft_dataset
from m2train.faults import LOSS_HINT, FaultChecksMixin, check_finite
from m2train.grounding import AttentionCapture, grounding_loss
from m2train.prefix import shared_prefix_hidden
from m2train.role_code import CODES, FIELDS, MAX_ROLES, ROLE_CODE_FIELDS, LayerOutputCapture, RoleCode
from m2train.trl_processor import TRLProcessor

logger = logging.getLogger(__name__)


class M2SFTTrainer(FaultChecksMixin, AtomicCheckpointMixin, SFTTrainer):
    """``SFTTrainer`` with per-sample loss weights, fault checks and atomic m2sdk-format checkpoints."""

    m2_vision_code: Any = None  # VisionCode, when config.vision_code supervises the vision tokens
    m2_vision_weight: float = 0.0
    m2_shared_prefix: bool = False
    # (AttentionCapture of the supervised layer, weight, looks at the words?) per grounding section
    m2_groundings: tuple[tuple[Any, float, bool], ...] = ()
    # (name, RoleCode, LayerOutputCapture of the supervised layer, weight) per supervised code of
    # config.role_code: "role", "comparison" when its comparison_layer is set, "distance" with distance_layer
    m2_role_codes: tuple[tuple[str, Any, Any, float], ...] = ()

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        weights = inputs.pop("sample_weight")  # (B,)
        cells = inputs.pop("vision_targets", None)
        look_at = inputs.pop("grounding_targets", None)
        plan = inputs.pop("grounding_plan", None)
        mentions = inputs.pop("grounding_mentions", None)
        codes = {name: (inputs.pop(f"{name}_targets", None), inputs.pop(f"{name}_mask", None))
                 for name in CODES}  # fmt: skip
        inputs["use_cache"] = False
        core = self.accelerator.unwrap_model(model)
        encoded, vision_loss = None, None
        if self.m2_vision_code is not None and cells is not None and inputs.get("pixel_values") is not None:
            # Encode the images once: their tokens feed both the code loss and the language model.
            encoded = core.model.get_image_features(
                inputs.pop("pixel_values"), inputs["image_grid_thw"], return_dict=True
            )
            vision_loss = self.m2_vision_code.loss(torch.cat(encoded.pooler_output), cells)
        with contextlib.ExitStack() as captures:
            for capture, *_ in self.m2_groundings:
                captures.enter_context(capture)
            for _, _, capture, _ in self.m2_role_codes:
                captures.enter_context(capture)
            if self.m2_shared_prefix:
                outputs = shared_prefix_scores(core, inputs, encoded)
            else:
                if encoded is not None:
                    inputs["mm_encoder_outputs"] = {"image": encoded}
                outputs = model(**inputs, fused_lm_head=True)
        per_token = -outputs.log_probs * weights.to(outputs.log_probs.dtype)[:, None]  # (B, S-1), 0 off the answer
        num_tokens = outputs.label_mask.sum() if num_items_in_batch is None else num_items_in_batch
        loss = per_token.sum() / torch.as_tensor(num_tokens, device=per_token.device).clamp(min=1)
        if self.args.average_tokens_across_devices and num_items_in_batch is not None:
            loss = loss * self.accelerator.num_processes  # DDP averages gradients; the token count is global
        if vision_loss is not None:
            loss = loss + self.m2_vision_weight * vision_loss
            self._metrics["train" if self.model.training else "eval"]["vision_code_loss"].append(vision_loss.item())
        for i, (capture, weight, at_words) in enumerate(
            self.m2_groundings if look_at is not None and plan is not None else []
        ):
            ground = grounding_loss(
                capture.probabilities(inputs["attention_mask"]),
                plan[:, i],
                inputs["input_ids"],
                core.config.image_token_id,
                look_at,
                mentions if at_words else None,
            )
            if ground is not None:
                loss = loss + weight * ground
                name = "grounding_loss" if i == 0 else f"grounding_loss_{i}"
                self._metrics["train" if self.model.training else "eval"][name].append(ground.item())
        for name, code, capture, weight in self.m2_role_codes:
            targets, mask = codes[name]
            code_loss = code.loss(capture.hidden, inputs["labels"], targets, mask) if targets is not None else None
            if code_loss is not None:
                loss = loss + weight * code_loss
                self._metrics["train" if self.model.training else "eval"][f"{name}_code_loss"].append(code_loss.item())
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


def shared_prefix_scores(model: Any, inputs: dict[str, Any], image_features: Any = None) -> SimpleNamespace:
    """Per-token log-probabilities of the labels, computing the prompt prefix every row shares once
    (:mod:`m2train.prefix`) and the LM head only where a label is.

    Returns what TRL's fused LM head returns: ``log_probs``, ``label_mask``, ``is_top1`` and ``entropy``,
    each (B, S-1) and zero off the labelled positions (position t scores token t+1).
    """
    labels = inputs["labels"]
    hidden, start = shared_prefix_hidden(model, inputs, image_features)  # rows for positions start .. S-1
    if bool((labels[:, : start + 1] != IGNORE_INDEX).any()):
        raise InputError("labels inside the shared prompt prefix: the prompt must not be trained on")
    targets = labels[:, start + 1 :]  # what positions start .. S-2 predict
    mask = targets != IGNORE_INDEX
    logits = model.lm_head(hidden[:, :-1][mask]).float()  # (N, vocab): only where a label is
    log_probs = torch.log_softmax(logits, dim=-1)
    picked = log_probs.gather(-1, targets[mask][:, None])[:, 0]
    batch, length = labels.shape
    out = SimpleNamespace(label_mask=torch.zeros(batch, length - 1, dtype=torch.bool, device=labels.device))
    out.label_mask[:, start:] = mask
    out.log_probs = torch.zeros(batch, length - 1, dtype=picked.dtype, device=labels.device)
    out.log_probs = out.log_probs.masked_scatter(out.label_mask, picked)
    out.is_top1 = torch.zeros_like(out.label_mask).masked_scatter(out.label_mask, logits.argmax(-1) == targets[mask])
    entropy = -(log_probs.exp() * log_probs).sum(-1).detach()
    out.entropy = torch.zeros_like(out.log_probs).masked_scatter(out.label_mask, entropy)
    return out


def build_sft_trainer(config: SFTRunConfig) -> M2SFTTrainer:
    """The configured trainer (model, data, callbacks), ready for ``train()``."""
    model, processor = load_policy(config)
    samples = load_mixture(config.data.datasets)
    code = None
    if config.vision_code is not None and config.vision_code.weight > 0:
        from m2train.vision_code import VisionCode

        code = VisionCode.build(model.config.text_config.hidden_size, config.vision_code).to(model.device)
    vocab = (code.colour_names, code.category_names) if code is not None else None
    grounding = [g for g in config.grounding or [] if g.weight > 0] or None
    for section in grounding or []:
        if section.heads > model.config.text_config.num_attention_heads:
            raise InputError(
                f"grounding.heads {section.heads} > the decoder's {model.config.text_config.num_attention_heads} "
                "attention heads"
            )
    role_code = config.role_code if config.role_code is not None and config.role_code.weight > 0 else None
    dataset = sft_dataset(
        samples, processor, max_length=config.data.max_length, mode=config.data.response, vocab=vocab,
        grounding=grounding, count_listing=config.data.count_listing,
        position_listing=config.data.position_listing, role_code=role_code is not None,
    )  # fmt: skip
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
    if code is not None:
        trainer.m2_vision_code, trainer.m2_vision_weight = code, config.vision_code.weight
    trainer.m2_shared_prefix = config.model.shared_prefix
    trainer.m2_groundings = tuple(
        (AttentionCapture(model, g.layer), g.weight, g.keys == "mentions") for g in grounding or []
    )
    if role_code is not None:
        hidden = model.config.text_config.hidden_size
        fields = ROLE_CODE_FIELDS if role_code.polarity else MAX_ROLES * len(FIELDS)
        codes = [("role", RoleCode.build(hidden, role_code.seed, fields), role_code.layer)]
        if role_code.comparison_layer is not None:
            codes.append(
                ("comparison", RoleCode.build(hidden, role_code.seed + 1, MAX_ROLES), role_code.comparison_layer)
            )
        if role_code.distance_layer is not None:
            codes.append(("distance", RoleCode.build(hidden, role_code.seed + 2, MAX_ROLES), role_code.distance_layer))
        trainer.m2_role_codes = tuple(
            (name, code.to(model.device), LayerOutputCapture(model, layer), role_code.weight)
            for name, code, layer in codes
        )
    check_single_process(trainer, config)
    trainer.m2_run_config = run_config_dict(config)
    return trainer


def run_sft(config: SFTRunConfig) -> Path:
    """Run SFT to the end (resuming if a checkpoint exists); returns the final checkpoint folder."""
    trainer = build_sft_trainer(config)
    logger.info("SFT: %d samples, output %s", len(trainer.train_dataset), config.output_dir)
    return train_and_save(trainer, config)
