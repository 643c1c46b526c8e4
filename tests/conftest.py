"""Shared fixtures: tiny seeded models and synthetic frames (no downloads, no GPU)."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="session")
def tiny_model():
    from m2sdk.model.presets import build_preset

    return build_preset("m2-tiny")


@pytest.fixture(scope="session")
def tiny_processor():
    from m2sdk.model.presets import preset_processor

    return preset_processor("m2-tiny")


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory, tiny_model, tiny_processor):
    """An m2-tiny checkpoint folder on disk (config, safetensors, tokenizer, processor settings)."""
    from m2sdk.model.checkpoint import save_checkpoint

    return save_checkpoint(tiny_model, tiny_processor, tmp_path_factory.mktemp("ckpt") / "m2-tiny")


def make_frame(height: int = 112, width: int = 168, seed: int = 0) -> np.ndarray:
    """A deterministic RGB frame with structure (gradients and blocks), not just noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    frame = np.stack([x * 255 // max(width - 1, 1), y * 255 // max(height - 1, 1), (x + y) % 256], -1)
    frame = frame.astype(np.uint8)
    frame[height // 4 : height // 2, width // 4 : width // 2] = rng.integers(0, 256, 3, dtype=np.uint8)
    return frame


@pytest.fixture
def frame_rgb() -> np.ndarray:
    return make_frame()
