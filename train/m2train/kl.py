"""Cosine-annealed KL penalty β(t), set on the trainer before every optimizer step.

M2-Reasoning anneals the KL weight: a strong pull towards the reference policy early (when a fresh
policy is most likely to collapse) that fades as training settles. The report's constants are unknown
here, so the schedule is a config value::

    β(t) = β_end + (β_start − β_end) · ½ · (1 + cos(π · t / (T − 1)))

with t the 0-based optimizer step about to run and T the total number of steps: step 0 uses β_start
(default 0.01, M2's released KL coefficient) and the last step uses β_end (default 0). TRL's
``GRPOTrainer`` reads ``self.beta`` at every loss computation, so setting it in ``on_step_begin`` is all
it takes. β_start must be > 0: TRL builds the reference model only for a non-zero β, and the reference
model is kept when β reaches 0 (its log-probabilities are then simply not computed).

Example:
    >>> [round(kl_beta(t, 5, 0.01, 0.0), 5) for t in range(5)]
    [0.01, 0.00854, 0.005, 0.00146, 0.0]
"""

from __future__ import annotations

import math
from typing import Any

from transformers import TrainerCallback

from m2train.config import KLConfig


def kl_beta(step: int, total_steps: int, beta_start: float, beta_end: float, schedule: str = "cosine") -> float:
    """β at 0-based optimizer ``step`` of ``total_steps`` (see the module doc for the formula)."""
    if schedule == "constant" or total_steps <= 1:
        return float(beta_start)
    progress = min(max(step / (total_steps - 1), 0.0), 1.0)
    return float(beta_end + (beta_start - beta_end) * 0.5 * (1.0 + math.cos(math.pi * progress)))


class KLScheduleCallback(TrainerCallback):
    """Sets ``trainer.beta`` = β(global_step) at the start of every optimizer step and logs it.

    On resume ``state.global_step`` comes back from the checkpoint, so the schedule continues where it
    stopped (the step is also written to ``m2_state.json`` as ``kl_step``).
    """

    def __init__(self, trainer: Any, config: KLConfig) -> None:
        self.trainer = trainer
        self.config = config

    def beta_at(self, step: int, total_steps: int) -> float:
        return kl_beta(step, total_steps, self.config.beta_start, self.config.beta_end, self.config.schedule)

    def on_step_begin(self, args, state, control, **kwargs):
        beta = self.beta_at(state.global_step, state.max_steps)
        self.trainer.beta = beta
        self.trainer._metrics["train"]["kl/beta"].append(beta)
        return control
