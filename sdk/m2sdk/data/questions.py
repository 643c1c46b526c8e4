"""The task registry: which generator answers which task id, and which media it may look at.

Task ids (shared with the evaluation and the trainer's reward routing): ``object_count``,
``camera_distance``, ``object_distance``, ``object_size``, ``room_size``, ``relative_distance``,
``relative_direction``, ``depth_order``, ``relation_2d``, ``appearance_order``, ``route_plan``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from m2sdk.data import tasks_choice, tasks_numeric
from m2sdk.data.question_base import Question, View
from m2sdk.data.scene import Scene

Generator = Callable[[Scene, View, np.random.Generator], "Question | None"]


@dataclass(frozen=True)
class TaskSpec:
    """How to ask one task.

    Attributes:
        generate: ``(scene, view, rng) -> Question | None``.
        still: The still view it uses in scenes without video: ``"image"`` (the normal camera),
            ``"wide"`` (the corner camera that sees most of the room) or None (video only).
        video: Whether it is asked about the video in scenes that have one.
        asks_unit: Its answer has a unit, so ``generate`` takes ``units`` (``"mixed"`` or ``"metric"``).
    """

    generate: Generator
    still: str | None
    video: bool
    asks_unit: bool = False


TASKS: dict[str, TaskSpec] = {
    "object_count": TaskSpec(tasks_numeric.object_count, "image", True),
    "camera_distance": TaskSpec(tasks_numeric.camera_distance, "image", False, asks_unit=True),
    "object_distance": TaskSpec(tasks_numeric.object_distance, "image", True, asks_unit=True),
    "object_size": TaskSpec(tasks_numeric.object_size, "image", True, asks_unit=True),
    "room_size": TaskSpec(tasks_numeric.room_size, "wide", True, asks_unit=True),
    "relative_distance": TaskSpec(tasks_choice.relative_distance, "image", True),
    "relative_direction": TaskSpec(tasks_choice.relative_direction, "image", True),
    "depth_order": TaskSpec(tasks_choice.depth_order, "image", False),
    "relation_2d": TaskSpec(tasks_choice.relation_2d, "image", False),
    "appearance_order": TaskSpec(tasks_choice.appearance_order, None, True),
    "route_plan": TaskSpec(tasks_choice.route_plan, "wide", True),
}
ALL_TASKS: tuple[str, ...] = tuple(TASKS)


def choose_view(task: str, video: bool) -> str | None:
    """``"image"``, ``"wide"`` or ``"video"`` for ``task`` in a scene with or without a video; None if
    the task cannot be asked there.

    Example:
        >>> choose_view("room_size", video=False)
        'wide'
    """
    spec = TASKS[task]
    return "video" if video and spec.video else spec.still


def generate(task: str, scene: Scene, view: View, rng: np.random.Generator, units: str = "mixed") -> Question | None:
    """One question of ``task`` about ``view`` of ``scene``, or None when the view cannot support one.

    ``units="metric"`` asks every measurement in its usual unit (metres, centimetres for sizes) instead
    of a mix with feet and other units.
    """
    spec = TASKS[task]
    return spec.generate(scene, view, rng, units=units) if spec.asks_unit else spec.generate(scene, view, rng)
