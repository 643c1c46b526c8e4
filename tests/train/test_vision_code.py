"""The vision code: deterministic directions, targets that encode the labels, a loss that can fail."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from m2sdk.data.labels import CellTargets
from m2train.config import VisionCodeConfig
from m2train.vision_code import VisionCode


def cells(rows: list[dict]) -> torch.Tensor:
    """Rows of ``CellTargets.to_array()`` from dicts of field -> value (other fields 0)."""
    out = np.zeros((len(rows), len(CellTargets.FIELDS)), np.float32)
    for i, row in enumerate(rows):
        for name, value in row.items():
            out[i, CellTargets.FIELDS.index(name)] = value
    return torch.as_tensor(out)


def red_chair(depth_m: float) -> dict:
    return {"has_object": 1, "colour": 0, "category": 0, "centre_log_depth": math.log(depth_m), "has_depth": 1}


def test_the_code_is_the_same_in_every_build_and_depends_on_the_seed():
    a = VisionCode.build(64, VisionCodeConfig(seed=3))
    b = VisionCode.build(64, VisionCodeConfig(seed=3))
    c = VisionCode.build(64, VisionCodeConfig(seed=4))
    assert torch.equal(a.colours, b.colours) and torch.equal(a.depth, b.depth)
    assert not torch.allclose(a.colours, c.colours)
    assert a.colour_names[0] == "red" and "chair" in a.category_names
    assert torch.allclose(a.categories.norm(dim=-1), torch.ones(len(a.category_names)))


def test_targets_carry_colour_category_and_depth_along_their_directions():
    code = VisionCode.build(256, VisionCodeConfig())
    near, far = cells([red_chair(1.5), red_chair(6.0)])[:, None].unbind(0)
    targets, supervised = code.targets(torch.cat([near, far]))
    assert supervised.all()
    assert torch.allclose(targets.norm(dim=-1), torch.ones(2))
    assert (targets @ code.depth)[1] > (targets @ code.depth)[0] + 0.3  # deeper -> further along DEPTH
    for t in targets:
        assert t @ code.colours[0] > 0.1 and abs(float(t @ code.colours[1])) < 0.25  # red, not another colour
        assert t @ code.object > 0.1 and t @ code.room < 0.25


def test_room_cells_and_unlabelled_cells():
    code = VisionCode.build(256, VisionCodeConfig())
    rows = cells([{"has_depth": 1, "log_depth": math.log(4.0)}, {}])
    targets, supervised = code.targets(rows)
    assert supervised.tolist() == [True, False]
    assert targets[0] @ code.room > 0.1 and abs(float(targets[0] @ code.object)) < 0.25


def test_the_loss_is_zero_on_target_positive_off_it_and_ignores_unlabelled_cells():
    code = VisionCode.build(128, VisionCodeConfig())
    rows = cells([red_chair(2.0), {"has_depth": 1, "log_depth": 0.5}, {}])
    targets, _ = code.targets(rows)
    exact = targets.clone()
    exact[2] = -exact[0]  # an unlabelled cell may hold anything
    assert code.loss(exact, rows).item() == pytest.approx(0.0, abs=1e-6)
    wrong = torch.nn.functional.normalize(torch.randn(3, 128, generator=torch.Generator().manual_seed(0)), dim=-1)
    assert code.loss(wrong, rows).item() > 0.5
    features = wrong.clone().requires_grad_(True)
    code.loss(features, rows).backward()
    assert features.grad[:2].abs().sum() > 0 and features.grad[2].abs().sum() == 0


def test_no_labelled_cell_gives_a_zero_loss_that_keeps_the_graph():
    code = VisionCode.build(32, VisionCodeConfig())
    features = torch.randn(4, 32, requires_grad=True)
    loss = code.loss(features, cells([{}] * 4))
    loss.backward()
    assert loss.item() == 0.0 and features.grad is not None
