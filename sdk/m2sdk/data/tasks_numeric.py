"""Numeric-answer question generators: object_count, camera_distance, object_distance, object_size,
room_size. Each takes (scene, view, rng) and returns a :class:`Question` or None.

Distances are between object *centres* (the question says so), in 3-D, so the answer is exact.
"""

from __future__ import annotations

import numpy as np

from m2sdk.data.question_base import (
    Question,
    View,
    clip01,
    conversion_text,
    final_numeric,
    fmt,
    in_unit,
    pick,
    pick_unit,
    plural,
    unit_word,
    where_in_image,
)
from m2sdk.data.scene import Scene, SceneObject

COUNT_IMAGE = (
    "How many {p} are there in the image?",
    "How many {p} can you see?",
    "Count the {p} in this picture. How many are there?",
    "What is the number of {p} visible in the image?",
)
COUNT_VIDEO = (
    "How many {p} are in this room?",
    "How many {p} appear in the video?",
    "Count the {p} shown in the video.",
)
CAMERA_DISTANCE = (
    "How far is the {a} from the camera, in {u}? Measure to the centre of the object.",
    "What is the distance between the camera and the centre of the {a} (in {u})?",
    "Estimate the straight-line distance from the camera to the centre of the {a}, in {u}.",
)
OBJECT_DISTANCE = (
    "What is the distance between the centres of the {a} and the {b}, in {u}?",
    "How far apart are the {a} and the {b}? Measure centre to centre, in {u}.",
    "Estimate the distance from the centre of the {a} to the centre of the {b} in {u}.",
)
OBJECT_SIZE = (
    "What is the length of the longest dimension (length, width, or height) of the {a}, measured in {u}?",
    "How big is the {a}? Give its longest dimension in {u}.",
    "Estimate the longest side of the {a} in {u}.",
)
ROOM_SIZE = (
    "What is the size of this room (floor area, in {u})?",
    "Estimate the floor area of the room in {u}.",
    "How large is the floor of this room, in {u}?",
)


def object_count(scene: Scene, view: View, rng: np.random.Generator) -> Question | None:
    """How many objects of one category; asked only when every instance is clearly seen or unseen."""
    groups: dict[str, list[int]] = {}
    for k, obj in enumerate(scene.objects):
        groups.setdefault(obj.category, []).append(k)
    candidates = []
    for category, ks in groups.items():
        seen = [k for k in ks if view.visible_px[k] > 0]
        if seen and all(view.visible_px[k] >= view.min_px for k in seen):
            candidates.append((category, seen))
    if not candidates:
        return None
    several = [c for c in candidates if len(c[1]) > 1]
    category, seen = pick(rng, several if several and rng.random() < 0.7 else candidates)
    count = len(seen)
    question = pick(rng, COUNT_VIDEO if view.media_type == "video" else COUNT_IMAGE).format(p=plural(category))
    items = "; ".join(f"the {scene.objects[k].name} {_where(view, k)}" for k in seen)
    noun = plural(category) if count > 1 else category
    cot = f"I look for every {category} in the {view.media_type}: {items}. That makes {count} {noun}. "
    difficulty = 0.15 * (count - 1) + 0.5 * max(view.occlusion(k) for k in seen)
    difficulty += 0.3 * max(view.smallness(k) for k in seen)
    return Question(
        "object_count",
        question,
        None,
        count,
        "numeric",
        None,
        cot + final_numeric(count, None),
        clip01(difficulty),
        [scene.objects[k].name for k in seen],
    )


def camera_distance(scene: Scene, view: View, rng: np.random.Generator, units: str = "mixed") -> Question | None:
    """Camera-to-object-centre distance in a single image."""
    clear = view.clear_objects()
    if not clear:
        return None
    k = pick(rng, clear)
    obj = scene.objects[k]
    x, y, z = view.camera.to_camera(np.array([obj.centre_m]))[0]
    dist = float(np.sqrt(x * x + y * y + z * z))
    unit = pick_unit(rng, {"m": 0.7, "cm": 0.1, "ft": 0.2}, units)
    answer = in_unit(dist, unit)
    question = pick(rng, CAMERA_DISTANCE).format(a=obj.name, u=unit_word(rng, unit))
    cot = (
        f"The {obj.name} is {_where(view, k)}. Relative to the camera its centre is {fmt(abs(x))} m to the "
        f"{'right' if x >= 0 else 'left'}, {fmt(abs(y))} m {'below' if y >= 0 else 'above'} the optical axis "
        f"and {fmt(z)} m ahead. The straight-line distance is sqrt({_sq(x)} + {_sq(y)} + {_sq(z)}) = "
        f"{fmt(dist)} m{conversion_text(dist, unit, answer)}. {final_numeric(answer, unit)}"
    )
    difficulty = 0.35 * view.occlusion(k) + 0.35 * view.smallness(k) + 0.3 * min(1.0, dist / 8)
    return Question("camera_distance", question, None, answer, "numeric", unit, cot, clip01(difficulty), [obj.name])


