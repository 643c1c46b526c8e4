"""The position listing of relative answers (``data.position_listing``): what it says, that it is where the
scene puts the objects, and that the names it repeats look at their objects."""

from __future__ import annotations

import re
from types import SimpleNamespace as R

import numpy as np
import pytest

from m2sdk.answer_parser import parse_answer
from m2sdk.data.dataset import load_records
from m2sdk.prompt import FAST_RESPONSE_PREFIX, format_fast_answer, format_position_listing
from m2train.config import GroundingConfig, load_config
from m2train.data import position_lead
from m2train.grounding import ordered_targets
from m2train.sft import build_sft_trainer
from tests.train.conftest import sft_config
from tests.train.synthetic import labelled_rooms

ITEM = re.compile(r"^(?:([A-D]) )?(.+) (left|right) (\d+\.\d) at (\d+\.\d)$")


@pytest.fixture(scope="module")
def relative(tmp_path_factory):
    tasks = ("relative_distance", "relative_direction", "camera_distance")
    return labelled_rooms(tmp_path_factory.mktemp("relative"), n=24, seed=5, objects=(3, 5), tasks=tasks)


def _camera_frame(scene: dict, name: str) -> np.ndarray:
    """An object's centre in the camera frame, from the scene's camera pose (x right, y down, z ahead)."""
    centre = next(o["centre_m"] for o in scene["objects"] if o["name"] == name)
    camera = scene["camera"]
    return np.asarray(camera["rotation_cw"]) @ (np.asarray(centre) - np.asarray(camera["position_m"]))


def test_format_position_listing_and_the_letter_after_it():
    listing = format_position_listing([("", "red bin", -0.42, 3.06), ("A", "blue bed", 1.2, 2.0), ("B", "pot", 0.0, 1)])
    assert listing == "where: red bin left 0.4 at 3.1, A blue bed right 1.2 at 2.0, B pot right 0.0 at 1.0: "
    parsed = parse_answer(FAST_RESPONSE_PREFIX + listing + format_fast_answer("B"), options=["blue bed", "pot"])
    assert (parsed.choice, parsed.well_formed) == ("B", True)


def test_the_listing_is_where_the_scene_puts_each_named_object(relative):
    records, _ = load_records(relative / "samples.jsonl")
    seen, answered = {"relative_distance": 0, "relative_direction": 0}, []
    for record in records:
        lead = position_lead(record)
        if record.task not in seen:
            assert lead == ""
            continue
        seen[record.task] += 1
        items = [ITEM.match(item) for item in lead.removeprefix("where: ").removesuffix(": ").split(", ")]
        assert all(items) and lead.startswith("where: ") and lead.endswith(": ")
        names = [m.group(2) for m in items]
        assert names == ordered_targets(record)  # the target first (or A, B, C of a direction), options last
        options = record.options or []
        for m in items:
            xyz = _camera_frame(record.scene, m.group(2))
            assert (m.group(1) or None) == ("ABCD"[options.index(m.group(2))] if m.group(2) in options else None)
            assert m.group(3) == ("left" if xyz[0] < 0 else "right")
            assert abs(float(m.group(4)) - abs(xyz[0])) <= 0.05 + 1e-9
            assert abs(float(m.group(5)) - xyz[2]) <= 0.05 + 1e-9
        if record.task == "relative_distance":  # on a floor, the listed (lateral, depth) answer the question
            where = {m.group(2): (float(m.group(4)) * (1 if m.group(3) == "right" else -1), float(m.group(5)))
                     for m in items}  # fmt: skip
            gaps = [np.hypot(*np.subtract(where[o], where[names[0]])) for o in options]
            pick = np.argmax(gaps) if "farthest" in record.question else np.argmin(gaps)
            answered.append("ABCD"[int(pick)] == record.answer)
    assert min(seen.values()) >= 3
    assert sum(answered) >= len(answered) - 1  # rounded to 0.1 m, at most one near tie goes the other way


def test_nothing_is_listed_without_a_pose_or_for_other_tasks():
    scene = {"objects": [{"name": "red bin", "centre_m": [1, 2, 0.3]}, {"name": "blue bed", "centre_m": [2, 2, 0.3]}],
             "targets": ["red bin", "blue bed"]}  # fmt: skip
    assert position_lead(R(task="relative_distance", scene=scene, options=["blue bed"])) == ""  # no camera
    posed = {**scene, "camera": {"rotation_cw": np.eye(3).tolist(), "position_m": [0, 0, 0]}}
    assert position_lead(R(task="relative_distance", scene=posed, options=["blue bed"])) == (
        "where: red bin right 1.0 at 0.3, A blue bed right 2.0 at 0.3: "
    )
    assert position_lead(R(task="camera_distance", scene=posed, options=None)) == ""
    unnamed = {**posed, "targets": ["red bin", "green pot"]}  # a name the scene does not hold
    assert position_lead(R(task="relative_distance", scene=unnamed, options=["green pot"])) == ""


def test_sft_answers_relative_questions_after_the_listing_and_grounds_its_names(relative, tmp_path):
    config = sft_config(relative, tmp_path / "m", grounding=GroundingConfig(at="mentions", heads=2))
    config.data.response, config.data.position_listing = "answer", True
    trainer = build_sft_trainer(config)
    tokenizer = trainer.m2_processor.tokenizer
    records = {r.id: r for r in load_records(relative / "samples.jsonl")[0]}
    listed = 0
    for example in trainer.train_dataset:
        record = records[example["id"]]
        ids, labels = np.asarray(example["input_ids"]), np.asarray(example["labels"])
        answer = tokenizer.decode(ids[labels != -100].tolist()).split("<answer>")[-1]
        if record.task == "camera_distance":
            assert answer.startswith("\\boxed{")
            continue
        listed += 1
        assert answer.startswith(position_lead(record) + "\\boxed{" + record.answer + "}")
        plan = np.asarray(example["grounding_plan"])[0, 0]
        answering = np.flatnonzero(labels != -100)
        for g, name in enumerate(ordered_targets(record)):  # each name in the answer looks at its object
            in_answer = [i for i in np.flatnonzero(plan == g) if i >= answering[0]]
            assert tokenizer.decode(ids[in_answer].tolist()).split() == name.split()
    assert listed >= 6
    trainer.train()
    assert trainer.state.global_step == 4


def test_position_listing_needs_the_fast_answer(tmp_path):
    (tmp_path / "bad.yaml").write_text("data:\n  datasets:\n    - path: d\n  response: cot\n  position_listing: true\n")
    with pytest.raises(ValueError, match=r"data\.position_listing"):
        load_config(tmp_path / "bad.yaml", "sft")
