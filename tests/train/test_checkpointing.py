"""Atomic checkpoints: a save killed half-way leaves the previous checkpoint usable and is never resumed from."""

from __future__ import annotations

import pytest

from m2sdk.model.checkpoint import load_model
from m2train.checkpointing import (
    PARTIAL_PREFIX,
    complete_checkpoints,
    latest_checkpoint,
    publish,
    resolve_resume,
)
from m2train.common import train_and_save
from m2train.logs import read_jsonl
from m2train.sft import build_sft_trainer
from tests.train.conftest import sft_config


class SimulatedKill(Exception):
    pass


def test_kill_mid_save_keeps_the_previous_checkpoint(tiny_data, tmp_path):
    config = sft_config(tiny_data, tmp_path / "run", max_steps=4, save_steps=2)
    trainer = build_sft_trainer(config)
    real_save = trainer._save_optimizer_and_scheduler

    def dies_at_step_4(output_dir):  # fault injection: the weights of step 4 are written, then the process dies
        if trainer.state.global_step == 4:
            raise SimulatedKill(output_dir)
        real_save(output_dir)

    trainer._save_optimizer_and_scheduler = dies_at_step_4
    with pytest.raises(SimulatedKill):
        train_and_save(trainer, config)

    run = tmp_path / "run"
    partial = run / f"{PARTIAL_PREFIX}checkpoint-4"
    assert (partial / "model.safetensors").is_file()  # the half-written save is there...
    assert [p.name for p in complete_checkpoints(run)] == ["checkpoint-2"]  # ...but invisible
    assert latest_checkpoint(run).name == "checkpoint-2"
    assert resolve_resume("auto", run).endswith("checkpoint-2")
    load_model(run / "checkpoint-2")

    train_and_save(build_sft_trainer(config), config)  # resumes from checkpoint-2, saves step 4 for real
    assert [p.name for p in complete_checkpoints(run)] == ["checkpoint-2", "checkpoint-4"]
    assert not partial.exists()
    assert [r["step"] for r in read_jsonl(run / "logs/metrics.jsonl") if "loss" in r] == [1, 2, 3, 4]


def test_publish_replaces_atomically(tmp_path):
    final = tmp_path / "checkpoint-3"
    final.mkdir()
    (final / "m2_state.json").write_text('{"old": true}')
    staging = tmp_path / f"{PARTIAL_PREFIX}checkpoint-3"
    staging.mkdir()
    (staging / "m2_state.json").write_text('{"new": true}')
    publish(staging, final)
    assert (final / "m2_state.json").read_text() == '{"new": true}'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint-3"]


def test_resume_never_and_bad_folder(tmp_path):
    from m2sdk.errors import CheckpointError

    assert resolve_resume("never", tmp_path) is None
    assert resolve_resume("auto", tmp_path / "missing") is None
    with pytest.raises(CheckpointError, match=r"m2_state\.json"):
        resolve_resume(str(tmp_path), tmp_path)
