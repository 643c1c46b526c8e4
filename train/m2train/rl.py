"""RLVR with TRL's ``GRPOTrainer``, plus M2-Reasoning's dynamic multi-task pieces.

``M2GRPOTrainer`` keeps TRL's rollout, group-advantage and loss code (``loss_type`` dapo/grpo/dr_grpo/bnpo,
``scale_rewards``, optional vLLM rollouts) and adds, each through a documented TRL hook:

* task-routed rewards, every component logged (:mod:`m2train.rewards`, TRL ``reward_funcs``);
* curriculum sampling from easy to hard, resumable (:mod:`m2train.curriculum`, ``_get_train_sampler``);
* dynamic sample weights from group pass rates, multiplied into the advantages (:mod:`m2train.weights`,
  ``_calculate_rewards`` + ``_generate_and_score_completions``);
* the cosine-annealed KL weight β(t) (:mod:`m2train.kl`, a callback setting ``self.beta`` each step), with
  the reference model built once from the initial policy and kept when β reaches 0;
* NaN/inf checks and atomic m2sdk-format checkpoints (:mod:`m2train.faults`, :mod:`m2train.checkpointing`).

The reference model is a frozen copy of the policy made before training (TRL would re-load it from the
hub id in the model config, which an m2sdk preset or a local checkpoint does not have).

Example:
    >>> from m2train.config import load_config, apply_overrides
    >>> cfg = apply_overrides(load_config("train/configs/rl_tiny.yaml", "rl"), init="runs/sft_tiny/final")
    >>> final_checkpoint = run_rl(cfg)
"""

from __future__ import annotations

import copy
import logging
import time
from pathlib import Path
from typing import Any

import torch
from trl import GRPOConfig, GRPOTrainer
from trl.models import prepare_deepspeed, prepare_fsdp
from trl.trainer.utils import add_fused_lm_head, disable_dropout_in_model

from m2sdk._deps import available, require
from m2sdk.prompt import FAST_RESPONSE_PREFIX
from m2train.checkpointing import AtomicCheckpointMixin, read_state, resolve_resume
from m2train.common import callbacks_for, load_policy, run_config_dict, train_and_save, training_kwargs
from m2train.config import RLRunConfig
from m2train.curriculum import (
    ANSWER_ORDER_WARN,
    CurriculumSampler,
    answer_order,
    batches_done,
    total_generation_batches,
)
from m2train.data import load_mixture, rl_dataset
from m2train.faults import FaultChecksMixin, NonFiniteError
from m2train.kl import KLScheduleCallback
from m2train.logs import COMPLETIONS_FILE, append_jsonl, logs_dir
from m2train.rewards import make_reward_funcs, routes_used, task_columns
from m2train.trl_processor import TRLProcessor
from m2train.weights import pass_rates, rollout_weights

logger = logging.getLogger(__name__)


