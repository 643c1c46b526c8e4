"""Parity report of an exported bundle against the PyTorch model it came from (``parity.json``).

Both sides run through the one generation loop (:mod:`m2sdk.runtime.generation`) on the same fixed
prompts and synthetic frames (text only, one image, two images with options, a video clip):

* ``max_abs_logit_diff`` / ``mean_abs_logit_diff``: teacher-forced along the PyTorch greedy answer, so
  every step compares the logits of the same prefix (prefill and each decode step);
* ``greedy_agreement``: the fraction of prompts whose greedy answers are identical token for token;
  ``greedy_token_agreement``: the fraction of answer tokens equal before the first divergence;
* for int8/int4, ``eval``: the change of the evaluation score (MRA for numeric questions, accuracy for
  multiple choice) on a small held-out synthetic set, PyTorch vs bundle.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from m2sdk.processor import M2Processor, ModelInputs
from m2sdk.rope import decode_positions
from m2sdk.runtime.generation import GenerationConfig, generate, prompt_positions, visual_features

log = logging.getLogger(__name__)

EVAL_SEED = 20_251_125  # held out: training sets use small seeds
QUESTIONS = {
    "text_only": ("How far is the red chair from the camera, in metres?", None),
    "one_image": ("How many chairs are in the room?", None),
    "two_images": ("Which object is closer to the camera?", ["the chair", "the lamp", "the table"]),
    "video": ("Which object appears first in the video?", ["the sofa", "the bed"]),
}


def synthetic_frame(width: int, height: int, seed: int) -> np.ndarray:
    """A deterministic RGB frame with gradients and a few flat boxes (structure, not only noise)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    frame = np.stack([x * 255 // max(width - 1, 1), y * 255 // max(height - 1, 1), (x + y + seed * 37) % 256], -1)
    frame = frame.astype(np.uint8)
    for _ in range(3):
        top, left = rng.integers(0, height // 2), rng.integers(0, width // 2)
        frame[top : top + height // 4, left : left + width // 4] = rng.integers(0, 256, 3, dtype=np.uint8)
    return frame


def parity_inputs(processor: M2Processor, image_size: tuple[int, int]) -> dict[str, ModelInputs]:
    """The fixed parity prompts at the bundle's image size (fast answer mode: short, stable prompts)."""
    width, height = image_size
    frames = [synthetic_frame(width, height, seed) for seed in range(2)]
    clip = [synthetic_frame(224, 168, 10 + i) for i in range(4)]  # 4 frames = 2 temporal patches
    media = {"text_only": {}, "one_image": {"images": frames[0]}, "two_images": {"images": frames},
             "video": {"video": clip}}  # fmt: skip
    return {
        name: processor(
            media[name].get("images"), question, video=media[name].get("video"), options=options, reasoning=False
        )
        for name, (question, options) in QUESTIONS.items()
    }


def forced_logits(backend: Any, inputs: ModelInputs, tokens: list[int]) -> np.ndarray:
    """(len(tokens) + 1, vocab) logits: the prefill, then one decode step per forced token."""
    positions, delta = prompt_positions(backend, inputs)
    rows = [backend.prefill(inputs.input_ids, visual_features(backend, inputs), positions)]
    for i, token in enumerate(tokens):
        rows.append(backend.step(token, decode_positions(len(inputs) + i, 1, delta)))
    return np.stack(rows)


def compare_prompt(reference: Any, candidate: Any, inputs: ModelInputs, new_tokens: int) -> dict[str, Any]:
    """Logit differences and greedy answers of one prompt on both backends."""
    config = GenerationConfig(max_new_tokens=new_tokens)
    ref, cand = generate(reference, inputs, config), generate(candidate, inputs, config)
    ref_logits = forced_logits(reference, inputs, ref.ids)
    diff = np.abs(forced_logits(candidate, inputs, ref.ids) - ref_logits)
    same_prefix = next(
        (i for i, (a, b) in enumerate(zip(ref.ids, cand.ids, strict=False)) if a != b), min(len(ref.ids), len(cand.ids))
    )
    return {
        "prompt_tokens": len(inputs),
        "steps": int(diff.shape[0]),
        "max_abs_logit_diff": float(diff.max()),
        "mean_abs_logit_diff": float(diff.mean()),
        "max_abs_logit": float(np.abs(ref_logits).max()),
        "greedy_identical": ref.ids == cand.ids,
        "matching_tokens": same_prefix,
        "reference_ids": ref.ids,
        "candidate_ids": cand.ids,
    }


def measure_parity(reference: Any, candidate: Any, inputs: dict[str, ModelInputs], new_tokens: int) -> dict[str, Any]:
    """The parity report of ``candidate`` (a bundle backend) against ``reference`` (torch)."""
    prompts = {name: compare_prompt(reference, candidate, x, new_tokens) for name, x in inputs.items()}
    answer_tokens = sum(max(len(p["reference_ids"]), len(p["candidate_ids"]), 1) for p in prompts.values())
    steps = sum(p["steps"] for p in prompts.values())
    return {
        "reference": reference.name,
        "candidate": candidate.name,
        "max_abs_logit_diff": max(p["max_abs_logit_diff"] for p in prompts.values()),
        "mean_abs_logit_diff": sum(p["mean_abs_logit_diff"] * p["steps"] for p in prompts.values()) / steps,
        "greedy_agreement": sum(p["greedy_identical"] for p in prompts.values()) / len(prompts),
        "greedy_token_agreement": sum(p["matching_tokens"] for p in prompts.values()) / answer_tokens,
        "new_tokens": new_tokens,
        "prompts": prompts,
    }


def eval_change(reference: Any, candidate: Any, image_size: tuple[int, int], samples: int) -> dict[str, Any]:
    """Score change (bundle − torch) on ``samples`` held-out synthetic questions, or why it was skipped."""
    try:
        from m2sdk.data.synth import SynthConfig, synthesize
        from m2sdk.eval.predictors import ModelPredictor
        from m2sdk.eval.runner import evaluate
        from m2sdk.runtime.model import Model
    except ImportError as err:  # the data/eval packages are optional parts of the SDK
        return {"skipped": f"m2sdk.data / m2sdk.eval not available: {err}"}
    width, height = image_size
    with tempfile.TemporaryDirectory(prefix="m2-parity-eval-") as folder:
        records = synthesize(SynthConfig(Path(folder), n=samples, seed=EVAL_SEED, width=width, height=height))
        scores = {}
        for side, backend in (("reference", reference), ("candidate", candidate)):
            predictor = ModelPredictor(Model(backend), folder, reasoning=False, max_new_tokens=16)
            report = evaluate(predictor, records, name=backend.name, progress=False).report
            scores[side] = {"overall": report.overall, "accuracy": report.accuracy, "count": report.count}
    return {
        "dataset": f"synthetic, seed {EVAL_SEED}, {samples} questions, {width}x{height}",
        "metric": "mean of task scores (MRA for numeric tasks, exact match for multiple choice)",
        **scores,
        "delta_overall": scores["candidate"]["overall"] - scores["reference"]["overall"],
    }


def summary_line(report: dict[str, Any]) -> str:
    """One line for the CLI."""
    line = (
        f"parity vs {report['reference']}: max |Δlogit| {report['max_abs_logit_diff']:.3g}, "
        f"mean {report['mean_abs_logit_diff']:.3g}, greedy agreement {report['greedy_agreement']:.0%} "
        f"({report['greedy_token_agreement']:.0%} of tokens)"
    )
    if "delta_overall" in report.get("eval", {}):
        line += f", eval score change {report['eval']['delta_overall']:+.3f}"
    return line
