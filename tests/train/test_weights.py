"""Dynamic sample weights: w ∝ (4p(1−p))^γ, zero for all-right/all-wrong groups, mean 1 over informative ones."""

from __future__ import annotations

import torch

from m2train.weights import group_weights, pass_rates, rollout_weights


def test_pass_rates_per_group():
    scores = torch.tensor([1.0, 0.0, 0.6, 0.4, 0.9, 0.8, 0.7, 0.5, 0.0, 0.1, 0.2, 0.3])  # 3 groups of 4
    assert pass_rates(scores, 4, 0.5).tolist() == [0.5, 1.0, 0.0]


def test_formula_values():
    rates = torch.tensor([0.0, 0.25, 0.5, 0.75, 1.0])
    raw = group_weights(rates, gamma=1.0, normalise=False)
    torch.testing.assert_close(raw, torch.tensor([0.0, 0.75, 1.0, 0.75, 0.0]))
    normalised = group_weights(rates, gamma=1.0, normalise=True)
    torch.testing.assert_close(normalised, torch.tensor([0.0, 0.75, 1.0, 0.75, 0.0]) / (2.5 / 3))
    assert abs(normalised[1:4].mean().item() - 1.0) < 1e-6


def test_all_right_and_all_wrong_groups_get_no_signal_for_any_gamma():
    rates = torch.tensor([0.0, 1.0, 0.5])
    for gamma in (0.0, 0.5, 1.0, 3.0):
        w = group_weights(rates, gamma=gamma)
        assert w[0] == 0 and w[1] == 0 and w[2] == 1.0


def test_gamma_sharpens_towards_half():
    rates = torch.tensor([0.25, 0.5])
    flat = group_weights(rates, gamma=0.0, normalise=False)
    sharp = group_weights(rates, gamma=3.0, normalise=False)
    assert flat.tolist() == [1.0, 1.0]
    assert sharp[0] / sharp[1] < 0.75 / 1.0  # (0.75)^3 < 0.75


def test_no_informative_group_stays_zero():
    assert group_weights(torch.tensor([0.0, 1.0])).tolist() == [0.0, 0.0]


def test_rollout_weights_repeat_group_weights():
    scores = torch.tensor([1.0, 0.0, 1.0, 0.0, 0.0, 0.0])  # groups of 3: p = 2/3 and 0
    w = rollout_weights(scores, 3, threshold=0.5, gamma=1.0, normalise=True)
    assert w.tolist() == [1.0, 1.0, 1.0, 0.0, 0.0, 0.0]
