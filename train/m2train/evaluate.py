"""Mean reward of a policy on a set of samples, with the RL run's own reward functions.

Used to show what an RL run changed (before vs after on the same prompts and sampling seed) in tests,
``bench/train_throughput.py`` and the README numbers. Benchmark scores (MRA, accuracy) are ``m2 eval``'s job.

Example:
    >>> before = mean_reward(sft_model, processor, samples, RewardsConfig(), samples_per_prompt=4, seed=0)
    >>> before["reward"], before["format"]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from m2train.config import RewardsConfig
from m2train.data import Sample, load_images
from m2train.rewards import make_reward_funcs, routes_used


def generate_completions(
    model: Any, processor: Any, samples: list[Sample], *, n: int, max_new_tokens: int, temperature: float, seed: int
) -> list[str]:
    """``n`` completions per sample (greedy when ``temperature`` is 0), in sample order."""
    import torch

    torch.manual_seed(seed)
    out = []
    model.eval()
    for sample in samples:
        images = load_images(sample.media_paths(), processor.config)
        inputs = processor(images, sample.record.question, options=sample.record.options).to_torch()
        sampling = {"do_sample": True, "temperature": temperature} if temperature > 0 else {"do_sample": False}
        with torch.no_grad():
            ids = model.generate(
                **inputs, max_new_tokens=max_new_tokens, num_return_sequences=n if temperature > 0 else 1, **sampling
            )
        prompt_len = inputs["input_ids"].shape[1]
        texts = [processor.decode(row[prompt_len:].tolist()) for row in ids]
        out += texts if temperature > 0 else texts * n
    return out


def mean_reward(
    model: Any,
    processor: Any,
    samples: list[Sample],
    config: RewardsConfig,
    *,
    samples_per_prompt: int = 4,
    max_new_tokens: int = 48,
    temperature: float = 1.0,
    seed: int = 0,
) -> dict[str, float]:
    """Mean of each reward component and of the weighted total (``reward``), as the RL trainer sums them."""
    completions = generate_completions(
        model, processor, samples, n=samples_per_prompt, max_new_tokens=max_new_tokens, temperature=temperature,
        seed=seed,
    )  # fmt: skip
    rec = [s.record for s in samples for _ in range(samples_per_prompt)]
    columns = {
        "id": [r.id for r in rec], "task": [r.task for r in rec], "answer_type": [r.answer_type for r in rec],
        "answer": [str(r.answer) for r in rec], "unit": [r.unit for r in rec], "options": [r.options for r in rec],
    }  # fmt: skip
    funcs, weights = make_reward_funcs(config, routes_used(columns["task"], columns["answer_type"], config))
    table = np.array([[np.nan if v is None else v for v in f(completions, **columns)] for f in funcs])  # (F, N)
    result = {f.__name__: float(np.nanmean(row)) for f, row in zip(funcs, table, strict=True)}
    result["reward"] = float(np.mean(np.nansum(table * np.asarray(weights)[:, None], axis=0)))
    return result
