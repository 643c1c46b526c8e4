"""Tiny learnable spatial datasets for training tests: one coloured box per image, exact answers.

A box's side shrinks with its distance (side_px = 42 / distance_m), so "how far" is answerable from the
pixels; "left or right" is answerable from its position. Difficulty grows with distance (a far box is
small) for both tasks, so a curriculum window always holds both. Images are small (56×56 by default) so an
m2-tiny step takes milliseconds. Records follow the ``m2 data synth`` format (m2sdk.data.dataset).
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

DISTANCES_M = (1.5, 2.0, 2.5, 3.0, 3.5)


def make_dataset(folder: Path, n: int = 16, seed: int = 0, size: tuple[int, int] = (56, 56)) -> Path:
    """Write ``folder/samples.jsonl`` + ``folder/images/*.png``; returns the folder."""
    folder = Path(folder)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    with (folder / "samples.jsonl").open("w", encoding="utf-8") as fh:
        for i in range(n):
            record = _record(folder, i, rng, size)
            fh.write(json.dumps(record) + "\n")
    return folder


def _record(folder: Path, i: int, rng: np.random.Generator, size: tuple[int, int]) -> dict:
    height, width = size
    distance = float(DISTANCES_M[int(rng.integers(len(DISTANCES_M)))])
    side = max(4, round(min(height, width) * 0.75 / distance))
    right = bool(rng.integers(2))
    x0 = width - side - 2 if right else 2
    y0 = (height - side) // 2
    image = np.full((height, width, 3), 200, np.uint8)
    image[y0 : y0 + side, x0 : x0 + side] = (0, 0, 220)  # BGR red
    name = f"images/{i:04d}.png"
    cv2.imwrite(str(folder / name), image)
    common = {"id": f"t{i:04d}", "media": [name], "media_type": "image", "scene": {"distance_m": distance}}
    if i % 2 == 0:
        return {
            **common,
            "task": "camera_distance",
            "question": "How far is the red box from the camera?",
            "options": None,
            "answer": distance,
            "answer_type": "numeric",
            "unit": "m",
            "cot": f"The box is {side} px wide.",
            "difficulty": round(distance / 4.0, 3),
        }
    return {
        **common,
        "task": "relative_direction",
        "question": "Is the red box on the left or the right?",
        "options": ["left", "right"],
        "answer": "B" if right else "A",
        "answer_type": "choice",
        "unit": None,
        "cot": "The box is on the " + ("right." if right else "left."),
        "difficulty": round(distance / 4.0, 3),
    }


def labelled_rooms(folder: Path, n: int, seed: int, objects: tuple[int, int], **options) -> Path:
    """``m2 data synth`` rooms for the label-driven tests (vision code, grounding, listings): 112×84 frames,
    one colour per object (a colour names one object), instance and depth labels; ``options`` are further
    :class:`~m2sdk.data.synth.SynthConfig` fields (``tasks``, ``labels``, ...). Returns the folder."""
    from m2sdk.data.synth import SynthConfig, synthesize

    room = {"width": 112, "height": 84, "unique_colours": True, "labels": True} | options
    synthesize(SynthConfig(folder, n=n, seed=seed, objects=objects, **room))
    return folder
