"""What every question generator shares: the :class:`View` it looks at, the :class:`Question` it returns,
units, phrasing helpers and option shuffling.

A generator gets the exact scene, one view (an image or a video) and an RNG, and returns a question
whose answer follows from the geometry, or None when the view cannot support an unambiguous one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from m2sdk.data.render import RenderResult
from m2sdk.data.scene import Camera, Scene

M_PER_FT = 0.3048
LETTERS = "ABCDEFGHIJ"
MIN_VISIBLE_FRACTION = 0.5  # of an object's unoccluded pixels, for it to be asked about

# Unit symbol -> how a question may spell it, the factor from SI, and the decimals of the answer.
UNITS: dict[str, tuple[tuple[str, ...], float, int]] = {
    "m": (("metres", "meters"), 1.0, 2),
    "cm": (("centimetres", "centimeters"), 100.0, 0),
    "ft": (("feet",), 1 / M_PER_FT, 2),
    "m^2": (("square metres", "square meters"), 1.0, 2),
    "ft^2": (("square feet",), 1 / M_PER_FT**2, 1),
}
UNIT_SYMBOLS = {"m": "m", "cm": "cm", "ft": "ft", "m^2": "m²", "ft^2": "ft²"}


@dataclass
class Question:
    """One generated question with its exact answer (the synthesiser turns it into a record)."""

    task: str
    question: str
    options: list[str] | None
    answer: float | int | str
    answer_type: str  # "numeric" | "choice"
    unit: str | None
    cot: str
    difficulty: float
    targets: list[str] = field(default_factory=list)  # names of the objects the question is about


@dataclass
class View:
    """What one question looks at: an image or a video of a scene, with per-object visibility.

    Attributes:
        media_type: ``"image"`` or ``"video"``; ``media``: paths relative to the dataset folder.
        cameras: One camera per frame (one for an image); ``camera`` is the first, the reference frame.
        visible_px: Per object, visible pixels (for a video: the most in any frame).
        full_px: Per object, pixels it would cover unoccluded (in the frame of ``visible_px``).
        centroid_uv: Per object, centre of its visible pixels (images), or None.
        first_frame: Per object, the first video frame where it is clearly visible, or None.
        first_any: Per object, the first video frame where any pixel of it shows, or None.
        min_px: The clearly-visible threshold in pixels.
        labels: Dense label files of an image (``{"instances": ..., "depth": ...}``, relative paths), or None.
    """

    media_type: str
    media: list[str]
    cameras: list[Camera]
    visible_px: list[int]
    full_px: list[int]
    centroid_uv: list[tuple[float, float] | None]
    first_frame: list[int | None]
    first_any: list[int | None]
    min_px: int
    fps: float = 10.0
    labels: dict[str, str] | None = None

    @property
    def camera(self) -> Camera:
        return self.cameras[0]

    @property
    def area_px(self) -> int:
        return self.camera.width * self.camera.height

    def clear(self, k: int) -> bool:
        """Object ``k`` is visible enough to be asked about: big enough and mostly unoccluded."""
        full = max(self.full_px[k], 1)
        return self.visible_px[k] >= self.min_px and self.visible_px[k] / full >= MIN_VISIBLE_FRACTION

    def clear_objects(self) -> list[int]:
        return [k for k in range(len(self.visible_px)) if self.clear(k)]

    def occlusion(self, k: int) -> float:
        return 1.0 - self.visible_px[k] / max(self.full_px[k], 1)

    def smallness(self, k: int) -> float:
        """1 for a tiny object, 0 for one covering 5 % of the frame or more."""
        return 1.0 - min(1.0, self.visible_px[k] / (0.05 * self.area_px))

    def to_meta(self, scene: Scene) -> dict[str, Any]:
        """The record's ``scene`` field: camera, room and every object with its visibility here."""
        objects = []
        for k, obj in enumerate(scene.objects):
            entry = {**obj.to_dict(), "visible_px": self.visible_px[k], "full_px": self.full_px[k]}
            if self.media_type == "video":
                entry["first_frame"] = self.first_frame[k]
            objects.append(entry)
        meta = {**scene.to_dict(), "camera": self.camera.to_dict(), "objects": objects}
        if self.labels:
            meta["labels"] = dict(self.labels)
        if self.media_type == "video":
            meta["fps"] = self.fps
            meta["camera_path"] = [_pose(c) for c in self.cameras]
        return meta


def image_view(result: RenderResult, camera: Camera, media: str, min_px: int) -> View:
    """A :class:`View` of one rendered image (centroids from the instance mask)."""
    n = len(result.visible_px)
    ids = result.instance_ids.ravel().astype(np.int64) + 1  # 0 = room
    vs, us = np.divmod(np.arange(ids.size), camera.width)
    count = np.bincount(ids, minlength=n + 1)[1:]
    sum_u = np.bincount(ids, weights=us, minlength=n + 1)[1:]
    sum_v = np.bincount(ids, weights=vs, minlength=n + 1)[1:]
    centroids = [(float(sum_u[k] / count[k]), float(sum_v[k] / count[k])) if count[k] else None for k in range(n)]
    none = [None] * n
    return View("image", [media], [camera], result.visible_px, result.full_px, centroids, none, none, min_px)


