"""How much does a checkpoint use the image? Its answer loss with the real frames vs frames shuffled
between samples vs blank frames, on the same questions.

A model that reads the pixels has a clearly lower loss with the real frames; one that answers from the
question alone (a text prior) scores the same on all three. This was the signal that told us m2-mini's
first versions ignored the image (docs/m2_mini.md). ``scripts/image_gap.py`` is its command line.

Example:
    >>> image_gap("runs/m2-mini/sft/final", "runs/m2-mini/data/heldout", n=100, tasks=["camera_distance"])
    {'real': 0.271, 'shuffled': 0.2949, 'blank': 0.3098, 'gap': 0.0239}
"""

from __future__ import annotations

import numpy as np
import torch

from m2sdk.model.checkpoint import load_model
from m2train.config import DatasetSpec
from m2train.data import IGNORE_INDEX, SFTCollator, SFTExamples, load_mixture


def answer_loss(model, batch: dict) -> float:
    """Mean cross-entropy over the answer tokens of a collated SFT batch."""
    inputs = {k: v for k, v in batch.items() if k not in ("sample_weight", "labels")}
    logits = model(**inputs, use_cache=False).logits[:, :-1].float()
    targets = batch["labels"][:, 1:]
    return torch.nn.functional.cross_entropy(logits.transpose(1, 2), targets, ignore_index=IGNORE_INDEX).item()


def image_gap(
    model_path: str, data: str, n: int, tasks: list[str] | None, batch_size: int = 16,
    count_listing: str | None = None,
) -> dict:  # fmt: skip
    """The mean answer loss with real, shuffled and blank frames, and the gap (shuffled − real).

    ``count_listing`` is the SFT option the model was trained with (``data.count_listing``): a count's
    answer is then scored with its listing, the answer the model learnt to give, not a bare ``\\boxed{}``.
    """
    model, processor = load_model(model_path)
    model.eval()
    samples = load_mixture([DatasetSpec(path=data, tasks=tasks, max_samples=n)])
    examples = SFTExamples(samples, processor, max_length=4096, mode="answer", count_listing=count_listing)
    collate = SFTCollator(processor)
    totals = {"real": 0.0, "shuffled": 0.0, "blank": 0.0}
    batches = 0
    for start in range(0, len(examples), batch_size):
        rows = [examples[i] for i in range(start, min(start + batch_size, len(examples)))]
        if len(rows) < 2:
            break
        # Same-size frames: rolling the pixel blocks by one row gives every question another room's image.
        shuffled = [dict(r, pixel_values=rows[(i + 1) % len(rows)]["pixel_values"]) for i, r in enumerate(rows)]
        blank = [dict(r, pixel_values=np.zeros_like(r["pixel_values"])) for r in rows]
        with torch.no_grad():
            for name, variant in (("real", rows), ("shuffled", shuffled), ("blank", blank)):
                totals[name] += answer_loss(model, collate(variant))
        batches += 1
    out = {name: round(total / max(batches, 1), 4) for name, total in totals.items()}
    out["gap"] = round(out["shuffled"] - out["real"], 4)
    return out
