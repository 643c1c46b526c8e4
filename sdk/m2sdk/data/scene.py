"""Procedural indoor scenes with exact geometry: the ground truth every synthetic question is built from.

World frame: x to the east, y to the north, z up, floor at z = 0; the room spans [0, W] × [0, D] × [0, H]
metres. Camera frame: the OpenCV convention (x right, y down, z forward), so a world point p maps to
``R_cw @ (p - position)`` and then to pixels with the pinhole formula.

Everything is sampled from one ``numpy.random.Generator`` in a fixed order, so a seed gives a scene.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# Named object colours in BGR (OpenCV order). Walls and floor use neutral tones none of these resemble.
COLOURS_BGR: dict[str, tuple[int, int, int]] = {
    "red": (40, 40, 200),
    "green": (60, 165, 60),
    "blue": (200, 90, 40),
    "yellow": (40, 215, 235),
    "orange": (30, 135, 245),
    "purple": (150, 50, 125),
    "pink": (185, 130, 245),
    "cyan": (205, 200, 50),
    "white": (240, 240, 240),
    "black": (35, 35, 35),
}


@dataclass(frozen=True)
class Category:
    """An object class with its primitive shape and plausible real size ranges (metres)."""

    name: str
    shape: str  # "box" | "sphere" | "cylinder"
    width_m: tuple[float, float]  # along the object's local x (diameter for spheres / cylinders)
    depth_m: tuple[float, float]  # along local y (ignored for spheres / cylinders)
    height_m: tuple[float, float]  # vertical (ignored for spheres)
    weight: float  # relative sampling frequency


CATEGORIES: tuple[Category, ...] = (
    Category("chair", "box", (0.42, 0.55), (0.42, 0.55), (0.80, 1.00), 3.0),
    Category("table", "box", (1.00, 1.80), (0.60, 0.90), (0.70, 0.78), 1.5),
    Category("sofa", "box", (1.60, 2.20), (0.80, 0.95), (0.75, 0.90), 1.0),
    Category("bed", "box", (1.40, 1.80), (1.90, 2.10), (0.90, 1.10), 0.6),
    Category("cabinet", "box", (0.60, 1.20), (0.40, 0.60), (0.80, 1.90), 1.0),
    Category("box", "box", (0.25, 0.60), (0.25, 0.60), (0.25, 0.60), 2.0),
    Category("ball", "sphere", (0.18, 0.40), (0.18, 0.40), (0.18, 0.40), 2.0),
    Category("lamp", "cylinder", (0.30, 0.45), (0.30, 0.45), (1.30, 1.70), 1.0),
    Category("bin", "cylinder", (0.25, 0.35), (0.25, 0.35), (0.35, 0.55), 1.0),
    Category("plant pot", "cylinder", (0.25, 0.45), (0.25, 0.45), (0.45, 0.90), 1.0),
    Category("stool", "cylinder", (0.30, 0.40), (0.30, 0.40), (0.45, 0.70), 1.0),
)
CATEGORY_BY_NAME: dict[str, Category] = {c.name: c for c in CATEGORIES}
FOLIAGE_BGR = (40, 100, 45)
FORBIDDEN_COLOURS = {"plant pot": ("green",)}  # its foliage is green: a green pot would be ambiguous


@dataclass(frozen=True)
class Part:
    """One primitive of an object, in the object's frame (origin at the centre of its bounding box).

    ``colour_scale`` darkens a part (a bin's open top); ``colour_bgr`` overrides the object colour
    (a plant's foliage). The object's named colour is always the dominant one.
    """

    shape: str
    offset_m: tuple[float, float, float]
    size_m: tuple[float, float, float]
    colour_scale: float = 1.0
    colour_bgr: tuple[int, int, int] | None = None


def parts_for(category: str, size_m: tuple[float, float, float]) -> tuple[Part, ...]:
    """The primitives that make a category recognisable (a chair has legs and a backrest ...).

    All parts lie inside the object's bounding box ``size_m``, so ``centre_m`` / ``size_m`` stay exact.
    """
    w, d, h = size_m
    z0 = -h / 2  # floor level in the object frame
    if category == "chair":
        seat_z = 0.45
        return (
            Part("box", (0, -0.03, z0 + seat_z - 0.04), (w, d - 0.06, 0.08)),
            Part("box", (0, d / 2 - 0.03, z0 + seat_z + (h - seat_z) / 2), (w, 0.06, h - seat_z)),
            *_legs(w, d - 0.06, z0, seat_z - 0.08, 0.04, dy=-0.03),
        )
    if category == "table":
        return (Part("box", (0, 0, h / 2 - 0.025), (w, d, 0.05)), *_legs(w - 0.1, d - 0.1, z0, h - 0.05, 0.06))
    if category == "sofa":
        return (
            Part("box", (0, -0.1, z0 + 0.21), (w - 0.36, d - 0.2, 0.42)),
            Part("box", (0, d / 2 - 0.1, 0), (w, 0.2, h)),
            Part("box", (-(w / 2 - 0.09), -0.1, z0 + 0.3), (0.18, d - 0.2, 0.6)),
            Part("box", (w / 2 - 0.09, -0.1, z0 + 0.3), (0.18, d - 0.2, 0.6)),
        )
    if category == "bed":
        return (
            Part("box", (0, -0.04, z0 + 0.25), (w, d - 0.08, 0.5)),
            Part("box", (0, d / 2 - 0.04, 0), (w, 0.08, h), colour_scale=0.7),
        )
    if category == "lamp":
        return (
            Part("cylinder", (0, 0, z0 + 0.02), (0.28, 0.28, 0.04), colour_scale=0.6),
            Part("cylinder", (0, 0, z0 + (h - 0.35) / 2), (0.04, 0.04, h - 0.35), colour_scale=0.6),
            Part("cylinder", (0, 0, h / 2 - 0.175), (w, w, 0.35)),
        )
    if category == "stool":
        return (Part("cylinder", (0, 0, h / 2 - 0.03), (w, w, 0.06)), *_legs(0.6 * w, 0.6 * w, z0, h - 0.06, 0.04))
    if category == "bin":
        return (
            Part("cylinder", (0, 0, -0.005), (w, w, h - 0.01)),
            Part("cylinder", (0, 0, h / 2 - 0.005), (0.9 * w, 0.9 * w, 0.01), 0.35),
        )
    if category == "plant pot":
        pot_h, leaves = 0.55 * h, min(0.45 * h, w)
        return (
            Part("cylinder", (0, 0, z0 + pot_h / 2), (0.8 * w, 0.8 * w, pot_h)),
            Part("sphere", (0, 0, h / 2 - leaves / 2), (leaves,) * 3, colour_bgr=FOLIAGE_BGR),
        )
    return (Part(CATEGORY_BY_NAME[category].shape, (0.0, 0.0, 0.0), size_m),)


def _legs(w: float, d: float, z0: float, height: float, thick: float, dy: float = 0.0) -> tuple[Part, ...]:
    """Four legs standing on the floor at the corners of a w × d rectangle."""
    x, y = w / 2 - thick / 2, d / 2 - thick / 2
    return tuple(
        Part("box", (sx * x, sy * y + dy, z0 + height / 2), (thick, thick, height)) for sx in (-1, 1) for sy in (-1, 1)
    )


@dataclass
class SceneObject:
    """One object: a box, sphere or vertical cylinder standing on the floor.

    Attributes:
        category: Class name (``"chair"``); ``colour``: a key of :data:`COLOURS_BGR`.
        shape: ``"box"``, ``"sphere"`` or ``"cylinder"``.
        centre_m: Centre of the object in world metres (x, y, z).
        size_m: Extent (width along local x, depth along local y, height); spheres and cylinders have
            width == depth == diameter.
        yaw_deg: Rotation about the vertical axis (boxes only matter).
    """

    category: str
    colour: str
    shape: str
    centre_m: tuple[float, float, float]
    size_m: tuple[float, float, float]
    yaw_deg: float = 0.0

    @property
    def name(self) -> str:
        """How questions refer to it: ``"red chair"`` (unique in a scene by construction)."""
        return f"{self.colour} {self.category}"

    @property
    def parts(self) -> tuple[Part, ...]:
        return parts_for(self.category, self.size_m)

    @property
    def longest_m(self) -> float:
        """The longest dimension: the quantity VSI-Bench's object-size questions ask for."""
        return float(max(self.size_m))

    @property
    def footprint_radius_m(self) -> float:
        """Radius of a circle on the floor that contains the object (used for placement and shadows)."""
        w, d, _ = self.size_m
        return 0.5 * math.hypot(w, d) if self.shape == "box" else 0.5 * w

    def corners_m(self) -> np.ndarray:
        """The 8 corners of a box containing the object, world metres. Shape (8, 3)."""
        w, d, h = self.size_m
        local = np.array([[sx * w / 2, sy * d / 2, sz * h / 2] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)])
        return local @ rot_z(self.yaw_deg).T + np.asarray(self.centre_m)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "category": self.category,
            "colour": self.colour,
            "shape": self.shape,
            "centre_m": [round(float(c), 4) for c in self.centre_m],
            "size_m": [round(float(s), 4) for s in self.size_m],
            "yaw_deg": round(float(self.yaw_deg), 2),
        }


