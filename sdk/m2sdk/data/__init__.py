"""Spatial training and evaluation data: synthetic scenes with exact answers, loaders, smoke sets.

Example:
    >>> from m2sdk.data import SynthConfig, synthesize, load_records, render_views, write_video
    >>> synthesize(SynthConfig("data/synth", n=200, seed=0))
    >>> records, problems = load_records("data/synth/samples.jsonl")
    >>> views = render_views(seed=0, n_frames=30)   # a camera walk with per-frame ground truth
    >>> write_video("walk.mp4", [frame for frame, _ in views], fps=10)
"""

from __future__ import annotations

import importlib
from typing import Any

from m2sdk.data.views import render_views, write_video

_LAZY = {
    "SpatialRecord": "m2sdk.data.dataset",
    "Problem": "m2sdk.data.dataset",
    "load_records": "m2sdk.data.dataset",
    "write_records": "m2sdk.data.dataset",
    "SynthConfig": "m2sdk.data.synth",
    "synthesize": "m2sdk.data.synth",
    "ALL_TASKS": "m2sdk.data.questions",
    "load_vsibench": "m2sdk.data.benchmarks",
    "load_cvbench": "m2sdk.data.benchmarks",
    "RGBDConfig": "m2sdk.data.rgbd",
    "Intrinsics": "m2sdk.data.rgbd",
    "build_rgbd_set": "m2sdk.data.rgbd",
}

__all__ = ["render_views", "write_video", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'm2sdk.data' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
