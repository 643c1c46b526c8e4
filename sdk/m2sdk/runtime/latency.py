"""Per-stage latency of every backend on one checkpoint, side by side with transformers' ``generate``.

The engine of ``m2 bench`` and ``bench/latency.py``. Every backend answers the same frame and prompt
greedily, so they generate the same tokens and the per-query ratio is a fair speed-up.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from m2sdk.answer import Timings

DEFAULT_PROMPT = "How far is the red chair from the camera, in metres?"


@dataclass
class LatencyRow:
    """Median timings of one backend over the measured runs."""

    name: str
    timings: Timings
    runs: int

    @property
    def total_ms(self) -> float:
        return self.timings.total_ms


def _median_timings(samples: Sequence[Timings]) -> Timings:
    fields = Timings.__dataclass_fields__
    return Timings(**{k: statistics.median(getattr(s, k) for s in samples) for k in fields})


def measure_model(model: Any, frame: np.ndarray, prompt: str, *, new_tokens: int, runs: int) -> LatencyRow:
    """Median per-stage timings of ``model.query`` (one warm-up run first)."""
    model.query(frame, prompt, max_new_tokens=new_tokens)
    samples = [model.query(frame, prompt, max_new_tokens=new_tokens).timings for _ in range(runs)]
    return LatencyRow(model.backend_name, _median_timings(samples), runs)


def measure_transformers_generate(path: str, frame: np.ndarray, prompt: str, *, new_tokens: int, runs: int):
    """The baseline: the processor plus transformers' ``generate`` (greedy, KV cache) on the torch model."""
    import torch

    from m2sdk.model.checkpoint import load_model
    from m2sdk.processing import to_rgb

    model, processor = load_model(path)
    samples = []
    for i in range(runs + 1):
        t0 = time.perf_counter()
        inputs = processor(to_rgb(frame), prompt)
        t1 = time.perf_counter()
        with torch.inference_mode():
            out = model.generate(**inputs.to_torch(), max_new_tokens=new_tokens, do_sample=False)
        t2 = time.perf_counter()
        n = int(out.shape[1]) - len(inputs)
        if i:  # the first run is a warm-up
            samples.append(Timings(preprocess_ms=(t1 - t0) * 1e3, decode_ms=(t2 - t1) * 1e3,
                                   total_ms=(t2 - t0) * 1e3, new_tokens=n, tokens_per_s=n / (t2 - t1)))  # fmt: skip
    return LatencyRow("transformers generate", _median_timings(samples), runs)


def format_rows(rows: Sequence[LatencyRow], baseline: LatencyRow) -> str:
    """A plain-text table with the speed-up of each row over ``baseline`` (total time per query)."""
    head = f"{'backend':24s} {'pre':>7s} {'vision':>7s} {'prefill':>8s} {'decode':>8s} {'total':>8s} {'tok':>4s} " \
           f"{'tok/s':>8s} {'speed-up':>9s}"  # fmt: skip
    lines = [head, "-" * len(head)]
    for row in rows:
        t = row.timings
        lines.append(
            f"{row.name:24s} {t.preprocess_ms:7.1f} {t.vision_ms:7.1f} {t.prefill_ms:8.1f} {t.decode_ms:8.1f} "
            f"{t.total_ms:8.1f} {round(t.new_tokens):4d} {t.tokens_per_s:8.1f} {baseline.total_ms / t.total_ms:8.2f}x"
        )
    return "\n".join(lines) + "\n(ms, median; speed-up = transformers generate total / backend total)"