class M2GRPOTrainer(FaultChecksMixin, AtomicCheckpointMixin, GRPOTrainer):
    """``GRPOTrainer`` with M2's curriculum, sample weights, KL schedule, fault checks and checkpoints."""

    def __init__(self, *, model: Any, args: GRPOConfig, run_config: RLRunConfig, processor: Any, **kwargs: Any):
        reference = copy.deepcopy(model).eval().requires_grad_(False)  # before TRL patches the policy
        beta_start, args.beta = args.beta, 0.0  # stop TRL from loading a reference by hub id
        processing_class = TRLProcessor(processor, reasoning=run_config.rollout.reasoning)
        super().__init__(model=model, args=args, processing_class=processing_class, **kwargs)
        args.beta = self.beta = beta_start
        self.ref_model = self._prepare_reference(reference)
        self.run_config = run_config
        self.m2_processor = processor
        self.m2_check_finite = run_config.check_finite
        self._sampler: CurriculumSampler | None = None
        self._weights: torch.Tensor | None = None
        self.add_callback(KLScheduleCallback(self, run_config.kl))

    def _prepare_reference(self, reference: Any) -> Any:
        if self.args.disable_dropout:
            disable_dropout_in_model(reference)
        add_fused_lm_head(reference, temperature=self.temperature)
        if self.is_deepspeed_enabled:
            return prepare_deepspeed(reference, self.accelerator)
        if self.is_fsdp_enabled:
            return prepare_fsdp(reference, self.accelerator)
        return self.accelerator.prepare_model(reference, evaluation_mode=True)

    # --- curriculum --------------------------------------------------------------------------------
    def curriculum_sampler(self) -> CurriculumSampler:
        """The run's sampler (built once; its order depends only on the seed, data and schedule)."""
        if self._sampler is None:
            cfg, args = self.run_config, self.args
            column = self.train_dataset.data.column("difficulty").to_pylist()  # Arrow: no image decoding
            difficulties = [cfg.curriculum.default_difficulty if d is None else d for d in column]
            if cfg.curriculum.kind != "none":
                warn_answer_order(self.train_dataset, difficulties)
            spg = args.steps_per_generation
            self._sampler = CurriculumSampler(
                difficulties, cfg.curriculum,
                prompts_per_batch=args.generation_batch_size // self.num_generations,
                num_generations=self.num_generations, repeat_count=self.num_iterations * spg,
                total_batches=total_generation_batches(args.max_steps, args.gradient_accumulation_steps, spg,
                                                       self.num_iterations),
                seed=args.seed,
            )  # fmt: skip
        return self._sampler

    def _get_train_sampler(self, dataset: Any = None) -> CurriculumSampler:
        return self.curriculum_sampler()

    def _generation_index(self) -> int:
        args = self.args
        return batches_done(self.state.global_step, args.gradient_accumulation_steps, args.steps_per_generation,
                            self.num_iterations)  # fmt: skip

    # --- rewards, weights, advantages -----------------------------------------------------------------
    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        rewards = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)  # (N, F), all ranks
        if torch.isinf(rewards).any():
            raise NonFiniteError("a reward is infinite; the step was stopped before any update")
        task = rewards[:, task_columns(self.reward_funcs)]  # (N, routes): one non-NaN task entry per row
        if torch.isnan(task).all(dim=1).any():
            row = int(torch.isnan(task).all(dim=1).nonzero()[0, 0])
            raise NonFiniteError(f"completion {row} got no task reward (NaN): its record matched no reward route")
        task_scores = torch.nan_to_num(task, nan=0.0).sum(dim=1)  # (N,)
        if self.model.training:
            self._weights = self._sample_weights(task_scores)
            self._log_curriculum()
        return rewards

    def _sample_weights(self, task_scores: torch.Tensor) -> torch.Tensor | None:
        w = self.run_config.weights
        rates = pass_rates(task_scores, self.num_generations, w.pass_threshold)
        metrics = self._metrics["train"]
        metrics["weights/pass_rate"].append(rates.mean().item())
        metrics["weights/frac_no_signal"].append(((rates == 0) | (rates == 1)).float().mean().item())
        if not w.enabled:
            return None
        weights = rollout_weights(task_scores, self.num_generations, w.pass_threshold, w.gamma, w.normalise)
        metrics["weights/mean"].append(weights.mean().item())
        metrics["weights/max"].append(weights.max().item())
        return weights

    def _log_curriculum(self) -> None:
        stage, low, high = self.curriculum_sampler().bounds(self._generation_index())
        metrics = self._metrics["train"]
        metrics["curriculum/stage"].append(float(stage))
        metrics["curriculum/min_difficulty"].append(low)
        metrics["curriculum/max_difficulty"].append(high)

    def _generate(self, prompts):
        start = time.perf_counter()
        result = super()._generate(prompts)
        self._metrics["train" if self.model.training else "eval"]["time/generate_s"].append(time.perf_counter() - start)
        return result

    def _generate_and_score_completions(self, inputs):
        start = time.perf_counter()
        output = super()._generate_and_score_completions(inputs)
        # rollout = generation + rewards + old/reference log-probs; TRL's step_time minus this is the update
        self._metrics["train" if self.model.training else "eval"]["time/rollout_s"].append(time.perf_counter() - start)
        if self.model.training and self._weights is not None:
            start = self.accelerator.process_index * len(inputs)
            local = self._weights[start : start + len(inputs)].to(output["advantages"].device)  # (B,)
            output["advantages"] = output["advantages"] * local
        self._maybe_log_completions(inputs)
        return output

    def _maybe_log_completions(self, inputs: list[dict[str, Any]]) -> None:
        every, count = self.run_config.logging.completions_every_steps, self.run_config.logging.num_completions
        if not (self.model.training and self.accelerator.is_main_process and self.state.global_step % every == 0):
            return
        n_all = len(inputs) * self.accelerator.num_processes  # the logs hold every rank's rows; ours come first
        rewards = {name: list(values)[-n_all:][: len(inputs)] for name, values in self._logs["rewards"].items()}
        completions = list(self._logs["completion"])[-n_all:][: len(inputs)]
        weights = self._weights.tolist()[: len(inputs)] if self._weights is not None else [1.0] * len(inputs)
        for i, row in enumerate(inputs[:count]):
            append_jsonl(logs_dir(self.args.output_dir) / COMPLETIONS_FILE, {
                "step": self.state.global_step, "id": row.get("id"), "task": row.get("task"),
                "answer": row.get("answer"), "completion": _text(completions[i]),
                "rewards": {k: v[i] for k, v in rewards.items()}, "weight": weights[i],
            })  # fmt: skip

    # --- checkpoint state ---------------------------------------------------------------------------------
    def m2_state(self) -> dict[str, Any]:
        return {
            "kind": "rl",
            "kl_step": self.state.global_step,
            "beta": self.beta,
            "curriculum": self.curriculum_sampler().state(self._generation_index()),
            "config": run_config_dict(self.run_config),
        }


