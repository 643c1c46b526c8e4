"""Sampling of room layouts: room size, object placement and camera poses, all from one RNG.

The cameras come first (a still camera near the south wall, a walk north for the video, a high corner
view), then objects are placed by rejection sampling so they never overlap each other, the walls or the
cameras' walking corridor. Draw order is fixed, so ``sample_scene(np.random.default_rng(s))`` is a pure
function of ``s``.
"""

from __future__ import annotations

import math

import numpy as np

from m2sdk.data.scene import (
    CATEGORIES,
    CATEGORY_BY_NAME,
    COLOURS_BGR,
    FORBIDDEN_COLOURS,
    Camera,
    Category,
    Scene,
    SceneObject,
)

WALL_TONES_BGR = ((200, 212, 222), (185, 195, 200), (210, 205, 190), (175, 190, 205))
FLOOR_TONES_BGR = ((120, 150, 180), (95, 115, 140), (150, 150, 145), (110, 135, 150))
KEEP_OUT_M = 0.5  # clearance between an object's footprint and a camera position or walking path


def sample_scene(
    rng: np.random.Generator,
    width: int = 640,
    height: int = 480,
    n_frames: int = 30,
    objects: tuple[int, int] = (6, 12),
    unique_colours: bool = False,
) -> Scene:
    """A random room with ``objects`` (min, max) objects and its still, wide and video cameras.

    ``unique_colours`` gives every object its own colour, so a colour word alone names an object: the
    simpler rooms a small model (m2-mini) is trained and evaluated on. The defaults draw exactly what
    earlier versions drew, so existing seeds keep every byte.

    Example:
        >>> scene = sample_scene(np.random.default_rng(0))
        >>> scene.objects[0].name, scene.room_m
    """
    room = (float(rng.uniform(3.5, 8.0)), float(rng.uniform(3.5, 8.0)), float(rng.uniform(2.5, 3.0)))
    start, end, eye_m = _walk(rng, room)
    camera = Camera.from_fov(
        (start[0], start[1], eye_m),
        yaw_deg=90 + rng.uniform(-20, 20),
        pitch_deg=rng.uniform(8, 22),
        width=width,
        height=height,
        hfov_deg=rng.uniform(60, 75),
    )
    wide = _wide_camera(rng, room, width, height)
    path = _path(rng, start, end, eye_m, width, height, n_frames)
    keep_out = [(start, end), (wide.position_m[:2], wide.position_m[:2])]
    placed = _place_objects(rng, room, keep_out, camera, objects, unique_colours)
    wall = WALL_TONES_BGR[int(rng.integers(len(WALL_TONES_BGR)))]
    floor = FLOOR_TONES_BGR[int(rng.integers(len(FLOOR_TONES_BGR)))]
    fog = float(rng.uniform(0.02, 0.06))
    return Scene(room, placed, camera, wide, path, wall_bgr=wall, floor_bgr=floor, fog_per_m=fog)


def _walk(rng: np.random.Generator, room: tuple[float, float, float]):
    """Start and end of the camera's walk (floor xy) and the eye height."""
    w, d, _ = room
    start = np.array([rng.uniform(0.4 * w, 0.6 * w), 0.45])
    end = start + np.array([rng.uniform(-0.5, 0.5), min(2.2, 0.45 * d)])
    return start, end, float(rng.uniform(1.2, 1.7))


def _wide_camera(rng: np.random.Generator, room, width: int, height: int) -> Camera:
    """A camera high in a south corner, aimed at the room centre: it sees most of the floor and walls."""
    w, d, h = room
    x = 0.3 if rng.random() < 0.5 else w - 0.3
    z = min(h - 0.2, 2.3)
    target = np.array([w / 2, d * 0.6])
    dx, dy = target - np.array([x, 0.3])
    yaw = math.degrees(math.atan2(dy, dx))
    pitch = math.degrees(math.atan2(z, math.hypot(dx, dy)))
    return Camera.from_fov((x, 0.3, z), yaw, pitch, width, height, hfov_deg=100.0)


