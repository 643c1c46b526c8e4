"""RLVR on m2-tiny: rollouts, routed rewards, sample weights, curriculum and β(t) logged; checkpoints load."""

from __future__ import annotations

import pytest
import torch

from m2sdk.model.checkpoint import load_model
from m2train.checkpointing import read_state
from m2train.config import KLConfig
from m2train.kl import kl_beta
from m2train.logs import read_jsonl
from m2train.rl import build_rl_trainer
from tests.train.conftest import rl_config


@pytest.fixture(scope="module")
def rl_run(tiny_data, sft_checkpoint, tmp_path_factory):
    out = tmp_path_factory.mktemp("rl")
    config = rl_config(
        tiny_data, out, init=sft_checkpoint, max_steps=3, save_steps=2, kl=KLConfig(beta_start=0.02, beta_end=0.001)
    )
    trainer = build_rl_trainer(config)
    reference_before = {k: v.clone() for k, v in trainer.ref_model.state_dict().items()}
    from m2train.common import train_and_save

    final = train_and_save(trainer, config)
    return config, trainer, reference_before, final


def test_logs_every_component(rl_run):
    config, _, _, _ = rl_run
    steps = [r for r in read_jsonl(f"{config.output_dir}/logs/metrics.jsonl") if "loss" in r]
    assert [r["step"] for r in steps] == [1, 2, 3]
    for key in ("rewards/format/mean", "reward", "weights/pass_rate", "weights/mean", "curriculum/max_difficulty"):
        assert all(key in r for r in steps), key
    assert any(r.get("rewards/ednm/mean") is not None for r in steps) or any(
        r.get("rewards/choice/mean") is not None for r in steps
    )
    assert max(r["reward"] for r in steps) > 0 and any(r["weights/mean"] > 0 for r in steps)  # real signal
    betas = [r["kl/beta"] for r in steps]
    assert betas == pytest.approx([kl_beta(t, 3, 0.02, 0.001) for t in range(3)])
    completions = read_jsonl(f"{config.output_dir}/logs/completions.jsonl")
    assert completions and {"completion", "rewards", "weight", "task"} <= set(completions[0])


def test_reference_model_is_kept_and_frozen(rl_run):
    _, trainer, before, _ = rl_run
    assert trainer.ref_model is not None and trainer.beta == pytest.approx(0.001)
    after = trainer.ref_model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_checkpoints_are_m2_checkpoints_with_resume_state(rl_run):
    config, trainer, _, final = rl_run
    state = read_state(f"{config.output_dir}/checkpoint-2")
    assert state["kind"] == "rl" and state["kl_step"] == 2
    assert state["beta"] == pytest.approx(kl_beta(1, 3, 0.02, 0.001))  # β of the last step run
    assert state["curriculum"]["batches_consumed"] == 2 and state["curriculum"]["kind"] == "window"
    model, _processor = load_model(final)
    trained = trainer.accelerator.unwrap_model(trainer.model).state_dict()
    assert all(torch.equal(v, trained[k]) for k, v in model.state_dict().items())
    load_model(f"{config.output_dir}/checkpoint-2")


def test_the_listing_reward_is_logged_and_left_out_of_the_pass_rates(tmp_path):
    """Counts of unique-colour rooms carry their colour listing; with ``rewards.listing_weight`` each step's
    reward has a listing component, and the sample weights still come from the task reward alone."""
    from m2sdk.data.synth import SynthConfig, synthesize
    from m2train.config import RewardsConfig, RolloutConfig
    from m2train.rewards import task_columns

    room = {"width": 56, "height": 56, "objects": (2, 4), "unique_colours": True}
    synthesize(SynthConfig(tmp_path / "data", n=8, seed=2, tasks=("object_count",), **room))
    rollout = RolloutConfig(num_generations=4, max_completion_length=24, temperature=0.7, reasoning=False)
    config = rl_config(
        tmp_path / "data", tmp_path / "rl", max_steps=2, rollout=rollout, rewards=RewardsConfig(listing_weight=0.5)
    )
    trainer = build_rl_trainer(config)
    assert [f.__name__ for f in trainer.reward_funcs] == ["format", "ednm", "listing"]
    assert task_columns(trainer.reward_funcs) == [1] and trainer.reward_weights.tolist() == [0.5, 1.0, 0.5]
    trainer.train()
    steps = [r for r in read_jsonl(f"{config.output_dir}/logs/metrics.jsonl") if "loss" in r]
    assert len(steps) == 2 and all(0.0 <= r["rewards/listing/mean"] <= 1.0 for r in steps)
