"""Stop a step on a NaN/inf loss, reward or gradient norm, before it reaches the weights.

``transformers.Trainer`` only filters NaN losses out of its *logs* (``logging_nan_inf_filter``) and still
runs backward and the optimizer step, so one bad batch silently turns every weight into NaN. The checks
here raise :class:`NonFiniteError` at the first non-finite value: the loss is checked before backward,
the gradient norm before ``optimizer.step()``, rewards as they are computed (:mod:`m2train.rewards`).
The weights and the last checkpoint stay as they were; the message says which value, where, and what
to try next.
"""

from __future__ import annotations

import math
from typing import Any

from m2sdk.errors import M2Error


class NonFiniteError(M2Error):
    """A loss, reward or gradient became NaN or infinite; the step was stopped before any weight update."""


def check_finite(what: str, value: Any, step: int, hint: str) -> None:
    """Raise :class:`NonFiniteError` unless ``value`` (a number or tensor) is finite everywhere.

    Example:
        >>> check_finite("loss", float("nan"), step=3, hint="lower the learning rate")
        Traceback (most recent call last):
        m2train.faults.NonFiniteError: loss is nan at step 3 ...
    """
    if hasattr(value, "detach"):
        import torch

        finite = bool(torch.isfinite(value.detach()).all())
        shown = value.detach().float().flatten()[:4].tolist()
        shown = shown[0] if len(shown) == 1 else shown
    else:
        finite, shown = math.isfinite(float(value)), float(value)
    if not finite:
        raise NonFiniteError(
            f"{what} is {shown} at step {step}; the step was stopped before any weight update "
            f"(the last checkpoint is intact). {hint}"
        )


class FaultChecksMixin:
    """Trainer mixin: check the loss before backward and the gradient norm before the optimizer step.

    Put it first in the bases (``class M2SFTTrainer(FaultChecksMixin, SFTTrainer)``); ``self.m2_check_finite``
    switches it off.
    """

    m2_check_finite: bool = True

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        result = super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        loss = result[0] if isinstance(result, tuple) else result
        if self.m2_check_finite:
            check_finite("the training loss", loss, self.state.global_step, LOSS_HINT)
        return result

    def _get_grad_norm(self, model, grad_norm=None):
        norm = super()._get_grad_norm(model, grad_norm=grad_norm)
        if self.m2_check_finite and norm is not None:
            check_finite("the gradient norm", norm, self.state.global_step, GRAD_HINT)
        return norm


LOSS_HINT = "Try a lower learning rate, float32 or bfloat16 instead of float16, or find the batch's bad sample."
GRAD_HINT = "Lower the learning rate or optim.max_grad_norm; with float16, switch to bfloat16."
