"""The role code: what the answer position must hold about each object the question names, supervised.

Why. A relative question ("standing by the A, facing the B, is the C to my left or right?") is a
function of two or three objects' positions, taken by their role in the question. m2-mini's decoder finds
each named object at its mention (grounding at layer 0) and, with ``keys: mentions`` grounding at layer 1,
its answer position looks at the words of each role. Linear probes of the answer position then read
each object's depth (R² ≈ 0.6) but not its lateral offset (R² ≈ 0), and the answer stays at the constant
letter (docs/m2_mini.md): nothing made the lookups carry the offset, and the answer loss alone, one bit
per question through a comparison not yet learnt, does not. So SFT can supervise the intermediate
variables directly, as the vision code does for the vision tokens: the output of one decoder layer, at
every answer position, must hold role ``g``'s camera-frame position in fixed directions,

    L_role = mean over (answer position, role, field) of (⟨rms_norm(h), D[g, field]⟩ − target[g, field])²,

with ``field`` the object centre's lateral offset (metres, x to the right) and its log depth
(``DEPTH_GAIN`` per unit, around ``DEPTH_OFFSET_M``), and, after the roles, the question's polarity
(:data:`POLARITY_FIELD`): whether a relative distance question asks for the farthest option (+) or the
closest (−). The comparison layer needs it to flip the options' scores, and unsupervised the answer
position held it only weakly (a linear probe 93 % after layer 1, where 74 % of questions ask for the
closest) and the "farthest" questions were answered as "closest" ones. The directions ``D`` are
fixed random unit vectors (seeded, the same in every process), and the roles are
:func:`m2train.grounding.ordered_targets`: the objects as the question names them, options last in letter
order. The layers above then compute the comparison from a few clean numbers. Records without a camera
pose, count questions (whose objects are one group) and roles past ``MAX_ROLES`` are left unsupervised.

Example:
    >>> code = RoleCode.build(hidden_size=256, seed=0)
    >>> capture = LayerOutputCapture(model, layer=1)
    >>> with capture:
    ...     outputs = model(**batch)
    >>> loss = code.loss(capture.hidden, batch["labels"], batch["role_targets"], batch["role_mask"])
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from m2sdk.errors import InputError

MAX_ROLES = 4  # relative distance names a reference object and up to four options: the first three options
FIELDS = ("lateral", "log_depth")
POLARITY_FIELD = MAX_ROLES * len(FIELDS)  # after the roles' fields; read only with role_code.polarity
ROLE_CODE_FIELDS = POLARITY_FIELD + 1
CODES = ("role", "comparison", "distance")  # each batch key pair {code}_targets / {code}_mask
DEPTH_GAIN = 2.0  # per unit of log depth, so that both fields span a few units indoors
DEPTH_OFFSET_M = 2.5
_MIN_DEPTH_M = 0.1


def role_targets(record: Any) -> tuple[np.ndarray, np.ndarray]:
    """(ROLE_CODE_FIELDS,) targets and 0/1 mask of one record: role g's fields at ``g * 2 + f``, then the
    polarity (``±DEPTH_GAIN``, relative distance only).

    Example:
        >>> from types import SimpleNamespace as R
        >>> scene = {"camera": {"rotation_cw": np.eye(3).tolist(), "position_m": [0, 0, 0]},
        ...          "objects": [{"name": "bin", "centre_m": [1.0, 0.0, 2.5]}], "targets": ["bin"]}
        >>> targets, mask = role_targets(R(task="camera_distance", scene=scene, options=None))
        >>> targets[:2].round(3).tolist(), mask.tolist()
        ([1.0, 0.0], [1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    """
    from m2sdk.data.labels import centres_in_camera
    from m2train.grounding import GROUPED_TASKS, ordered_targets

    targets = np.zeros(ROLE_CODE_FIELDS, np.float32)
    mask = np.zeros_like(targets)
    scene = record.scene or {}
    farthest = asks_farthest(record)
    if farthest is not None:
        targets[POLARITY_FIELD] = DEPTH_GAIN if farthest else -DEPTH_GAIN
        mask[POLARITY_FIELD] = 1.0
    if record.task in GROUPED_TASKS or "rotation_cw" not in (scene.get("camera") or {}):
        return targets, mask
    objects = {o.get("name"): o for o in scene.get("objects", []) if o.get("centre_m") is not None}
    roles = ordered_targets(record)[:MAX_ROLES]
    known = [g for g, name in enumerate(roles) if name in objects]
    if not known:
        return targets, mask
    centres = centres_in_camera(scene, [objects[roles[g]] for g in known])  # (k, 3): x right, y down, z ahead
    for g, (x, _, z) in zip(known, centres, strict=True):
        targets[g * 2] = x
        targets[g * 2 + 1] = DEPTH_GAIN * math.log(max(z, _MIN_DEPTH_M) / DEPTH_OFFSET_M)
        mask[g * 2 : g * 2 + 2] = 1.0
    return targets, mask


def _option_distances(record: Any) -> list[float] | None:
    """Each option's centre-to-centre distance from the reference object (role 0), or None."""
    from m2train.grounding import ordered_targets

    if record.task != "relative_distance":
        return None
    objects = {o.get("name"): o for o in (record.scene or {}).get("objects", []) if o.get("centre_m") is not None}
    roles = ordered_targets(record)
    if len(roles) < 2 or any(name not in objects for name in roles):
        return None
    centres = [np.asarray(objects[name]["centre_m"], np.float64) for name in roles]
    return [max(float(np.linalg.norm(c - centres[0])), _MIN_DEPTH_M) for c in centres[1 : MAX_ROLES + 1]]


def asks_farthest(record: Any) -> bool | None:
    """Whether a relative distance question asks for the farthest option, read from the scene (its answer
    is the option farthest from the reference object) rather than from the wording; None for other tasks.

    Example:
        >>> from types import SimpleNamespace as R
        >>> scene = {"objects": [{"name": n, "centre_m": [x, 0.0, 0.0]} for n, x in (("bin", 0), ("a", 1), ("b", 3))]}
        >>> targets = {"targets": ["bin", "a", "b"]}
        >>> asks_farthest(R(task="relative_distance", scene=scene | targets, options=["a", "b"], answer="B"))
        True
    """
    distances = _option_distances(record)
    if distances is None:
        return None
    answer = "ABCD".find(str(record.answer))
    return 0 <= answer < len(distances) and distances[answer] == max(distances)


def distance_targets(record: Any) -> tuple[np.ndarray, np.ndarray]:
    """(MAX_ROLES,) targets and 0/1 mask of a relative distance question's options before its polarity:
    option k's centre-to-centre distance from role 0 (``DEPTH_GAIN`` per unit of log distance around
    ``DEPTH_OFFSET_M``). Supervised one layer below :func:`comparison_targets`, it leaves the layer above
    only the flip for "closest", a product of two numbers it already holds (role_code.distance_layer).
    Other tasks are all-zero and unsupervised.
    """
    targets = np.zeros(MAX_ROLES, np.float32)
    mask = np.zeros_like(targets)
    distances = _option_distances(record)
    for k, distance in enumerate(distances or []):
        targets[k] = DEPTH_GAIN * math.log(distance / DEPTH_OFFSET_M)
        mask[k] = 1.0
    return targets, mask


def comparison_targets(record: Any) -> tuple[np.ndarray, np.ndarray]:
    """(MAX_ROLES,) targets and 0/1 mask of what a relative question compares, computed from the roles:

    * relative direction: standing at role 0 facing role 1, role 2's offset to the left (metres, negative
      to the right) and ahead, on the generator's top-down map (:func:`m2sdk.data.question_base.floor_xy`),
      so the letter is a sign of each (left/right; front/back);
    * relative distance: each option's score, its centre-to-centre distance from role 0 (``DEPTH_GAIN`` per
      unit of log distance around ``DEPTH_OFFSET_M``), negated when the question asks for the closest, so
      the answer is always the option with the greatest score: the letters' logits can then be linear in
      the scores. With the raw distances, which the layer learnt (argmin/argmax of them right for 73 % of
      held-out questions), the answer stayed at the constant letter: the flip for "farthest" was not learnt.

    Other tasks, and scenes without a camera pose, are all-zero and unsupervised.
    """
    from types import SimpleNamespace

    from m2sdk.data.question_base import floor_xy
    from m2train.grounding import ordered_targets

    targets = np.zeros(MAX_ROLES, np.float32)
    mask = np.zeros_like(targets)
    scene = record.scene or {}
    camera = scene.get("camera") or {}
    objects = {o.get("name"): o for o in scene.get("objects", []) if o.get("centre_m") is not None}
    roles = ordered_targets(record)
    if not roles or any(name not in objects for name in roles) or "yaw_deg" not in camera:
        return targets, mask
    centres = [np.asarray(objects[name]["centre_m"], np.float64) for name in roles]
    if record.task == "relative_direction" and len(roles) == 3:
        view = SimpleNamespace(position_m=camera["position_m"], yaw_deg=camera["yaw_deg"])
        a, b, c = (np.asarray(floor_xy(view, centre)) for centre in centres)
        forward, offset = b - a, c - a
        length = max(float(np.linalg.norm(forward)), 1e-6)
        targets[0] = (forward[0] * offset[1] - forward[1] * offset[0]) / length  # + = to the left
        targets[1] = float(forward @ offset) / length
        mask[:2] = 1.0
    elif record.task == "relative_distance" and (farthest := asks_farthest(record)) is not None:
        targets, mask = distance_targets(record)  # the answer's score is the greatest: "closest" flips the sign
        targets = targets if farthest else -targets
    return targets, mask


@dataclass
class RoleCode:
    """The fixed directions ``(fields, hidden)`` a supervised layer writes its targets into (the roles'
    fields, or the comparison's)."""

    directions: torch.Tensor

    @classmethod
    def build(cls, hidden_size: int, seed: int, fields: int = MAX_ROLES * len(FIELDS)) -> RoleCode:
        """Directions of ``fields`` fields; a code with more fields keeps a smaller one's directions first
        (the same seeded stream), so the polarity can be added to a model trained without it."""
        generator = torch.Generator().manual_seed(seed)
        return cls(F.normalize(torch.randn(fields, hidden_size, generator=generator), dim=-1))

    def to(self, device: Any) -> RoleCode:
        return RoleCode(self.directions.to(device))

    def loss(
        self, hidden: torch.Tensor, labels: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor | None:
        """Mean squared error of the role fields read at every answer position, or None when none is supervised.

        Args:
            hidden: (B, Q, D) the supervised layer's output at the last Q positions (Q < S when the shared
                prompt prefix was computed apart).
            labels: (B, S) the batch's labels; a position answers when the next one is labelled.
            targets, mask: (B, ≥ fields) from :func:`role_targets` or :func:`comparison_targets`; fields past
                this code's are not read (the polarity, for a role code built without it).
        """
        fields = self.directions.shape[0]
        targets, mask = targets[:, :fields], mask[:, :fields]
        batch, length = labels.shape
        if hidden.shape[0] != batch or hidden.shape[1] > length:
            raise InputError(f"role code: hidden states {tuple(hidden.shape)} for labels {tuple(labels.shape)}")
        answering = torch.zeros_like(labels, dtype=torch.bool)
        answering[:, :-1] = labels[:, 1:] != -100
        answering = answering[:, length - hidden.shape[1] :].to(hidden.device)  # (B, Q)
        weight = answering[..., None].float() * mask.to(hidden.device)[:, None, :]  # (B, Q, fields)
        if float(weight.sum()) == 0:
            return None
        normed = F.rms_norm(hidden.float(), (hidden.shape[-1],))  # as the next layer reads it, scale-free
        read = normed @ self.directions.to(hidden.device).T  # (B, Q, fields)
        error = (read - targets.to(hidden.device)[:, None, :]) ** 2
        return (error * weight).sum() / weight.sum()


class LayerOutputCapture:
    """The output hidden states of one decoder layer in the last forward through it (a forward hook)."""

    def __init__(self, model: Any, layer: int) -> None:
        layers = model.model.language_model.layers
        if not 0 <= layer < len(layers):
            raise InputError(f"role_code.layer {layer}: the decoder has layers 0..{len(layers) - 1}")
        self.layer = layers[layer]
        self.hidden: torch.Tensor | None = None  # (B, Q, D)
        self._handle = None

    def _keep(self, module: Any, args: Any, output: Any) -> None:
        self.hidden = output[0] if isinstance(output, tuple) else output

    def __enter__(self) -> LayerOutputCapture:
        self.hidden = None
        self._handle = self.layer.register_forward_hook(self._keep)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None
