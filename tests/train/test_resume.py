"""Resume continues exactly: 4 steps == 2 steps + kill + resume + 2 steps (same weights), for SFT and RL."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import TrainerCallback

from m2train.checkpointing import read_state
from m2train.common import train_and_save
from m2train.logs import read_jsonl
from m2train.rl import build_rl_trainer
from m2train.sft import build_sft_trainer
from tests.train.conftest import rl_config, sft_config


class SimulatedKill(Exception):
    """Stands in for SIGKILL: nothing after the checkpoint of step 2 survives."""


class KillAfterSave(TrainerCallback):
    def __init__(self, step: int) -> None:
        self.step = step

    def on_save(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            raise SimulatedKill(f"killed after saving step {self.step}")


def _run_interrupted_then_resumed(build, config, *, drop_rng=False):
    trainer = build(config)
    trainer.add_callback(KillAfterSave(2))
    with pytest.raises(SimulatedKill):
        train_and_save(trainer, config)
    assert read_state(f"{config.output_dir}/checkpoint-2")["global_step"] == 2
    if drop_rng:  # negative control: a resume without the RNG state must not reproduce the run
        (Path(config.output_dir) / "checkpoint-2/rng_state.pth").unlink()
    final = train_and_save(build(config), config)  # checkpoint.resume = auto: picks up checkpoint-2
    steps = [r["step"] for r in read_jsonl(f"{config.output_dir}/logs/metrics.jsonl") if "loss" in r]
    assert steps == [1, 2, 3, 4]  # the second process ran steps 3 and 4 only
    return final


def _assert_same_weights(a, b):
    wa, wb = load_file(f"{a}/model.safetensors"), load_file(f"{b}/model.safetensors")
    assert wa.keys() == wb.keys()
    for name in wa:
        torch.testing.assert_close(wa[name], wb[name], rtol=0, atol=1e-6, msg=name)


def test_sft_resume_is_exact(tiny_data, tmp_path):
    straight = train_and_save(*_with(build_sft_trainer, sft_config(tiny_data, tmp_path / "a", max_steps=4)))
    resumed = _run_interrupted_then_resumed(build_sft_trainer, sft_config(tiny_data, tmp_path / "b", max_steps=4))
    _assert_same_weights(straight, resumed)
    initial = build_sft_trainer(sft_config(tiny_data, tmp_path / "c")).model.state_dict()
    moved = load_file(f"{straight}/model.safetensors")
    assert any(not torch.equal(initial[k], moved[k]) for k in moved)  # the runs did train


def test_rl_resume_is_exact(tiny_data, sft_checkpoint, tmp_path):
    def config(name):
        return rl_config(tiny_data, tmp_path / name, init=sft_checkpoint, max_steps=4)

    straight = train_and_save(*_with(build_rl_trainer, config("a")))
    resumed = _run_interrupted_then_resumed(build_rl_trainer, config("b"))
    _assert_same_weights(straight, resumed)
    with pytest.raises(AssertionError):  # the RL steps did change the policy
        _assert_same_weights(straight, sft_checkpoint)
    state = read_state(tmp_path / "b/checkpoint-4")
    assert state["kl_step"] == 4 and state["curriculum"]["batches_consumed"] == 4
    unseeded = _run_interrupted_then_resumed(build_rl_trainer, config("c"), drop_rng=True)
    with pytest.raises(AssertionError):
        _assert_same_weights(straight, unseeded)


def _with(build, config):
    return build(config), config
