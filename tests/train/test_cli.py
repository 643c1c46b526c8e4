"""`m2 train sft|rl`: YAML + command-line overrides, checkpoints that m2sdk loads."""

from __future__ import annotations

import contextlib

import torch
import yaml

from m2sdk.cli.main import main
from m2sdk.model.checkpoint import load_model
from m2train.checkpointing import read_state


def _yaml(tmp_path, data_dir, kind, **extra):
    config = {
        "kind": kind,
        "output_dir": str(tmp_path / "ignored"),
        "data": {"datasets": [{"path": str(data_dir)}], "max_length": 512},
        "optim": {"learning_rate": 1e-3, "per_device_batch_size": 4, "max_steps": 50},
        "logging": {"tensorboard": True, "progress_bar": False},
        **extra,
    }
    path = tmp_path / f"{kind}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_sft_then_rl_from_the_command_line(tiny_data, tmp_path, capsys):
    sft_yaml = _yaml(tmp_path, tiny_data, "sft")
    assert main(["train", "sft", str(sft_yaml), "--output-dir", str(tmp_path / "sft"), "--max-steps", "2"]) == 0
    out = capsys.readouterr().out
    assert "loss:" in out and f"final checkpoint: {tmp_path / 'sft' / 'final'}" in out
    assert any((tmp_path / "sft/logs/tensorboard").iterdir())  # TensorBoard event file, no network

    rl_yaml = _yaml(tmp_path, tiny_data, "rl", rollout={"num_generations": 4, "max_completion_length": 8})
    args = ["train", "rl", str(rl_yaml), "--init", str(tmp_path / "sft/final"), "--output-dir", str(tmp_path / "rl")]
    assert main([*args, "--max-steps", "1"]) == 0
    assert "reward:" in capsys.readouterr().out
    for folder in (tmp_path / "sft/final", tmp_path / "rl/final", tmp_path / "rl/checkpoint-1"):
        model, _processor = load_model(folder)
        assert model.config.text_config.num_hidden_layers == 2


def test_vision_stage_then_sft_from_the_command_line(tmp_path, capsys):
    """`m2 train vision` on `m2 data synth --labels` data, then `m2 train sft --init` from its output."""
    data = tmp_path / "labelled"
    assert main(["data", "synth", "--out", str(data), "--n", "8", "--seed", "3", "--width", "112", "--height", "84",
                 "--labels", "--no-progress"]) == 0  # fmt: skip
    vision_yaml = _yaml(tmp_path, data, "vision", vision_code={"weight": 1.0, "seed": 0})
    assert main(["train", "vision", str(vision_yaml), "--output-dir", str(tmp_path / "v"), "--max-steps", "2"]) == 0
    assert f"final checkpoint: {tmp_path / 'v' / 'final'}" in capsys.readouterr().out
    assert read_state(tmp_path / "v/checkpoint-2")["kind"] == "vision"
    sft_yaml = _yaml(tmp_path, data, "sft", model={"freeze_vision": True, "freeze_projector": True})
    args = ["train", "sft", str(sft_yaml), "--init", str(tmp_path / "v/final"), "--output-dir", str(tmp_path / "s")]
    assert main([*args, "--max-steps", "1"]) == 0
    vision, _ = load_model(tmp_path / "v/final")
    tuned, _ = load_model(tmp_path / "s/final")
    pairs = zip(vision.model.visual.parameters(), tuned.model.visual.parameters(), strict=True)
    assert all(torch.equal(a, b) for a, b in pairs)


def test_bad_config_is_a_clean_error(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text("data: {datasets: [{path: x}]}\noptim: {lr: 1}\n")
    assert main(["train", "sft", str(path)]) == 2
    assert "optim.lr" in capsys.readouterr().err


def test_help_shows_examples(capsys):
    for argv in (["train", "--help"], ["train", "sft", "--help"], ["train", "rl", "--help"]):
        with contextlib.suppress(SystemExit):
            main(argv)
        assert "Example" in capsys.readouterr().out


def test_two_processes_with_accelerate_launch(tiny_data, sft_checkpoint, tmp_path):
    """DDP on CPU (gloo): the distributed paths (reward gather, rank slices, save barriers) run for real."""
    import os
    import subprocess
    import sys

    launch = [sys.executable, "-m", "accelerate.commands.launch", "--cpu", "--num_processes", "2", "--num_machines",
              "1", "--mixed_precision", "no", "--dynamo_backend", "no", "-m", "m2sdk.cli.main"]  # fmt: skip
    rl_yaml = _yaml(tmp_path, tiny_data, "rl", rollout={"num_generations": 4, "max_completion_length": 40})
    args = ["train", "rl", str(rl_yaml), "--init", sft_checkpoint, "--output-dir", str(tmp_path / "rl")]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([*launch, *args, "--max-steps", "2"], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("final checkpoint:") == 1  # one summary, from rank 0
    state = read_state(tmp_path / "rl/checkpoint-2")
    assert state["curriculum"]["batches_consumed"] == 2
    load_model(tmp_path / "rl/final")
