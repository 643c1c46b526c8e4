"""The node's parameters as a typed dataclass: one place for names, defaults and validation.

The node declares one ROS parameter per field (defaults from here); ``config/params.yaml`` repeats
every default, and a test checks that both lists match.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

IMAGE_TRANSPORTS = ("raw", "compressed")
IMAGE_QOS = ("sensor_data", "reliable")
ANSWER_MODES = ("fast", "reasoning")


@dataclass
class NodeParams:
    """Parameters of ``m2_spatial_node`` (see config/params.yaml for the operator's view).

    Attributes:
        model: Checkpoint or bundle folder, or a model name: ``m2-mini`` (shipped, trained) or a preset.
        backend: m2sdk backend (``auto``, ``torch``, ``onnxruntime``, ``tensorrt``).
        image_topic: Camera topic; with ``compressed`` transport the node subscribes to
            ``<image_topic>/compressed`` (the image_transport convention).
        image_transport: ``raw`` (sensor_msgs/Image) or ``compressed`` (sensor_msgs/CompressedImage).
        image_qos: ``sensor_data`` (best effort, depth 1: matches every camera) or ``reliable``
            (gets nothing from a best-effort camera).
        max_frame_age_s: Frames whose header stamp is older than this are not answered about.
        frame_wait_s: How long a question waits for a fresh frame before an error answer.
        answer_mode: ``fast`` (answer only) or ``reasoning`` (think first; slower).
        max_new_tokens: Cap on generated tokens; 0 keeps the model's default.
        standing_question: Asked every ``standing_period_s``; empty turns it off.
        standing_period_s: Period of the standing question.
        clip_s: Seconds of 2 fps frame history sent with video questions (room size, route, order).
        queue_size: Questions waiting beyond this are refused with an error answer.
        diagnostics_period_s: Period of the /diagnostics status.

    Example:
        >>> NodeParams(image_qos="reliable").image_qos
        'reliable'
    """

    model: str = "m2-mini"
    backend: str = "auto"
    image_topic: str = "/camera/image_raw"
    image_transport: str = "raw"
    image_qos: str = "sensor_data"
    max_frame_age_s: float = 1.0
    frame_wait_s: float = 2.0
    answer_mode: str = "fast"
    max_new_tokens: int = 0
    standing_question: str = ""
    standing_period_s: float = 5.0
    clip_s: float = 4.0
    queue_size: int = 4
    diagnostics_period_s: float = 1.0

    def __post_init__(self) -> None:
        _check_choice("image_transport", self.image_transport, IMAGE_TRANSPORTS)
        _check_choice("image_qos", self.image_qos, IMAGE_QOS)
        _check_choice("answer_mode", self.answer_mode, ANSWER_MODES)
        for name in ("max_frame_age_s", "frame_wait_s", "standing_period_s", "diagnostics_period_s"):
            if getattr(self, name) <= 0:
                raise ValueError(f"parameter {name} must be > 0, got {getattr(self, name)}")
        if self.clip_s < 0:
            raise ValueError(f"parameter clip_s must be >= 0, got {self.clip_s}")
        if self.queue_size < 1:
            raise ValueError(f"parameter queue_size must be >= 1, got {self.queue_size}")
        if self.max_new_tokens < 0:
            raise ValueError(f"parameter max_new_tokens must be >= 0, got {self.max_new_tokens}")
        if not self.model:
            raise ValueError("parameter model must name a checkpoint folder, m2-mini or a preset such as m2-tiny")
        if not self.image_topic:
            raise ValueError("parameter image_topic must not be empty")

    @property
    def subscribed_topic(self) -> str:
        """The topic actually subscribed to (``/compressed`` appended for compressed transport)."""
        if self.image_transport == "compressed":
            return self.image_topic.rstrip("/") + "/compressed"
        return self.image_topic

    @property
    def clip_frames(self) -> int:
        """Frames of 2 fps history kept for video questions."""
        return max(1, round(self.clip_s * 2))

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """Every parameter name with its default, in declaration order."""
        return {f.name: f.default for f in dataclasses.fields(cls)}


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"parameter {name} must be one of {list(choices)}, got {value!r}")
