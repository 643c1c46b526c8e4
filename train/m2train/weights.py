"""Dynamic sample weights: emphasise prompts of medium difficulty for the current policy.

GRPO learns from the spread of rewards inside a group of rollouts of one prompt. A prompt the policy
always solves, or never does, carries no signal; one it solves about half the time carries the most
(M2-Reasoning's "dynamic sample-weight adjustment"; its exact formula is not public). The default
here: with p the group's pass rate (share of rollouts whose task reward ≥ ``pass_threshold``),

    w_raw(p) = (4 · p · (1 − p)) ** γ      (1 at p = ½, 0 at p ∈ {0, 1})
    w = w_raw / mean(w_raw over groups with w_raw > 0)      (when ``normalise``)

so informative groups keep an average weight of 1 (the learning-rate scale is unchanged) and all-right
or all-wrong groups get exactly 0. γ = 0 weights every informative group equally; γ > 1 focuses harder
on p ≈ ½. The weight multiplies the group's advantages.

Example:
    >>> import torch
    >>> group_weights(torch.tensor([0.0, 0.25, 0.5, 1.0]))
    tensor([0.0000, 0.8571, 1.1429, 0.0000])
"""

from __future__ import annotations

from typing import Any


def pass_rates(task_scores: Any, group_size: int, threshold: float) -> Any:
    """(N,) task rewards of N = groups × group_size rollouts → (groups,) share with score ≥ threshold."""
    grouped = task_scores.view(-1, group_size)  # (groups, G)
    return (grouped >= threshold).float().mean(dim=1)


def group_weights(rates: Any, gamma: float = 1.0, normalise: bool = True) -> Any:
    """(groups,) pass rates → (groups,) weights (formula in the module doc)."""
    import torch

    informative = (rates > 0) & (rates < 1)
    raw = torch.where(informative, (4.0 * rates * (1.0 - rates)).clamp(min=0.0) ** gamma, torch.zeros_like(rates))
    if normalise and bool(informative.any()):
        raw = raw / raw[informative].mean()
    return raw


def rollout_weights(task_scores: Any, group_size: int, threshold: float, gamma: float, normalise: bool) -> Any:
    """(N,) per-rollout weights: each rollout gets its group's weight."""
    rates = pass_rates(task_scores, group_size, threshold)
    return group_weights(rates, gamma, normalise).repeat_interleave(group_size)
