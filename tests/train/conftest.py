"""Fixtures for training tests: a tiny learnable dataset on disk and small run configs (m2-tiny, CPU)."""

from __future__ import annotations

import contextlib

import pytest

pytest.importorskip("trl")

from m2train.config import (
    CheckpointConfig,
    DataConfig,
    DatasetSpec,
    LoggingConfig,
    OptimConfig,
    RLRunConfig,
    RolloutConfig,
    SFTRunConfig,
)
from tests.train.synthetic import make_dataset


@contextlib.contextmanager
def single_thread():
    """Tiny models gain nothing from intra-op threads, and on a busy 2-core CI box two OpenMP threads
    spin against other processes: one thread made an m2-tiny SFT step ~15x faster there."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def one_torch_thread():
    with single_thread():
        yield


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory):
    """16 records (camera distance + left/right), 56×56 images."""
    return make_dataset(tmp_path_factory.mktemp("data") / "synth", n=16, seed=0)


@pytest.fixture(scope="session")
def sft_checkpoint(tiny_data, tmp_path_factory):
    """m2-tiny after a short SFT: it writes the answer format often enough for RL rewards to vary."""
    from m2train.common import train_and_save
    from m2train.sft import build_sft_trainer

    config = sft_config(tiny_data, tmp_path_factory.mktemp("sft"), max_steps=120, save_steps=1000, lr=3e-3, batch=8)
    with single_thread():
        return str(train_and_save(build_sft_trainer(config), config))


def sft_config(data, output_dir, *, max_steps=4, save_steps=2, lr=1e-3, batch=4, **sections) -> SFTRunConfig:
    return SFTRunConfig(
        data=DataConfig(datasets=[DatasetSpec(path=str(data))], max_length=512),
        output_dir=str(output_dir),
        optim=OptimConfig(learning_rate=lr, per_device_batch_size=batch, max_steps=max_steps, lr_scheduler="cosine"),
        logging=LoggingConfig(every_steps=1, tensorboard=False, progress_bar=False),
        checkpoint=CheckpointConfig(save_steps=save_steps, save_total_limit=None),
        **sections,
    )


def rl_config(data, output_dir, *, init="m2-tiny", max_steps=2, save_steps=2, **sections) -> RLRunConfig:
    from m2train.config import ModelConfig

    sections.setdefault("rollout", RolloutConfig(num_generations=4, max_completion_length=40, temperature=0.7))
    return RLRunConfig(
        data=DataConfig(datasets=[DatasetSpec(path=str(data))], max_length=512),
        output_dir=str(output_dir),
        model=ModelConfig(init=init),
        optim=OptimConfig(learning_rate=1e-4, per_device_batch_size=8, max_steps=max_steps, lr_scheduler="constant"),
        logging=LoggingConfig(every_steps=1, tensorboard=False, progress_bar=False, completions_every_steps=1),
        checkpoint=CheckpointConfig(save_steps=save_steps, save_total_limit=None),
        **sections,
    )
