"""Bundles of m2-tiny, exported once per test session (each export takes ~10 s on 2 cores)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

IMAGE_SIZE = (168, 112)  # 6×4 = 24 image tokens: parity prompts stay short, windows still split
SETTINGS = {
    "fp32": {"tensorrt": True},
    "fp16": {"tensorrt": True},
    "int8": {"tensorrt": True, "eval_samples": 0},
    "int4": {"tensorrt": True, "eval_samples": 3},
}


@pytest.fixture(scope="session")
def export_tiny(tmp_path_factory):
    """``export_tiny("int4")`` → the path of an m2-tiny bundle of that precision (exported on first use)."""
    from m2export.bundle import export_bundle
    from m2export.export_config import ExportConfig

    root = tmp_path_factory.mktemp("bundles")
    made: dict[str, Path] = {}

    def get(precision: str) -> Path:
        if precision not in made:
            settings = {"eval_samples": 0, "parity_new_tokens": 8, **SETTINGS[precision]}
            config = ExportConfig("m2-tiny", root / f"tiny-{precision}", precision=precision,
                                  image_size=IMAGE_SIZE, **settings)  # fmt: skip
            made[precision] = export_bundle(config)
        return made[precision]

    return get