def object_distance(scene: Scene, view: View, rng: np.random.Generator, units: str = "mixed") -> Question | None:
    """Centre-to-centre distance between two clearly visible objects."""
    clear = view.clear_objects()
    if len(clear) < 2:
        return None
    ka, kb = (clear[i] for i in rng.choice(len(clear), size=2, replace=False))
    a, b = scene.objects[ka], scene.objects[kb]
    pa, pb = view.camera.to_camera(np.array([a.centre_m, b.centre_m]))
    dist = float(np.linalg.norm(pa - pb))
    unit = pick_unit(rng, {"m": 0.7, "cm": 0.15, "ft": 0.15}, units)
    answer = in_unit(dist, unit)
    question = pick(rng, OBJECT_DISTANCE).format(a=a.name, b=b.name, u=unit_word(rng, unit))
    diff = pa - pb
    cot = (
        f"In the camera's frame (x right, y down, z forward) the {a.name}'s centre is at ({_xyz(pa)}) m and "
        f"the {b.name}'s centre at ({_xyz(pb)}) m. The difference is ({_xyz(diff)}) m, so the distance is "
        f"sqrt({_sq(diff[0])} + {_sq(diff[1])} + {_sq(diff[2])}) = {fmt(dist)} m"
        f"{conversion_text(dist, unit, answer)}. {final_numeric(answer, unit)}"
    )
    difficulty = 0.3 * max(view.occlusion(ka), view.occlusion(kb)) + 0.3 * max(view.smallness(ka), view.smallness(kb))
    difficulty += 0.4 * min(1.0, abs(float(pa[2] - pb[2])) / 5)
    return Question(
        "object_distance", question, None, answer, "numeric", unit, cot, clip01(difficulty), [a.name, b.name]
    )


def object_size(scene: Scene, view: View, rng: np.random.Generator, units: str = "mixed") -> Question | None:
    """The longest dimension of one clearly visible object (centimetres by default, as in VSI-Bench)."""
    clear = view.clear_objects()
    if not clear:
        return None
    k = pick(rng, clear)
    obj = scene.objects[k]
    unit = pick_unit(rng, {"cm": 0.7, "m": 0.15, "ft": 0.15}, units)
    answer = in_unit(obj.longest_m, unit)
    question = pick(rng, OBJECT_SIZE).format(a=obj.name, u=unit_word(rng, unit))
    cot = (
        f"{_shape_text(obj)} Its longest dimension is the {_longest_name(obj)}, {fmt(obj.longest_m)} m"
        f"{conversion_text(obj.longest_m, unit, answer)}. {final_numeric(answer, unit)}"
    )
    depth = float(view.camera.to_camera(np.array([obj.centre_m]))[0, 2])
    difficulty = 0.4 * view.occlusion(k) + 0.4 * view.smallness(k) + 0.2 * min(1.0, depth / 8)
    return Question("object_size", question, None, answer, "numeric", unit, cot, clip01(difficulty), [obj.name])


def room_size(scene: Scene, view: View, rng: np.random.Generator, units: str = "mixed") -> Question | None:
    """Floor area of the (rectangular) room, from a video walk or a wide corner image."""
    width, depth, height = scene.room_m
    area = scene.floor_area_m2
    unit = pick_unit(rng, {"m^2": 0.8, "ft^2": 0.2}, units)
    answer = in_unit(area, unit)
    question = pick(rng, ROOM_SIZE).format(u=unit_word(rng, unit))
    cot = (
        f"The room is rectangular: its walls are about {fmt(width)} m apart one way and {fmt(depth)} m the "
        f"other, with a ceiling {fmt(height)} m high. The floor area is {fmt(width)} × {fmt(depth)} = "
        f"{fmt(area)} m²{conversion_text(area, unit, answer)}. {final_numeric(answer, unit)}"
    )
    difficulty = (area - 12) / 50 + (0.25 if view.media_type == "image" else 0.0)
    return Question("room_size", question, None, answer, "numeric", unit, cot, clip01(difficulty), [])


def _where(view: View, k: int) -> str:
    if view.media_type == "video":
        frame = view.first_frame[k] if view.first_frame[k] is not None else view.first_any[k]
        return f"(first seen at {frame / view.fps:.1f} s)" if frame is not None else ""
    u, _ = view.centroid_uv[k] or (view.camera.cx, view.camera.cy)
    return f"{where_in_image(u, view.camera.width)} of the image"


def _sq(x: float) -> str:
    return f"({fmt(float(x))})²" if x < 0 else f"{fmt(float(x))}²"


def _xyz(p) -> str:
    return ", ".join(fmt(float(c)) for c in p)


def _shape_text(obj: SceneObject) -> str:
    w, d, h = obj.size_m
    if obj.shape == "sphere":
        return f"The {obj.name} is a sphere about {fmt(w)} m across."
    if obj.shape == "cylinder":
        return f"The {obj.name} is round, about {fmt(w)} m across and {fmt(h)} m tall."
    return f"The {obj.name} is about {fmt(w)} m wide, {fmt(d)} m deep and {fmt(h)} m tall."


def _longest_name(obj: SceneObject) -> str:
    w, d, h = obj.size_m
    if obj.shape == "sphere" or (obj.shape == "cylinder" and w >= h):
        return "diameter"
    return ("width", "depth", "height")[int(np.argmax([w, d, h]))]
