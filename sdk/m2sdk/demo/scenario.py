"""The demo's room: a camera walk with exact ground truth for one question about one object."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass
class Scenario:
    """A rendered walk, the question asked on it, and the true answer at every frame."""

    video: Path
    fps: float
    frames_bgr: list[np.ndarray]
    question: str
    target: str
    truth_m: list[float | None]  # camera-to-object-centre distance per frame (None: not visible)

    def truth_at(self, timestamp_s: float) -> float | None:
        index = min(round(timestamp_s * self.fps), len(self.truth_m) - 1)
        return self.truth_m[index]


def make_scenario(
    out: Path,
    *,
    seed: int,
    n_frames: int,
    fps: float,
    width: int,
    height: int,
    objects: tuple[int, int] = (6, 12),
    unique_colours: bool = False,
) -> Scenario:
    """Render a walk, pick the object seen best along it, and compute its distance in every frame."""
    from m2sdk.data import render_views, write_video
    from m2sdk.data.tasks_numeric import CAMERA_DISTANCE

    views = render_views(seed, n_frames, width, height, objects, unique_colours)
    seen: dict[str, int] = {}
    for _, meta in views:
        for obj in meta["visible_objects"]:
            seen[obj["name"]] = seen.get(obj["name"], 0) + int(obj["visible_px"])
    target = max(sorted(seen), key=seen.get)
    truth: list[float | None] = []
    for _, meta in views:
        obj = next((o for o in meta["visible_objects"] if o["name"] == target), None)
        cam = np.asarray(meta["camera"]["position_m"], float)
        truth.append(None if obj is None else float(np.linalg.norm(np.asarray(obj["centre_m"]) - cam)))
    frames = [frame for frame, _ in views]
    video = write_video(out / "room.mp4", frames, fps)
    # Worded as the synthetic training data asks it: a small model trained on those templates (m2-mini)
    # answers a paraphrase it never saw much worse.
    question = CAMERA_DISTANCE[0].format(a=target, u="metres")
    return Scenario(video, fps, frames, question, target, truth)
