"""Multiple-choice question generators: relative_distance, relative_direction, depth_order, relation_2d,
appearance_order, route_plan. Each takes (scene, view, rng) and returns a :class:`Question` or None.

Every generator asks only when the geometry leaves a clear margin (distance ratio, angle from a
boundary, pixel offset, frames between first appearances), so the answer is unambiguous.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from m2sdk.data.question_base import (
    Question,
    View,
    clip01,
    final_choice,
    floor_xy,
    fmt,
    pick,
    with_options,
)
from m2sdk.data.scene import Scene

MIN_RATIO = 1.15  # nearest vs runner-up distance, for relative_distance and depth_order
MIN_ANGLE_MARGIN_DEG = 15.0
MIN_TURN_MARGIN_DEG = 12.0
MIN_APPEARANCE_GAP_S = 0.6  # between first appearances: survives the model's 2 fps frame sampling
TURNS = ("turn left", "turn right", "turn back", "keep straight")


def relative_distance(scene: Scene, view: View, rng: np.random.Generator) -> Question | None:
    """Which of 2–4 objects is closest to (or farthest from) a target, centre to centre."""
    clear = view.clear_objects()
    if len(clear) < 3:
        return None
    farthest = bool(rng.random() < 0.25)
    for _ in range(6):
        target, *cands = _sample(rng, clear, min(5, len(clear)))
        dist = {k: math.dist(scene.objects[target].centre_m, scene.objects[k].centre_m) for k in cands}
        ranked = sorted(cands, key=dist.get, reverse=farthest)
        ratio = max(dist[ranked[0]], dist[ranked[1]]) / max(min(dist[ranked[0]], dist[ranked[1]]), 1e-6)
        if ratio >= MIN_RATIO:
            break
    else:
        return None
    names = {k: scene.objects[k].name for k in cands}
    options, letter = with_options(rng, names[ranked[0]], [names[k] for k in ranked[1:]])
    word = "farthest from" if farthest else "closest to"
    tname = scene.objects[target].name
    question = pick(
        rng,
        (
            f"Measuring from the object centres, which of these objects is {word} the {tname}?",
            f"Which object is the {word.split()[0]} {word.split()[1]} the {tname} (centre to centre)?",
        ),
    )
    listed = ", ".join(f"the {names[k]} is {fmt(dist[k])} m away" for k in cands)
    cot = f"Centre-to-centre distances from the {tname}: {listed}. The {word.split()[0]} is the {names[ranked[0]]}. "
    return Question(
        "relative_distance",
        question,
        options,
        letter,
        "choice",
        None,
        cot + final_choice(letter, names[ranked[0]]),
        clip01(1 - (ratio - 1)),
        [tname, *names.values()],
    )


def relative_direction(scene: Scene, view: View, rng: np.random.Generator) -> Question | None:
    """Standing at A facing B, is C to the left/right (or front-left ... back-right)?"""
    clear = view.clear_objects()
    quadrant = bool(rng.random() < 0.4)
    found = _direction_triple(scene, view, rng, clear, quadrant) if len(clear) >= 3 else None
    if found is None:
        return None
    ks, (a, b, c), angle, margin = found
    na, nb, nc = (scene.objects[k].name for k in ks)
    side = "left" if angle > 0 else "right"
    correct = f"{'front' if abs(angle) < 90 else 'back'}-{side}" if quadrant else side
    question, choices = _direction_wording(rng, na, nb, nc, quadrant)
    letter = "ABCD"[choices.index(correct)]
    forward, offset = b - a, c - a
    ahead = float(forward @ offset) / float(np.linalg.norm(forward))
    across = _cross(forward, offset) / float(np.linalg.norm(forward))
    cot = (
        f"On a top-down map (x to the camera's right, y straight ahead) the {na} is at ({_xy(a)}), the {nb} at "
        f"({_xy(b)}) and the {nc} at ({_xy(c)}) m. Facing from the {na} to the {nb}, the {nc} is {fmt(abs(ahead))} m "
        f"{'ahead' if ahead >= 0 else 'behind'} and {fmt(abs(across))} m to the {side}, at {abs(angle):.0f}° to the "
        f"{side} of straight ahead. {final_choice(letter, correct)}"
    )
    difficulty = 0.8 * (1 - min(margin, 45.0) / 45) + (0.2 if quadrant else 0.0)
    return Question(
        "relative_direction", question, choices, letter, "choice", None, cot, clip01(difficulty), [na, nb, nc]
    )


def _direction_triple(scene: Scene, view: View, rng: np.random.Generator, clear: list[int], quadrant: bool):
    """Objects (A, B, C), their map positions, the angle of C from A→B (+ = left) and its margin from
    the nearest answer boundary; None when no sampled triple is clear-cut."""
    for _ in range(10):
        ks = _sample(rng, clear, 3)
        a, b, c = (np.array(floor_xy(view.camera, scene.objects[k].centre_m)) for k in ks)
        if np.linalg.norm(b - a) < 0.5 or np.linalg.norm(c - a) < 0.5:
            continue
        angle = _signed_angle(b - a, c - a)
        margin = min(abs(angle), 180 - abs(angle), abs(abs(angle) - 90) if quadrant else 180.0)
        if margin >= MIN_ANGLE_MARGIN_DEG:
            return ks, (a, b, c), angle, margin
    return None


def _direction_wording(rng: np.random.Generator, na: str, nb: str, nc: str, quadrant: bool):
    if quadrant:
        question = (
            f"If I am standing by the {na} and facing the {nb}, is the {nc} to my front-left, front-right, "
            "back-left, or back-right?"
        )
        return question, ["front-left", "front-right", "back-left", "back-right"]
    question = pick(
        rng,
        (
            f"If I am standing by the {na} and facing the {nb}, is the {nc} to my left or right?",
            f"Imagine standing at the {na}, looking towards the {nb}. Is the {nc} on your left or on your right?",
        ),
    )
    return question, ["left", "right"]


def depth_order(scene: Scene, view: View, rng: np.random.Generator) -> Question | None:
    """CV-Bench Depth: which of two objects is closer to the camera (centre distance)."""
    clear = view.clear_objects()
    if len(clear) < 2:
        return None
    for _ in range(6):
        ka, kb = _sample(rng, clear, 2)
        da, db = (
            float(np.linalg.norm(view.camera.to_camera(np.array([scene.objects[k].centre_m]))[0])) for k in (ka, kb)
        )
        ratio = max(da, db) / max(min(da, db), 1e-6)
        if ratio >= MIN_RATIO:
            break
    else:
        return None
    a, b = scene.objects[ka].name, scene.objects[kb].name
    farther = bool(rng.random() < 0.2)
    correct = a if (da > db) == farther else b
    letter = "AB"[[a, b].index(correct)]
    word = "farther from" if farther else "closer to"
    question = pick(
        rng,
        (
            f"Which object is {word} the camera taking this photo, the {a} or the {b}?",
            f"Which of the two is {word} the camera: the {a} or the {b}?",
        ),
    )
    cot = (
        f"The {a}'s centre is about {fmt(da)} m from the camera and the {b}'s about {fmt(db)} m, so the "
        f"{correct} is {word.split()[0]}. {final_choice(letter, correct)}"
    )
    return Question("depth_order", question, [a, b], letter, "choice", None, cot, clip01(1 - (ratio - 1)), [a, b])


def relation_2d(scene: Scene, view: View, rng: np.random.Generator) -> Question | None:
    """CV-Bench Relation: is A left/right of (or above/below) B in the image, by mask centroids."""
    clear = [k for k in view.clear_objects() if view.centroid_uv[k] is not None]
    if len(clear) < 2:
        return None
    for _ in range(6):
        ka, kb = _sample(rng, clear, 2)
        du, dv = np.subtract(view.centroid_uv[ka], view.centroid_uv[kb])
        horizontal = abs(du) >= abs(dv)
        main, other, size = (du, dv, view.camera.width) if horizontal else (dv, du, view.camera.height)
        if abs(main) >= 0.08 * size and abs(main) >= 1.5 * abs(other):
            break
    else:
        return None
    a, b = scene.objects[ka].name, scene.objects[kb].name
    choices = ["left", "right"] if horizontal else ["above", "below"]
    correct = choices[0] if main < 0 else choices[1]
    letter = "AB"[choices.index(correct)]
    question = pick(
        rng,
        (
            f"Considering the relative positions of the {a} and the {b} in the image provided, where is the "
            f"{a} located with respect to the {b}?",
            f"In the image, is the {a} {choices[0]} or {choices[1]} the {b}?".replace(
                "left or right", "to the left or to the right of"
            ),
        ),
    )
    (ua, va), (ub, vb) = view.centroid_uv[ka], view.centroid_uv[kb]
    cot = (
        f"In the image the {a}'s visible centre is at pixel ({ua:.0f}, {va:.0f}) and the {b}'s at "
        f"({ub:.0f}, {vb:.0f}). "
        f"The {'horizontal' if horizontal else 'vertical'} offset of {abs(main):.0f} px dominates, so the {a} is "
        f"{'to the ' + correct + ' of' if horizontal else correct} the {b}. {final_choice(letter, correct)}"
    )
    return Question(
        "relation_2d", question, choices, letter, "choice", None, cot, clip01(1 - abs(main) / (0.4 * size)), [a, b]
    )


def appearance_order(scene: Scene, view: View, rng: np.random.Generator) -> Question | None:
    """Video: the order in which 3–4 objects first appear, with clear gaps between appearances."""
    cands = [k for k in range(len(scene.objects)) if view.first_frame[k] is not None and view.clear(k)]
    if len(cands) < 3 or view.media_type != "video":
        return None
    for _ in range(12):
        chosen = _appearance_chain(rng, cands, view)
        if len(chosen) >= 3:
            break
    else:
        return None
    chosen = chosen[: int(rng.integers(3, min(4, len(chosen)) + 1))]
    gaps = [view.first_frame[b] - view.first_frame[a] for a, b in itertools.pairwise(chosen)]
    names = [scene.objects[k].name for k in chosen]
    correct = ", ".join(names)
    perms = [", ".join(p) for p in itertools.permutations(names) if ", ".join(p) != correct]
    options, letter = with_options(rng, correct, [perms[i] for i in rng.choice(len(perms), size=3, replace=False)])
    asked = ", ".join(names[i] for i in rng.permutation(len(names)))
    question = pick(
        rng,
        (
            f"What will be the first-time appearance order of the following objects in the video: {asked}?",
            f"In which order do these objects first appear in the video: {asked}?",
        ),
    )
    times = ", ".join(f"the {n} at {view.first_frame[k] / view.fps:.1f} s" for n, k in zip(names, chosen, strict=True))
    cot = f"Objects first appear as follows: {times}. So the order is {correct}. {final_choice(letter, correct)}"
    return Question(
        "appearance_order", question, options, letter, "choice", None, cot, clip01(1.5 - min(gaps) / view.fps), names
    )


def route_plan(scene: Scene, view: View, rng: np.random.Generator) -> Question | None:
    """Start at A facing B, walk to C then D: which pair of turns gets there?"""
    clear = view.clear_objects()
    found = _route_objects(scene, view, rng, clear) if len(clear) >= 4 else None
    if found is None:
        return None
    ks, (a, b, c, d), angles, margin = found
    na, nb, nc, nd = (scene.objects[k].name for k in ks)
    turns = [_turn(t) for t in angles]
    route = _route_text(turns, nc, nd)
    others = [_route_text(list(p), nc, nd) for p in itertools.product(TURNS, repeat=2) if list(p) != turns]
    options, letter = with_options(rng, route, [others[i] for i in rng.choice(len(others), size=3, replace=False)])
    question = (
        f"You are standing by the {na}, facing the {nb}. You want to walk to the {nc} and then to the {nd}. "
        "Which sequence of moves gets you there?"
    )
    cot = (
        f"On a top-down map (x to the camera's right, y straight ahead) the {na} is at ({_xy(a)}), the {nb} at "
        f"({_xy(b)}), the {nc} at ({_xy(c)}) and the {nd} at ({_xy(d)}) m. Facing the {nb}, the {nc} is "
        f"{_angle_text(angles[0])}, so I {turns[0]}. Arriving at the {nc} I face away from the {na}, and the {nd} "
        f"is {_angle_text(angles[1])}, so I {turns[1]}. {final_choice(letter, route)}"
    )
    difficulty = 0.3 + 0.5 * (1 - min(margin, 40.0) / 40)
    return Question("route_plan", question, options, letter, "choice", None, cot, clip01(difficulty), [na, nb, nc, nd])


def _route_objects(scene: Scene, view: View, rng: np.random.Generator, clear: list[int]):
    """Objects (A, B, C, D), map positions, the two turn angles and their smallest margin from a turn
    boundary (30° / 150°); None when no sampled route is clear-cut."""
    for _ in range(10):
        ks = _sample(rng, clear, 4)
        a, b, c, d = (np.array(floor_xy(view.camera, scene.objects[k].centre_m)) for k in ks)
        angles = [_signed_angle(b - a, c - a), _signed_angle(c - a, d - c)]
        margin = min(min(abs(abs(t) - 30), abs(abs(t) - 150)) for t in angles)
        legs_ok = min(np.linalg.norm(c - a), np.linalg.norm(d - c), np.linalg.norm(b - a)) >= 0.6
        if legs_ok and margin >= MIN_TURN_MARGIN_DEG:
            return ks, (a, b, c, d), angles, margin
    return None


def _appearance_chain(rng: np.random.Generator, cands: list[int], view: View) -> list[int]:
    """A random subset of objects, in order of first appearance, each clearly after the previous one."""
    kept = [k for k in cands if rng.random() < 0.7]
    chain: list[int] = []
    for k in sorted(kept, key=lambda k: view.first_frame[k]):
        prev = chain[-1] if chain else None
        if prev is None or (
            view.first_frame[k] - view.first_frame[prev] >= MIN_APPEARANCE_GAP_S * view.fps
            and view.first_any[k] > view.first_frame[prev]
        ):
            chain.append(k)
    return chain


def _sample(rng: np.random.Generator, items: list[int], n: int) -> list[int]:
    return [items[i] for i in rng.choice(len(items), size=n, replace=False)]


def _cross(u: np.ndarray, v: np.ndarray) -> float:
    return float(u[0] * v[1] - u[1] * v[0])


def _signed_angle(u: np.ndarray, v: np.ndarray) -> float:
    """Angle from u to v in degrees, positive counter-clockwise (to the left)."""
    return math.degrees(math.atan2(_cross(u, v), float(u @ v)))


def _turn(angle_deg: float) -> str:
    if abs(angle_deg) < 30:
        return "keep straight"
    if abs(angle_deg) > 150:
        return "turn back"
    return "turn left" if angle_deg > 0 else "turn right"


def _angle_text(angle_deg: float) -> str:
    return f"{abs(angle_deg):.0f}° to the {'left' if angle_deg > 0 else 'right'}"


def _route_text(turns: list[str], first: str, second: str) -> str:
    return f"{turns[0]} and walk to the {first}, then {turns[1]} and walk to the {second}"


def _xy(p: np.ndarray) -> str:
    return f"{fmt(float(p[0]))}, {fmt(float(p[1]))}"
