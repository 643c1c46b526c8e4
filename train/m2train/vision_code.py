"""The vision code: dense labels written into fixed directions of the LLM's embedding space.

Why. A decoder trained from scratch learns to *read* an image token only when that token already carries
what the question needs in a simple form: with a randomly initialised vision tower, m2-mini's decoder
learnt every text prior and kept the image tokens as an attention sink (docs/m2_mini.md). Giving the
tower linear probes to train against is not enough either: the features become decodable but stay
entangled, and the decoder still did not pick them up. What the decoder learns from quickly is a token
that *is* a sum of a few clean directions, so the vision tower is trained to produce exactly that.

What. Each vision token (one ``cell`` of the image, :func:`m2sdk.data.labels.cell_targets`) gets the
target

* object cell: ``OBJECT + COLOUR[c] + CATEGORY[k] + a·Δlog z·DEPTH + b·x·LATERAL + s·Δlog size·SIZE
  (+ CENTRE on the cell holding the object's visible centre)``,
* room cell: ``ROOM + a·Δlog d·SURFACE``,

L2-normalised like M2's projector output, where the capitals are fixed random unit vectors (seeded, the
same in every process), ``z``/``x`` the object centre's camera-frame depth and lateral offset and ``d`` the
cell's surface depth. The loss is ``1 − cos(token, target)`` averaged over labelled cells. After this, a
question about "the red chair" is answered by attending to tokens with a large ``COLOUR[red]`` and
``CATEGORY[chair]`` component and reading their ``DEPTH`` component: one attention hop and a linear read.

Example:
    >>> code = VisionCode.build(hidden_size=256, config=VisionCodeConfig())
    >>> loss = code.loss(features, torch.as_tensor(targets.to_array()))   # features: (N, 256), L2-normalised
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from m2sdk.data.labels import CellTargets
from m2train.config import VisionCodeConfig

DEPTH_GAIN = 3.0  # per unit of log depth: depth spans about ±1 in log units indoors
LATERAL_GAIN = 1.5  # per metre of lateral offset
SIZE_GAIN = 2.0  # per unit of log size
_COLUMN = {name: i for i, name in enumerate(CellTargets.FIELDS)}


def default_vocabularies() -> tuple[list[str], list[str]]:
    """The synthetic generator's colour and category names (the default vocabularies of the code)."""
    from m2sdk.data.scene import CATEGORIES, COLOURS_BGR

    return list(COLOURS_BGR), [c.name for c in CATEGORIES]


@dataclass
class VisionCode:
    """The fixed directions of the code (unit vectors, shape (hidden,) or (n, hidden)) and its offsets."""

    object: torch.Tensor
    room: torch.Tensor
    colours: torch.Tensor
    categories: torch.Tensor
    depth: torch.Tensor
    lateral: torch.Tensor
    size: torch.Tensor
    centre: torch.Tensor
    surface: torch.Tensor
    log_depth_offset: float
    log_size_offset: float
    colour_names: list[str]
    category_names: list[str]

    @classmethod
    def build(cls, hidden_size: int, config: VisionCodeConfig) -> VisionCode:
        """Draw the directions from ``config.seed`` (identical on every machine and process)."""
        colours, categories = default_vocabularies()
        colours = config.colours or colours
        categories = config.categories or categories
        gen = torch.Generator().manual_seed(config.seed)

        def unit(*shape: int) -> torch.Tensor:
            return F.normalize(torch.randn(*shape, hidden_size, generator=gen), dim=-1)

        return cls(
            object=unit(), room=unit(), colours=unit(len(colours)), categories=unit(len(categories)),
            depth=unit(), lateral=unit(), size=unit(), centre=unit(), surface=unit(),
            log_depth_offset=math.log(config.depth_offset_m), log_size_offset=math.log(config.size_offset_m),
            colour_names=colours, category_names=categories,
        )  # fmt: skip

    def targets(self, cells: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(targets (N, hidden) L2-normalised, supervised (N,) bool) from ``CellTargets.to_array()`` rows."""
        col = {name: cells[:, i] for name, i in _COLUMN.items()}
        is_object = col["has_object"][:, None] > 0
        colour, category = col["colour"].long(), col["category"].long()
        obj = self.object + self.depth * (DEPTH_GAIN * (col["centre_log_depth"] - self.log_depth_offset))[:, None]
        obj = obj + self.lateral * (LATERAL_GAIN * col["centre_x_m"])[:, None]
        obj = obj + self.size * (SIZE_GAIN * (col["log_size"] - self.log_size_offset))[:, None]
        obj = obj + self.colours[colour.clamp(min=0)] * (colour >= 0)[:, None]
        obj = obj + self.categories[category.clamp(min=0)] * (category >= 0)[:, None]
        obj = obj + self.centre * (col["is_centre"] > 0)[:, None]
        has_depth = col["has_depth"][:, None] > 0
        room = self.room + self.surface * (DEPTH_GAIN * (col["log_depth"] - self.log_depth_offset))[:, None] * has_depth
        target = F.normalize(torch.where(is_object, obj, room), dim=-1)
        return target, is_object[:, 0] | has_depth[:, 0]

    def loss(self, features: torch.Tensor, cells: torch.Tensor) -> torch.Tensor:
        """Mean ``1 − cos`` between vision tokens (N, hidden) and their targets over supervised cells (0 if none)."""
        target, supervised = self.targets(cells.to(torch.float32))
        if not bool(supervised.any()):
            return features.sum() * 0.0  # keeps the graph (and DDP's gradient buckets) intact
        cos = F.cosine_similarity(features.float(), target.to(features.device), dim=-1)
        return (1.0 - cos)[supervised.to(features.device)].mean()

    def to(self, device: Any) -> VisionCode:
        tensors = {k: v.to(device) for k, v in vars(self).items() if isinstance(v, torch.Tensor)}
        return VisionCode(**{**vars(self), **tensors})
