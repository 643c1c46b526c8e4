"""A NaN/inf loss or reward stops the step with a clear message; the weights and checkpoints are untouched."""

from __future__ import annotations

import pytest
import torch

from m2train.checkpointing import complete_checkpoints
from m2train.common import train_and_save
from m2train.config import RewardsConfig
from m2train.faults import NonFiniteError
from m2train.rewards import FormatReward, TaskReward
from m2train.rl import M2GRPOTrainer, build_rl_trainer
from m2train.sft import build_sft_trainer
from tests.train.conftest import rl_config, sft_config


def _snapshot(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _unchanged(before, model):
    return all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_nan_loss_stops_the_step_and_leaves_weights(tiny_data, tmp_path):
    config = sft_config(tiny_data, tmp_path / "sft", max_steps=4, save_steps=1)
    trainer = build_sft_trainer(config)
    before = _snapshot(trainer.model)

    def poison(module, args, output):  # fault injection: a numerical blow-up inside the decoder
        output.last_hidden_state.fill_(float("nan"))
        return output

    trainer.model.model.language_model.register_forward_hook(poison)
    with pytest.raises(NonFiniteError, match=r"training loss is nan at step 0.*before any weight update"):
        train_and_save(trainer, config)
    assert _unchanged(before, trainer.model)
    assert complete_checkpoints(tmp_path / "sft") == []


def test_nan_reward_stops_the_step_and_leaves_weights(tiny_data, tmp_path):
    config = rl_config(tiny_data, tmp_path / "rl", max_steps=2, save_steps=1)
    template = build_rl_trainer(config)

    def nan_scores(completions, **_):  # fault injection: a reward plugin that returns NaN
        return [float("nan")] * len(completions)

    broken = [TaskReward(route, nan_scores, RewardsConfig()) for route in ("ednm", "choice")]
    trainer = M2GRPOTrainer(
        model=template.model, args=template.args, run_config=config, processor=template.m2_processor,
        reward_funcs=[FormatReward(), *broken], train_dataset=template.train_dataset,
    )  # fmt: skip
    before = _snapshot(trainer.model)
    with pytest.raises(NonFiniteError, match=r"reward '(ednm|choice)' is nan for sample 't\d+'"):
        trainer.train()
    assert _unchanged(before, trainer.model)
    assert complete_checkpoints(tmp_path / "rl") == []