def _text(completion: Any) -> str:
    if isinstance(completion, list) and completion:
        return str(completion[-1].get("content", ""))
    return str(completion)


def grpo_args(config: RLRunConfig, reward_weights: list[float]) -> GRPOConfig:
    """``GRPOConfig`` from the run config."""
    rollout = config.rollout
    if rollout.use_vllm and not available("vllm"):
        require("vllm")  # raises MissingExtraError with the install hint
    vllm = {"vllm_mode": rollout.vllm_mode, "vllm_gpu_memory_utilization": rollout.vllm_gpu_memory_utilization}
    if rollout.vllm_server_base_url:
        vllm["vllm_server_base_url"] = rollout.vllm_server_base_url
    return GRPOConfig(
        **training_kwargs(config),
        num_generations=rollout.num_generations,
        max_completion_length=rollout.max_completion_length,
        temperature=rollout.temperature,
        top_p=rollout.top_p,
        loss_type=rollout.loss_type,
        scale_rewards=rollout.scale_rewards,
        epsilon=rollout.epsilon,
        num_iterations=rollout.num_iterations,
        mask_truncated_completions=rollout.mask_truncated_completions,
        beta=config.kl.beta_start,
        reward_weights=reward_weights,
        use_vllm=rollout.use_vllm,
        disable_dropout=True,
        log_completions=False,  # our completions log is JSONL (logs.py); TRL's needs pandas/parquet
        **vllm,
    )


def build_rl_trainer(config: RLRunConfig) -> M2GRPOTrainer:
    """The configured trainer (policy, reference, data, rewards, callbacks), ready for ``train()``."""
    if config.optim.max_steps < 1:
        raise ValueError("optim.max_steps must be set (>= 1) for RL: the curriculum is laid out over it")
    model, processor = load_policy(config)
    dataset = rl_dataset(load_mixture(config.data.datasets), processor.config)
    columns = dataset.data  # Arrow table: reading columns decodes no image
    routes = routes_used(columns.column("task").to_pylist(), columns.column("answer_type").to_pylist(), config.rewards)
    prefix = "" if config.rollout.reasoning else FAST_RESPONSE_PREFIX
    listed = any(columns.column("listing").to_pylist())
    funcs, weights = make_reward_funcs(config.rewards, routes, completion_prefix=prefix, listed=listed)
    return M2GRPOTrainer(
        model=model,
        args=grpo_args(config, weights),
        run_config=config,
        processor=processor,
        reward_funcs=funcs,
        train_dataset=dataset,
        callbacks=callbacks_for(config),
    )


def warn_answer_order(dataset: Any, difficulties: list[float]) -> dict[str, float]:
    """Warn about tasks whose numeric answers the curriculum would order (see :func:`answer_order`)."""
    data = dataset.data  # Arrow columns: no image decoding
    order = answer_order(difficulties, data.column("answer").to_pylist(), data.column("task").to_pylist())
    ordered = {task: rho for task, rho in order.items() if abs(rho) >= ANSWER_ORDER_WARN}
    if ordered:
        listed = ", ".join(f"{task} (rho {rho:+.2f})" for task, rho in sorted(ordered.items()))
        logger.warning(
            "curriculum: difficulty ranks with the answer for %s, so the curriculum also orders the answers and "
            "GRPO follows each batch's answer range (m2-mini's counts swung from too few to too many over one run; "
            "docs/m2_mini.md); "
            "curriculum.kind: none avoids it",
            listed,
        )
    return ordered


def check_resume_curriculum(trainer: M2GRPOTrainer, config: RLRunConfig) -> None:
    """Warn when the checkpoint's curriculum order differs from the one this config produces."""
    resume = resolve_resume(config.checkpoint.resume, config.output_dir)
    if resume is None:
        return
    saved = read_state(resume).get("curriculum", {}).get("signature")
    if saved and saved != trainer.curriculum_sampler().signature():
        logger.warning("%s: the data or curriculum changed since this checkpoint; the sample order will differ", resume)


def run_rl(config: RLRunConfig) -> Path:
    """Run RLVR to the end (resuming if a checkpoint exists); returns the final checkpoint folder."""
    trainer = build_rl_trainer(config)
    check_resume_curriculum(trainer, config)
    logger.info("RL: %d prompts x %d rollouts, output %s", len(trainer.train_dataset), trainer.num_generations,
                config.output_dir)  # fmt: skip
    return train_and_save(trainer, config)
