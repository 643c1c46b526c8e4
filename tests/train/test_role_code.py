"""The role code (m2train.role_code): per-role position targets, the loss, and SFT with it."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from m2sdk.data.dataset import load_records
from m2sdk.data.labels import centres_in_camera
from m2sdk.errors import InputError
from m2train.config import GroundingConfig, ModelConfig, RoleCodeConfig, load_config
from m2train.grounding import ordered_targets
from m2train.role_code import (
    DEPTH_GAIN,
    DEPTH_OFFSET_M,
    MAX_ROLES,
    POLARITY_FIELD,
    ROLE_CODE_FIELDS,
    RoleCode,
    asks_farthest,
    comparison_targets,
    distance_targets,
    role_targets,
)
from m2train.sft import build_sft_trainer
from tests.train.conftest import sft_config
from tests.train.synthetic import labelled_rooms


@pytest.fixture(scope="module")
def rooms(tmp_path_factory):
    tasks = ("camera_distance", "relative_distance", "relative_direction", "object_count")
    return labelled_rooms(tmp_path_factory.mktemp("roles"), n=24, seed=6, objects=(3, 5), tasks=tasks)


def test_role_targets_are_each_named_objects_camera_frame_offset_and_log_depth(rooms):
    records, _ = load_records(rooms / "samples.jsonl")
    seen = set()
    for record in records:
        targets, mask = role_targets(record)
        assert targets.shape == mask.shape == (ROLE_CODE_FIELDS,)
        if record.task == "relative_distance":  # the polarity: what the wording asks
            assert mask[POLARITY_FIELD] == 1.0
            assert targets[POLARITY_FIELD] == (DEPTH_GAIN if "farthest" in record.question else -DEPTH_GAIN)
            assert asks_farthest(record) == ("farthest" in record.question)
            seen.add("farthest" if "farthest" in record.question else "closest")
        else:
            assert mask[POLARITY_FIELD] == 0.0 and asks_farthest(record) is None
        targets, mask = targets[:POLARITY_FIELD], mask[:POLARITY_FIELD]
        if record.task == "object_count":
            assert not mask.any()  # its objects are one group, not roles
            continue
        roles = ordered_targets(record)[:MAX_ROLES]
        objects = {o["name"]: o for o in record.scene["objects"]}
        centres = centres_in_camera(record.scene, [objects[name] for name in roles])
        expected = np.zeros(MAX_ROLES * 2)
        expected[0 : 2 * len(roles) : 2] = centres[:, 0]
        expected[1 : 2 * len(roles) : 2] = DEPTH_GAIN * np.log(centres[:, 2] / DEPTH_OFFSET_M)
        np.testing.assert_allclose(targets, expected, rtol=1e-5, atol=1e-6)
        assert mask.tolist() == [1.0] * 2 * len(roles) + [0.0] * 2 * (MAX_ROLES - len(roles))
        seen.add(record.task)
    assert {"camera_distance", "relative_distance", "relative_direction", "farthest", "closest"} <= seen
    relative = next(r for r in records if r.task == "relative_direction")
    unposed = dataclasses.replace(relative, scene={**relative.scene, "camera": {}})
    assert not role_targets(unposed)[1].any()
    distance = next(r for r in records if r.task == "relative_distance")
    unposed = dataclasses.replace(distance, scene={**distance.scene, "camera": {}})
    assert role_targets(unposed)[1].tolist() == [0.0] * POLARITY_FIELD + [1.0]  # the polarity needs no pose


def test_the_comparison_gives_every_relative_answer_as_a_sign_or_an_extreme(rooms):
    records, _ = load_records(rooms / "samples.jsonl")
    checked = {"relative_direction": 0, "relative_distance": 0}
    for record in records:
        targets, mask = comparison_targets(record)
        if record.task == "relative_direction":
            assert mask.tolist() == [1.0, 1.0, 0.0, 0.0]
            left, ahead = targets[0] > 0, targets[1] > 0
            side = "left" if left else "right"
            said = side if len(record.options) == 2 else f"{'front' if ahead else 'back'}-{side}"
            assert said == record.options["ABCD".index(record.answer)], (record.question, targets)
        elif record.task == "relative_distance":
            n = len(record.options)
            assert mask.tolist() == [1.0] * n + [0.0] * (MAX_ROLES - n)
            scores = targets[:n]
            assert "ABCD"[int(scores.argmax())] == record.answer
            roles = ordered_targets(record)
            objects = {o["name"]: np.asarray(o["centre_m"]) for o in record.scene["objects"]}
            distances = [np.linalg.norm(objects[name] - objects[roles[0]]) for name in roles[1:]]
            sign = 1.0 if "farthest" in record.question else -1.0
            np.testing.assert_allclose(scores, sign * DEPTH_GAIN * np.log(np.asarray(distances) / DEPTH_OFFSET_M),
                                       rtol=1e-5)  # fmt: skip
            raw, raw_mask = distance_targets(record)  # the same numbers before the polarity
            assert raw_mask.tolist() == mask.tolist()
            np.testing.assert_allclose(raw[:n], sign * scores, rtol=1e-6)
        else:
            assert not mask.any() and not distance_targets(record)[1].any()
            continue
        checked[record.task] += 1
    assert min(checked.values()) >= 2, checked


def test_role_code_loss_reads_the_normalised_output_at_answer_positions_only():
    code = RoleCode.build(hidden_size=16, seed=3)
    labels = torch.full((1, 6), -100)
    labels[0, 4:] = 7  # positions 3 and 4 predict answer tokens
    targets = torch.zeros(1, MAX_ROLES * 2)
    targets[0, :2] = torch.tensor([0.5, -1.0])
    mask = torch.zeros_like(targets)
    mask[0, :2] = 1.0
    hidden = torch.randn(1, 6, 16)
    scale = F.rms_norm(hidden[0, 3], (16,)) @ code.directions[:2].T  # what position 3 reads now
    manual = ((scale - targets[0, :2]) ** 2).sum()
    manual += ((F.rms_norm(hidden[0, 4], (16,)) @ code.directions[:2].T - targets[0, :2]) ** 2).sum()
    loss = code.loss(hidden, labels, targets, mask)
    assert loss.item() == pytest.approx(manual.item() / 4, rel=1e-5)
    hidden_changed_off_answer = hidden.clone()
    hidden_changed_off_answer[0, :3] = 100.0
    assert code.loss(hidden_changed_off_answer, labels, targets, mask).item() == pytest.approx(loss.item(), rel=1e-6)
    assert code.loss(hidden[:, 2:], labels, targets, mask).item() == pytest.approx(loss.item(), rel=1e-6)  # prefix
    assert code.loss(hidden, labels, targets, torch.zeros_like(mask)) is None
    with pytest.raises(InputError, match="role code"):
        code.loss(torch.zeros(1, 7, 16), labels, targets, mask)
    # a code without the polarity reads only its own fields; one with it keeps the same directions first
    polar = torch.cat([targets, torch.full((1, 1), DEPTH_GAIN)], 1), torch.cat([mask, torch.ones(1, 1)], 1)
    assert code.loss(hidden, labels, *polar).item() == pytest.approx(loss.item(), rel=1e-6)
    wider = RoleCode.build(hidden_size=16, seed=3, fields=ROLE_CODE_FIELDS)
    assert torch.equal(wider.directions[:POLARITY_FIELD], code.directions)
    polarity_read = F.rms_norm(hidden[0, 3:5], (16,)) @ wider.directions[POLARITY_FIELD]
    manual += ((polarity_read - DEPTH_GAIN) ** 2).sum()
    assert wider.loss(hidden, labels, *polar).item() == pytest.approx(manual.item() / 6, rel=1e-5)


def test_sft_with_the_role_code_logs_it_and_it_falls(rooms, tmp_path):
    model = ModelConfig(freeze_vision=True, freeze_projector=True, shared_prefix=True)
    grounding = [
        GroundingConfig(weight=1.0, layer=0, heads=4, at="mentions"),
        GroundingConfig(weight=1.0, layer=1, heads=4, at="answer", keys="mentions"),
    ]
    config = sft_config(rooms, tmp_path / "r", max_steps=20, lr=3e-3, batch=8, model=model, grounding=grounding,
                        role_code=RoleCodeConfig(weight=1.0, layer=1, comparison_layer=1, distance_layer=0,
                                                 polarity=True))  # fmt: skip
    config.data.response = "answer"
    trainer = build_sft_trainer(config)
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(4)])
    assert batch["role_targets"].shape == batch["role_mask"].shape == (4, ROLE_CODE_FIELDS)
    assert batch["distance_targets"].shape == batch["distance_mask"].shape == (4, MAX_ROLES)
    widths = [code.directions.shape[0] for _, code, _, _ in trainer.m2_role_codes]
    assert widths == [ROLE_CODE_FIELDS, MAX_ROLES, MAX_ROLES]
    assert batch["comparison_targets"].shape == batch["comparison_mask"].shape == (4, MAX_ROLES)
    first, last = trainer.model.model.language_model.layers  # m2-tiny has two layers
    assert [(name, capture.layer) for name, _, capture, _ in trainer.m2_role_codes] == [
        ("role", last),
        ("comparison", last),
        ("distance", first),
    ]
    trainer.train()
    for name in ("role_code_loss", "comparison_code_loss", "distance_code_loss"):
        logged = [r[name] for r in trainer.state.log_history if name in r]
        # a batch without a relative question logs no comparison loss, one without relative distance no distance
        assert len(logged) >= 10 and sum(logged[-5:]) < 0.7 * sum(logged[:5]), (name, logged)


def test_role_code_config_is_checked(rooms, tmp_path):
    with pytest.raises(ValueError, match=r"role_code\.layer"):
        RoleCodeConfig(layer=-1)
    with pytest.raises(ValueError, match=r"role_code\.weight"):
        RoleCodeConfig(weight=-1.0)
    with pytest.raises(ValueError, match=r"role_code\.comparison_layer"):
        RoleCodeConfig(comparison_layer=-2)
    with pytest.raises(ValueError, match=r"role_code\.distance_layer"):
        RoleCodeConfig(distance_layer=-1, comparison_layer=2)
    with pytest.raises(ValueError, match=r"role_code\.distance_layer \(2\) must be below comparison_layer \(2\)"):
        RoleCodeConfig(distance_layer=2, comparison_layer=2)
    with pytest.raises(ValueError, match=r"must be below comparison_layer \(None\)"):
        RoleCodeConfig(distance_layer=1)
    with pytest.raises(ValueError, match=r"role_code\.polarity"):
        RoleCodeConfig(polarity="yes")
    with pytest.raises(InputError, match=r"role_code\.layer 9"):
        build_sft_trainer(sft_config(rooms, tmp_path / "l", role_code=RoleCodeConfig(layer=9)))
    rl = tmp_path / "rl.yaml"
    rl.write_text(f"data:\n  datasets:\n    - path: {rooms}\nrole_code:\n  weight: 1.0\n")
    for kind in ("rl", "vision"):
        with pytest.raises(ValueError, match="role_code is an SFT option"):
            load_config(rl, kind)
    assert load_config(rl, "sft").role_code == RoleCodeConfig(weight=1.0)