def _path(rng, start, end, eye_m: float, width: int, height: int, n_frames: int) -> list[Camera]:
    """Video poses: walk from start to end while the view pans from one side of the room to the other."""
    sweep = float(rng.uniform(70, 85)) * (1 if rng.random() < 0.5 else -1)
    pitch, hfov = float(rng.uniform(14, 24)), float(rng.uniform(65, 75))
    cams = []
    for i in range(n_frames):
        s = i / max(1, n_frames - 1)
        x, y = start + s * (end - start)
        yaw = 90 + sweep * math.cos(math.pi * s)
        cams.append(Camera.from_fov((x, y, eye_m), yaw, pitch, width, height, hfov))
    return cams


def _place_objects(
    rng: np.random.Generator, room, keep_out, camera: Camera, count: tuple[int, int], unique_colours: bool
) -> list[SceneObject]:
    """``count`` (min, max) objects with unique (category, colour), placed without overlaps; failed
    placements drop.

    Most objects are aimed into the still camera's view and categories often repeat, so an image
    usually shows several objects and some of the same kind (for counting).
    """
    weights = np.array([c.weight for c in CATEGORIES])
    colours = list(COLOURS_BGR)
    placed: list[SceneObject] = []
    for _ in range(int(rng.integers(count[0], count[1] + 1))):
        cat = CATEGORIES[int(rng.choice(len(CATEGORIES), p=weights / weights.sum()))]
        if placed and rng.random() < 0.3:  # repeat a category already in the room
            cat = CATEGORY_BY_NAME[placed[int(rng.integers(len(placed)))].category]
        used = {o.colour for o in placed if unique_colours or o.category == cat.name}
        free = [c for c in colours if c not in used and c not in FORBIDDEN_COLOURS.get(cat.name, ())]
        colour = free[int(rng.integers(len(free)))]
        obj = _sample_object(rng, cat, colour)
        in_view = camera if rng.random() < 0.65 else None
        xy = _find_spot(rng, room, obj.footprint_radius_m, placed, keep_out, in_view)
        if xy is not None:
            obj.centre_m = (float(xy[0]), float(xy[1]), obj.centre_m[2])
            placed.append(obj)
    return placed


def _sample_object(rng: np.random.Generator, cat: Category, colour: str) -> SceneObject:
    w = float(rng.uniform(*cat.width_m))
    if cat.shape == "sphere":
        size = (w, w, w)
    elif cat.shape == "cylinder":
        size = (w, w, float(rng.uniform(*cat.height_m)))
    else:
        size = (w, float(rng.uniform(*cat.depth_m)), float(rng.uniform(*cat.height_m)))
    yaw = float(rng.uniform(0, 180)) if cat.shape == "box" else 0.0
    return SceneObject(cat.name, colour, cat.shape, (0.0, 0.0, size[2] / 2), size, yaw)


def _find_spot(rng, room, radius: float, placed: list[SceneObject], keep_out, in_view: Camera | None, tries=40):
    """A free floor spot for a footprint of ``radius``; inside ``in_view``'s field of view if given."""
    w, d, _ = room
    if 2 * radius + 0.1 >= min(w, d):
        return None
    for _ in range(tries):
        xy = _candidate(rng, room, radius, in_view)
        if not (radius + 0.05 <= xy[0] <= w - radius - 0.05 and radius + 0.05 <= xy[1] <= d - radius - 0.05):
            continue
        if any(_dist_to_segment(xy, a, b) < radius + KEEP_OUT_M for a, b in keep_out):
            continue
        if all(math.dist(xy, o.centre_m[:2]) >= radius + o.footprint_radius_m + 0.05 for o in placed):
            return xy
    return None


def _candidate(rng, room, radius: float, in_view: Camera | None) -> np.ndarray:
    w, d, _ = room
    if in_view is None:
        return np.array([rng.uniform(radius + 0.05, w - radius - 0.05), rng.uniform(radius + 0.05, d - radius - 0.05)])
    half_fov = math.atan2(in_view.width / 2, in_view.fx)
    angle = math.radians(in_view.yaw_deg) + rng.uniform(-0.85, 0.85) * half_fov
    dist = rng.uniform(1.2, 6.5)
    return np.asarray(in_view.position_m[:2]) + dist * np.array([math.cos(angle), math.sin(angle)])


def _dist_to_segment(p, a, b) -> float:
    a, b, p = np.asarray(a, float), np.asarray(b, float), np.asarray(p, float)
    ab = b - a
    s = 0.0 if not ab.any() else float(np.clip(np.dot(p - a, ab) / np.dot(ab, ab), 0, 1))
    return float(np.linalg.norm(p - (a + s * ab)))
