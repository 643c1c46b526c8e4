"""A real-image smoke set from RGB-D frames: metric depth at a marked point, and which of two marked
points is closer.

Input: any folder with ``color/*.jpg|png`` and registered ``depth/*.png`` (uint16, ``depth_scale`` units
per metre, 0 = no reading), paired by file stem (or by sorted order when the stems differ), plus
intrinsics from ``intrinsics.json`` / ``intrinsics.txt`` in the folder or given explicitly. Depth at a
point is the median over a small window with invalid zeros skipped; points on depth edges (large spread
in the window) or with too few valid readings are never asked about.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from m2sdk.data.dataset import Problem, SpatialRecord, build_card, write_card, write_records
from m2sdk.errors import InputError

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
MARKER_BGR = (0, 0, 255)
MIN_RATIO = 1.2  # farther / nearer depth of a point pair
MIN_SEPARATION_PX = 60
MARGIN_PX = 24


@dataclass(frozen=True)
class Intrinsics:
    """Pinhole intrinsics in pixels.

    Example:
        >>> Intrinsics.primesense()  # what Redwood and many Kinect-era datasets use
        Intrinsics(fx=525.0, fy=525.0, cx=319.5, cy=239.5)
    """

    fx: float
    fy: float
    cx: float
    cy: float

    def __post_init__(self) -> None:
        if self.fx <= 0 or self.fy <= 0:
            raise ValueError(f"fx and fy must be > 0, got fx={self.fx}, fy={self.fy}")

    @classmethod
    def primesense(cls) -> Intrinsics:
        return cls(525.0, 525.0, 319.5, 239.5)

    @classmethod
    def from_file(cls, path: str | Path) -> Intrinsics:
        """Read ``{"fx", "fy", "cx", "cy"}``, an Open3D ``{"intrinsic_matrix": [9 values, column-major]}``,
        ``{"K": 3×3}`` JSON, or a text file with a 3×3 matrix or the four numbers ``fx fy cx cy``."""
        path = Path(path)
        try:
            if path.suffix == ".json":
                return cls._from_json(json.loads(path.read_text(encoding="utf-8")))
            numbers = [float(x) for x in path.read_text(encoding="utf-8").split()]
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise InputError(f"cannot read intrinsics from {path}: {err}") from err
        if len(numbers) == 4:
            return cls(*numbers)
        if len(numbers) == 9:
            return cls(numbers[0], numbers[4], numbers[2], numbers[5])
        raise InputError(f"{path}: expected 4 numbers (fx fy cx cy) or a 3x3 matrix, got {len(numbers)} numbers")

    @classmethod
    def _from_json(cls, data: dict[str, Any]) -> Intrinsics:
        if "intrinsic_matrix" in data:  # Open3D PinholeCameraIntrinsic: column-major
            m = [float(x) for x in data["intrinsic_matrix"]]
            return cls(m[0], m[4], m[6], m[7])
        if "K" in data:
            k = np.asarray(data["K"], dtype=float).reshape(3, 3)
            return cls(k[0, 0], k[1, 1], k[0, 2], k[1, 2])
        return cls(float(data["fx"]), float(data["fy"]), float(data["cx"]), float(data["cy"]))


@dataclass
class RGBDConfig:
    """Settings of a smoke set built from RGB-D frames.

    Attributes:
        src: Folder with ``color/`` and ``depth/``. out_dir: Output dataset folder.
        intrinsics: Camera intrinsics; None reads ``intrinsics.json|txt`` in ``src`` or falls back to the
            PrimeSense defaults (fx = fy = 525, cx = 319.5, cy = 239.5).
        depth_scale: Depth units per metre (1000: millimetres).
        points_per_frame, pairs_per_frame: Questions of each kind per frame.
        window_px: Side of the square window the depth median is taken over.
        max_spread: Largest (max − min) / median of the window's valid depths (rejects depth edges).
    """

    src: Path
    out_dir: Path
    intrinsics: Intrinsics | None = None
    depth_scale: float = 1000.0
    points_per_frame: int = 2
    pairs_per_frame: int = 2
    window_px: int = 5
    min_valid_fraction: float = 0.8
    max_spread: float = 0.05
    seed: int = 0

    def __post_init__(self) -> None:
        self.src, self.out_dir = Path(self.src), Path(self.out_dir)
        if self.depth_scale <= 0:
            raise ValueError(f"depth_scale must be > 0, got {self.depth_scale}")
        if self.window_px < 1 or self.window_px % 2 == 0:
            raise ValueError(f"window_px must be an odd number >= 1, got {self.window_px}")
        if self.points_per_frame < 0 or self.pairs_per_frame < 0:
            raise ValueError("points_per_frame and pairs_per_frame must be >= 0")


def find_frames(src: str | Path) -> list[tuple[Path, Path]]:
    """(colour, depth) file pairs of an RGB-D folder, matched by stem (or by sorted order)."""
    src = Path(src)
    colour = sorted(p for p in (src / "color").glob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    depth = sorted(p for p in (src / "depth").glob("*") if p.suffix.lower() == ".png")
    if not colour or not depth:
        raise InputError(f"{src} needs color/*.jpg|png and depth/*.png; found {len(colour)} and {len(depth)} files")
    by_stem = {p.stem: p for p in depth}
    if all(p.stem in by_stem for p in colour):
        return [(p, by_stem[p.stem]) for p in colour]
    if len(colour) == len(depth):
        log.info("%s: colour and depth stems differ; pairing %d frames by sorted order", src, len(colour))
        return list(zip(colour, depth, strict=True))
    raise InputError(f"{src}: cannot pair {len(colour)} colour with {len(depth)} depth frames (stems differ)")


def resolve_intrinsics(config: RGBDConfig) -> Intrinsics:
    if config.intrinsics is not None:
        return config.intrinsics
    for name in ("intrinsics.json", "camera_intrinsic.json", "intrinsics.txt"):
        if (config.src / name).is_file():
            return Intrinsics.from_file(config.src / name)
    log.info("%s has no intrinsics file: using the PrimeSense defaults (fx=fy=525, cx=319.5, cy=239.5)", config.src)
    return Intrinsics.primesense()


def build_rgbd_set(config: RGBDConfig) -> tuple[list[SpatialRecord], list[Problem]]:
    """Write the smoke set (images with markers, samples.jsonl, card) and return its records.

    Frames that cannot be read are reported as problems (numbered by frame, from 1) and skipped.

    Example:
        >>> records, problems = build_rgbd_set(RGBDConfig("../shared/data/redwood_rgbd", "data/rgbd"))
    """
    intrinsics = resolve_intrinsics(config)
    (config.out_dir / "images").mkdir(parents=True, exist_ok=True)
    records: list[SpatialRecord] = []
    problems: list[Problem] = []
    for number, (colour_path, depth_path) in enumerate(find_frames(config.src), start=1):
        try:
            colour, depth_m = _read_frame(colour_path, depth_path, config.depth_scale)
        except InputError as err:
            problems.append(Problem(number, "media", str(err)))
            continue
        frame = _Frame(colour_path.stem, colour, depth_m, intrinsics, np.random.default_rng([config.seed, number]))
        records += _frame_records(frame, config)
    write_records(config.out_dir / "samples.jsonl", records)
    info = {"name": f"RGB-D smoke set from {config.src.name}", "generator": "m2sdk.data.rgbd", "seed": config.seed}
    info["config"] = {"depth_scale": config.depth_scale, "window_px": config.window_px, **intrinsics.__dict__}
    write_card(config.out_dir, build_card(records, info))
    return records, problems


def _read_frame(colour_path: Path, depth_path: Path, depth_scale: float) -> tuple[np.ndarray, np.ndarray]:
    import cv2

    colour = cv2.imread(str(colour_path), cv2.IMREAD_COLOR)
    depth = cv2.imread(str(depth_path), cv2.IMREAD_UNCHANGED)
    if colour is None or depth is None:
        raise InputError(f"cannot read {colour_path if colour is None else depth_path}")
    if depth.dtype != np.uint16 or depth.ndim != 2:
        raise InputError(f"{depth_path} must be a single-channel 16-bit PNG, got {depth.dtype} {depth.shape}")
    if depth.shape != colour.shape[:2]:
        raise InputError(
            f"{depth_path} is {depth.shape[::-1]} but {colour_path} is {colour.shape[1::-1]}: not registered"
        )
    return colour, depth.astype(np.float32) / depth_scale


@dataclass
class _Frame:
    stem: str
    colour: np.ndarray  # (H, W, 3) BGR uint8
    depth_m: np.ndarray  # (H, W) float32, 0 = no reading
    intrinsics: Intrinsics
    rng: np.random.Generator


def point_depth_m(depth_m: np.ndarray, u: int, v: int, window_px: int = 5) -> tuple[float, float, float] | None:
    """Median depth over the window at (u, v), its valid fraction and relative spread; None if no reading.

    Example:
        >>> point_depth_m(depth_m, 320, 240)   # (1.734, 1.0, 0.012)
    """
    r = window_px // 2
    patch = depth_m[max(v - r, 0) : v + r + 1, max(u - r, 0) : u + r + 1]
    valid = patch[patch > 0]
    if valid.size == 0:
        return None
    median = float(np.median(valid))
    return median, valid.size / patch.size, float(valid.max() - valid.min()) / median


def _good_points(frame: _Frame, config: RGBDConfig, tries: int = 300) -> list[tuple[int, int, float, float]]:
    """Random pixels with a reliable depth: (u, v, depth_m, spread)."""
    h, w = frame.depth_m.shape
    us = frame.rng.integers(MARGIN_PX, w - MARGIN_PX, size=tries)
    vs = frame.rng.integers(MARGIN_PX, h - MARGIN_PX, size=tries)
    good = []
    for u, v in zip(us.tolist(), vs.tolist(), strict=True):
        reading = point_depth_m(frame.depth_m, u, v, config.window_px)
        if reading and reading[1] >= config.min_valid_fraction and reading[2] <= config.max_spread:
            good.append((u, v, reading[0], reading[2]))
    return good


def _frame_records(frame: _Frame, config: RGBDConfig) -> list[SpatialRecord]:
    points = _good_points(frame, config)
    out = []
    for k, point in enumerate(points[: config.points_per_frame]):
        out.append(_point_record(frame, config, point, k))
    pairs = _pairs(points[config.points_per_frame :], config.pairs_per_frame)
    for k, (a, b) in enumerate(pairs):
        out.append(_pair_record(frame, config, a, b, k))
    return out


def _pairs(points: list, n: int) -> list[tuple]:
    out, used = [], set()
    for i, a in enumerate(points):
        for j in range(i + 1, len(points)):
            b = points[j]
            far = max(a[2], b[2]) / min(a[2], b[2])
            apart = np.hypot(a[0] - b[0], a[1] - b[1]) >= MIN_SEPARATION_PX
            if len(out) < n and i not in used and j not in used and far >= MIN_RATIO and apart:
                out.append((a, b))
                used |= {i, j}
    return out


def _point_record(frame: _Frame, config: RGBDConfig, point: tuple, k: int) -> SpatialRecord:
    import cv2

    u, v, depth, spread = point
    image = frame.colour.copy()
    _marker(image, u, v, None)
    rel = f"images/{frame.stem}_point{k}.png"
    cv2.imwrite(str(config.out_dir / rel), image)
    answer = round(depth, 2)
    x, y = (
        (u - frame.intrinsics.cx) * depth / frame.intrinsics.fx,
        (v - frame.intrinsics.cy) * depth / frame.intrinsics.fy,
    )
    cot = (
        f"The red circle marks pixel ({u}, {v}). The surface there is {answer:.2f} m in front of the camera "
        f"along its viewing axis (the point is at ({x:.2f}, {y:.2f}, {depth:.2f}) m in the camera frame). "
        f"So the answer is {answer} m."
    )
    return SpatialRecord(
        id=f"rgbd-{frame.stem}-point{k}", task="point_depth", media=[rel], media_type="image",
        question="How far from the camera is the point marked by the red circle, measured as depth along the "
        "camera's viewing direction, in metres?",
        options=None, answer=answer, answer_type="numeric", unit="m", cot=cot,
        difficulty=round(min(1.0, depth / 5 + 4 * spread), 3),
        scene=_meta(frame, config, [{"label": "point", "uv": [u, v], "depth_m": round(depth, 4)}]), source="rgbd",
    )  # fmt: skip


def _pair_record(frame: _Frame, config: RGBDConfig, a: tuple, b: tuple, k: int) -> SpatialRecord:
    import cv2

    image = frame.colour.copy()
    _marker(image, a[0], a[1], "A")
    _marker(image, b[0], b[1], "B")
    rel = f"images/{frame.stem}_pair{k}.png"
    cv2.imwrite(str(config.out_dir / rel), image)
    letter = "A" if a[2] < b[2] else "B"
    ratio = max(a[2], b[2]) / min(a[2], b[2])
    cot = (
        f"Point A at pixel ({a[0]}, {a[1]}) is {a[2]:.2f} m deep and point B at ({b[0]}, {b[1]}) is {b[2]:.2f} m "
        f"deep, so point {letter} is closer to the camera. So the answer is {letter}."
    )
    return SpatialRecord(
        id=f"rgbd-{frame.stem}-pair{k}", task="depth_order", media=[rel], media_type="image",
        question="Two points are marked A and B in the image. Which point is closer to the camera?",
        options=["point A", "point B"], answer=letter, answer_type="choice", unit=None, cot=cot,
        difficulty=round(max(0.0, 1 - (ratio - 1)), 3),
        scene=_meta(frame, config, [{"label": "A", "uv": [a[0], a[1]], "depth_m": round(a[2], 4)},
                                    {"label": "B", "uv": [b[0], b[1]], "depth_m": round(b[2], 4)}]),
        source="rgbd",
    )  # fmt: skip


def _marker(image: np.ndarray, u: int, v: int, label: str | None) -> None:
    """A red ring (white-outlined so it shows on any background), with a letter beside it if labelled."""
    import cv2

    cv2.circle(image, (u, v), 9, (255, 255, 255), 4, cv2.LINE_AA)
    cv2.circle(image, (u, v), 9, MARKER_BGR, 2, cv2.LINE_AA)
    if label:
        org = (u + 12, v - 12)
        cv2.putText(image, label, org, cv2.FONT_HERSHEY_SIMPLEX, 0.8, (255, 255, 255), 4, cv2.LINE_AA)
        cv2.putText(image, label, org, cv2.FONT_HERSHEY_SIMPLEX, 0.8, MARKER_BGR, 2, cv2.LINE_AA)


def _meta(frame: _Frame, config: RGBDConfig, points: list[dict]) -> dict[str, Any]:
    k = frame.intrinsics
    return {
        "frame": frame.stem,
        "camera": {"fx": k.fx, "fy": k.fy, "cx": k.cx, "cy": k.cy, "width": frame.colour.shape[1],
                   "height": frame.colour.shape[0]},
        "depth_scale": config.depth_scale,
        "window_px": config.window_px,
        "points": points,
    }  # fmt: skip