def rot_z(yaw_deg: float) -> np.ndarray:
    """Rotation matrix about +z (counter-clockwise seen from above). Shape (3, 3)."""
    c, s = math.cos(math.radians(yaw_deg)), math.sin(math.radians(yaw_deg))
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


@dataclass
class Camera:
    """A pinhole camera: pose in the world plus intrinsics in pixels.

    ``yaw_deg`` is the heading in the floor plane (0 = looking along +x, 90 = along +y); ``pitch_deg``
    tilts it down. Pixel (u, v) integers are pixel centres, so a symmetric camera has cx = (W - 1) / 2.

    Example:
        >>> cam = Camera.from_fov((0, 0, 1.5), yaw_deg=90, pitch_deg=10, width=640, height=480, hfov_deg=70)
        >>> u, v, z = cam.project(np.array([[0.0, 3.0, 1.5]]))[0]
    """

    position_m: tuple[float, float, float]
    yaw_deg: float
    pitch_deg: float
    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int

    @classmethod
    def from_fov(cls, position_m, yaw_deg: float, pitch_deg: float, width: int, height: int, hfov_deg: float) -> Camera:
        """A camera with square pixels and the given horizontal field of view."""
        fx = (width / 2) / math.tan(math.radians(hfov_deg) / 2)
        pos = tuple(float(p) for p in position_m)
        return cls(pos, float(yaw_deg), float(pitch_deg), fx, fx, (width - 1) / 2, (height - 1) / 2, width, height)

    def rotation_cw(self) -> np.ndarray:
        """World-to-camera rotation; its rows are the camera's right, down and forward axes. Shape (3, 3)."""
        yaw, pitch = math.radians(self.yaw_deg), math.radians(self.pitch_deg)
        forward = np.array([math.cos(pitch) * math.cos(yaw), math.cos(pitch) * math.sin(yaw), -math.sin(pitch)])
        right = np.array([math.sin(yaw), -math.cos(yaw), 0.0])
        down = np.cross(forward, right)
        return np.stack([right, down, forward])

    def to_camera(self, points_m: np.ndarray) -> np.ndarray:
        """World points (N, 3) to camera-frame points (N, 3), metres."""
        return (np.asarray(points_m, dtype=np.float64) - np.asarray(self.position_m)) @ self.rotation_cw().T

    def project(self, points_m: np.ndarray) -> np.ndarray:
        """World points (N, 3) to (u, v, depth_m) rows (N, 3); depth <= 0 means behind the camera."""
        pc = self.to_camera(points_m)
        z = pc[:, 2]
        safe = np.where(np.abs(z) < 1e-9, 1e-9, z)
        return np.stack([self.fx * pc[:, 0] / safe + self.cx, self.fy * pc[:, 1] / safe + self.cy, z], axis=1)

    def intrinsics(self) -> dict[str, float]:
        return {"fx": round(self.fx, 4), "fy": round(self.fy, 4), "cx": round(self.cx, 4), "cy": round(self.cy, 4)}

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.intrinsics(),
            "width": self.width,
            "height": self.height,
            "position_m": [round(float(p), 4) for p in self.position_m],
            "yaw_deg": round(self.yaw_deg, 3),
            "pitch_deg": round(self.pitch_deg, 3),
            "rotation_cw": [[round(float(x), 6) for x in row] for row in self.rotation_cw()],
        }


@dataclass
class Scene:
    """A room with objects, plus the cameras the synthesiser films it with.

    Attributes:
        room_m: (width along x, depth along y, height), metres.
        objects: Objects with unique (category, colour) pairs.
        camera: The still-image camera; ``wide_camera`` a high corner view that sees most of the floor;
            ``path`` the poses of the video camera walking through the room.
    """

    room_m: tuple[float, float, float]
    objects: list[SceneObject]
    camera: Camera
    wide_camera: Camera
    path: list[Camera] = field(default_factory=list)
    wall_bgr: tuple[int, int, int] = (200, 212, 222)
    floor_bgr: tuple[int, int, int] = (120, 150, 180)
    fog_per_m: float = 0.04

    @property
    def floor_area_m2(self) -> float:
        return float(self.room_m[0] * self.room_m[1])

    def by_name(self, name: str) -> SceneObject:
        return next(o for o in self.objects if o.name == name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "room_m": [round(float(r), 4) for r in self.room_m],
            "floor_area_m2": round(self.floor_area_m2, 4),
            "objects": [o.to_dict() for o in self.objects],
        }