def video_view(visible_px, full_px, cameras: list[Camera], media: str, min_px: int, fps: float) -> View:
    """A :class:`View` of a rendered video from per-frame pixel counts (frames × objects each)."""
    px, full = np.asarray(visible_px), np.asarray(full_px)  # (frames, objects)
    best = px.argmax(axis=0)
    n = px.shape[1]
    first = [_first(px[:, k] >= min_px) for k in range(n)]
    first_any = [_first(px[:, k] > 0) for k in range(n)]
    visible = [int(px[best[k], k]) for k in range(n)]
    full_best = [int(full[best[k], k]) for k in range(n)]
    return View("video", [media], cameras, visible, full_best, [None] * n, first, first_any, min_px, fps)


def _first(flags: np.ndarray) -> int | None:
    idx = np.flatnonzero(flags)
    return int(idx[0]) if idx.size else None


def _pose(camera: Camera) -> dict[str, Any]:
    return {
        "position_m": [round(float(p), 4) for p in camera.position_m],
        "yaw_deg": round(camera.yaw_deg, 3),
        "pitch_deg": round(camera.pitch_deg, 3),
    }


def pick(rng: np.random.Generator, items: list | tuple):
    """One item, drawn with ``rng`` (keeps every draw on the scene's generator)."""
    return items[int(rng.integers(len(items)))]


UNIT_POLICIES = ("mixed", "metric", "metres")


def pick_unit(rng: np.random.Generator, weights: dict[str, float], units: str = "mixed") -> str:
    """A unit drawn from ``weights``; ``units="metric"`` always gives the task's usual unit (the most
    likely one: metres for distances, centimetres for sizes); ``units="metres"`` gives metres wherever a
    length is asked (sizes too) and the usual unit otherwise. Either way one draw is made, so the rest
    of the scene's questions stay the same.

    Why ``metres``: a number's first token then fixes its magnitude ("0.45", "1.62"). In centimetres a
    small model decoding greedily must choose between a two- and a three-digit number one digit at a
    time, and "16 cm" for a 162 cm sofa is the result (m2-mini, docs/m2_mini.md)."""
    if units == "metres" and "m" in weights:
        weights = {"m": 1.0}
    elif units in ("metric", "metres"):
        weights = {max(weights, key=weights.__getitem__): 1.0}
    names = list(weights)
    p = np.array([weights[u] for u in names], dtype=float)
    return names[int(rng.choice(len(names), p=p / p.sum()))]


def unit_word(rng: np.random.Generator, unit: str) -> str:
    return pick(rng, UNITS[unit][0])


def in_unit(value_si: float, unit: str) -> float | int:
    """``value_si`` (metres or square metres) in ``unit``, rounded to that unit's answer precision."""
    _, factor, decimals = UNITS[unit]
    value = round(value_si * factor, decimals)
    return int(value) if decimals == 0 else value


def conversion_text(value_si: float, unit: str, answer: float | int) -> str:
    """The cot's conversion step, '' when the unit is already SI."""
    if unit in ("m", "m^2"):
        return ""
    base = "m" if unit in ("cm", "ft") else "m^2"
    factor = {"cm": "× 100", "ft": "÷ 0.3048", "ft^2": "÷ 0.0929"}[unit]
    return f", and {fmt(value_si)} {UNIT_SYMBOLS[base]} {factor} = {answer} {UNIT_SYMBOLS[unit]}"


def final_numeric(answer: float | int, unit: str | None) -> str:
    return f"So the answer is {answer}." if unit is None else f"So the answer is {answer} {UNIT_SYMBOLS[unit]}."


def fmt(x: float) -> str:
    return f"{x:.2f}"


def with_options(rng: np.random.Generator, correct: str, distractors: list[str]) -> tuple[list[str], str]:
    """Options in random order and the letter of the correct one."""
    options = [correct, *distractors]
    order = rng.permutation(len(options))
    shuffled = [options[i] for i in order]
    return shuffled, LETTERS[shuffled.index(correct)]


def final_choice(letter: str, text: str) -> str:
    return f"So the answer is {letter} ({text})."


def where_in_image(u: float, width: int) -> str:
    third = u / width
    return "on the left" if third < 1 / 3 else ("in the centre" if third < 2 / 3 else "on the right")


def plural(category: str) -> str:
    return category + ("es" if category.endswith(("x", "s", "ch")) else "s")


def clip01(x: float) -> float:
    return round(float(min(1.0, max(0.0, x))), 3)


def floor_xy(camera: Camera, point_m) -> tuple[float, float]:
    """A world point on a top-down map centred on the camera: (metres to its right, metres ahead)."""
    dx, dy = point_m[0] - camera.position_m[0], point_m[1] - camera.position_m[1]
    yaw = math.radians(camera.yaw_deg)
    return dx * math.sin(yaw) - dy * math.cos(yaw), dx * math.cos(yaw) + dy * math.sin(yaw)
