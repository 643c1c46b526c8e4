"""The synthesiser end to end: determinism, task coverage, answers re-derived from the stored geometry."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pytest

from m2sdk.data.dataset import load_records
from m2sdk.data.stages import VerifyAnswers
from m2sdk.data.synth import SynthConfig, synthesize
from m2sdk.units import to_si


def digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth")
    synthesize(SynthConfig(out, n=200, seed=7, width=160, height=120))
    return out


@pytest.fixture(scope="module")
def video_dataset(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth_video")
    synthesize(
        SynthConfig(out, n=24, seed=3, width=160, height=120, video=True, video_frames=12, fps=4, video_fraction=1.0)
    )
    return out


def test_same_seed_same_bytes(tmp_path):
    for name in ("a", "b"):
        synthesize(SynthConfig(tmp_path / name, n=12, seed=5, width=160, height=120, video=True, video_frames=8, fps=4))
    first, second = digests(tmp_path / "a"), digests(tmp_path / "b")
    assert first == second
    assert any(k.startswith("videos/") for k in first) and any(k.startswith("images/") for k in first)


def test_other_seed_other_samples(tmp_path):
    synthesize(SynthConfig(tmp_path / "a", n=6, seed=1, width=160, height=120))
    synthesize(SynthConfig(tmp_path / "b", n=6, seed=2, width=160, height=120))
    assert (tmp_path / "a/samples.jsonl").read_bytes() != (tmp_path / "b/samples.jsonl").read_bytes()


def test_200_samples_cover_at_least_nine_tasks(dataset):
    records, problems = load_records(dataset / "samples.jsonl")
    assert problems == [] and len(records) == 200
    tasks = {r.task for r in records}
    assert len(tasks) >= 9
    card = json.loads((dataset / "card.json").read_text())
    assert sum(t["count"] for t in card["tasks"].values()) == 200 and card["seed"] == 7
    assert (dataset / "README.md").read_text().startswith("# ")


def test_record_fields(dataset):
    records, _ = load_records(dataset / "samples.jsonl")
    for rec in records:
        assert rec.media_type == "image" and (dataset / rec.media[0]).is_file()
        assert 0.0 <= rec.difficulty <= 1.0
        assert rec.cot.rstrip().endswith(".") and str(rec.answer) in rec.cot.rsplit("answer is", 1)[1]
        cam = rec.scene["camera"]
        assert {"fx", "fy", "cx", "cy", "position_m", "yaw_deg", "pitch_deg"} <= set(cam)
        if rec.answer_type == "choice":
            assert rec.options and all(not o[:2].endswith(".") for o in rec.options)
            assert rec.answer in "ABCDEFGH"[: len(rec.options)] and rec.unit is None
        else:
            assert isinstance(rec.answer, int | float) and not isinstance(rec.answer, bool)
    units = {r.unit for r in records if r.answer_type == "numeric"}
    assert {"m", "cm", "m^2"} <= units  # mixed units are asked


def _objects(rec) -> dict[str, dict]:
    return {o["name"]: o for o in rec.scene["objects"]}


def _in_si(rec) -> float:
    return to_si(float(rec.answer), rec.unit)[0]


def test_numeric_answers_follow_from_stored_geometry(dataset):
    records, _ = load_records(dataset / "samples.jsonl")
    checked = 0
    for rec in records:
        objs, targets = _objects(rec), rec.scene["targets"]
        if rec.task == "camera_distance":
            expected = math.dist(rec.scene["camera"]["position_m"], objs[targets[0]]["centre_m"])
        elif rec.task == "object_distance":
            expected = math.dist(objs[targets[0]]["centre_m"], objs[targets[1]]["centre_m"])
        elif rec.task == "object_size":
            expected = max(objs[targets[0]]["size_m"])
        elif rec.task == "room_size":
            expected = rec.scene["room_m"][0] * rec.scene["room_m"][1]
        elif rec.task == "object_count":
            category = objs[targets[0]]["category"]
            assert all(
                o["visible_px"] == 0 for o in objs.values() if o["category"] == category and o["name"] not in targets
            )
            expected = len(targets)
        else:
            continue
        checked += 1
        assert _in_si(rec) == pytest.approx(expected, rel=0.01, abs=0.006), rec.id
    assert checked >= 80


def test_choice_answers_follow_from_stored_geometry(dataset):
    records, _ = load_records(dataset / "samples.jsonl")
    for rec in (r for r in records if r.task in ("depth_order", "relative_distance")):
        objs = _objects(rec)
        chosen = rec.options["ABCDEFGH".index(rec.answer)]
        if rec.task == "depth_order":
            dist = {n: math.dist(rec.scene["camera"]["position_m"], objs[n]["centre_m"]) for n in rec.options}
            want_far = "farther" in rec.question
        else:
            target = rec.scene["targets"][0]
            dist = {n: math.dist(objs[target]["centre_m"], objs[n]["centre_m"]) for n in rec.options}
            want_far = "farthest" in rec.question
        assert chosen == (max if want_far else min)(dist, key=dist.get), rec.id


def _turn_angle(frm, to) -> float:
    """Signed angle (degrees, + = counter-clockwise = left) from floor vector frm to floor vector to."""
    return math.degrees(math.atan2(frm[0] * to[1] - frm[1] * to[0], frm[0] * to[0] + frm[1] * to[1]))


def _xy_between(objs, a, b):
    return [objs[b]["centre_m"][i] - objs[a]["centre_m"][i] for i in (0, 1)]


def test_direction_and_route_answers_follow_from_stored_geometry(dataset):
    records, _ = load_records(dataset / "samples.jsonl")
    checked = 0
    for rec in (r for r in records if r.task in ("relative_direction", "route_plan")):
        objs, names = _objects(rec), rec.scene["targets"]
        chosen = rec.options["ABCD".index(rec.answer)]
        if rec.task == "relative_direction":
            angle = _turn_angle(_xy_between(objs, names[0], names[1]), _xy_between(objs, names[0], names[2]))
            side = "left" if angle > 0 else "right"
            assert chosen in (side, f"{'front' if abs(angle) < 90 else 'back'}-{side}"), rec.id
        else:
            a, _, c, d = names
            turns = []
            for angle in (_turn_angle(_xy_between(objs, a, names[1]), _xy_between(objs, a, c)),
                          _turn_angle(_xy_between(objs, a, c), _xy_between(objs, c, d))):  # fmt: skip
                turns.append("keep straight" if abs(angle) < 30 else "turn back" if abs(angle) > 150 else
                             "turn left" if angle > 0 else "turn right")  # fmt: skip
            assert chosen == f"{turns[0]} and walk to the {c}, then {turns[1]} and walk to the {d}", rec.id
        checked += 1
    assert checked >= 20


def test_asked_objects_are_visible_and_unique(dataset):
    records, _ = load_records(dataset / "samples.jsonl")
    for rec in records:
        names = [o["name"] for o in rec.scene["objects"]]
        assert len(names) == len(set(names))  # category + colour identifies an object
        for name in rec.scene["targets"]:
            assert _objects(rec)[name]["visible_px"] >= 60, rec.id


def test_template_cots_verify_with_the_shared_parser(dataset):
    records, _ = load_records(dataset / "samples.jsonl")
    stage = VerifyAnswers()
    assert len(stage(records, dataset)) == 200 and stage.dropped == []


def test_video_questions(video_dataset):
    import cv2

    records, problems = load_records(video_dataset / "samples.jsonl")
    assert problems == []
    video = [r for r in records if r.media_type == "video"]
    assert {r.task for r in video} >= {"appearance_order", "room_size"}
    capture = cv2.VideoCapture(str(video_dataset / video[0].media[0]))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 12
    for rec in (r for r in video if r.task == "appearance_order"):
        first = {o["name"]: o["first_frame"] for o in rec.scene["objects"]}
        order = rec.options["ABCD".index(rec.answer)].split(", ")
        frames = [first[n] for n in order]
        assert frames == sorted(frames) and len(set(frames)) == len(frames)
        assert len(rec.scene["camera_path"]) == 12


def test_config_rejects_bad_values(tmp_path):
    with pytest.raises(ValueError, match="tasks"):
        SynthConfig(tmp_path, tasks=("nope",))
    with pytest.raises(ValueError, match="need videos"):
        SynthConfig(tmp_path, tasks=("appearance_order",)).usable_tasks()
    with pytest.raises(ValueError, match="n must"):
        SynthConfig(tmp_path, n=0)
    with pytest.raises(ValueError, match="objects"):
        SynthConfig(tmp_path, objects=(4, 2))
    with pytest.raises(ValueError, match="units"):
        SynthConfig(tmp_path, units="imperial")


def test_simple_rooms_in_metric_units(tmp_path):
    """m2-mini's rooms: 3-5 objects, one colour each, every measurement in its usual metric unit."""
    tasks = ("camera_distance", "object_size", "object_count", "relative_distance", "relative_direction")
    records = synthesize(SynthConfig(tmp_path, n=40, seed=5, width=160, height=120, tasks=tasks, per_scene=2,
                                     objects=(3, 5), unique_colours=True, units="metric"))  # fmt: skip
    for rec in records:
        colours = [o["colour"] for o in rec.scene["objects"]]
        assert 1 <= len(colours) <= 5 and len(set(colours)) == len(colours), colours
    assert {r.unit for r in records if r.task == "camera_distance"} == {"m"}
    assert {r.unit for r in records if r.task == "object_size"} == {"cm"}
    card = json.loads((tmp_path / "card.json").read_text())
    assert card["config"]["objects"] == [3, 5]
    assert card["config"]["unique_colours"] is True and card["config"]["units"] == "metric"


def test_metres_for_every_length_same_rooms_and_answers(tmp_path):
    """``units="metres"`` (m2-mini's data) asks sizes in metres too; rooms, frames and true values stay as
    in ``metric``, only the unit of the question changes."""
    tasks = ("camera_distance", "object_size", "object_count")
    common = dict(n=24, seed=6, width=112, height=84, tasks=tasks, objects=(3, 5), unique_colours=True)
    metric = synthesize(SynthConfig(tmp_path / "cm", units="metric", **common))
    metres = synthesize(SynthConfig(tmp_path / "m", units="metres", **common))
    assert [r.id for r in metres] == [r.id for r in metric]
    for a, b in zip(metric, metres, strict=True):
        if a.task == "object_size":
            assert (a.unit, b.unit) == ("cm", "m")
            assert b.answer == pytest.approx(a.answer / 100, abs=0.01)
        else:
            assert (a.unit, a.answer) == (b.unit, b.answer)
    same = [(tmp_path / "cm" / r.media[0]).read_bytes() == (tmp_path / "m" / r.media[0]).read_bytes() for r in metres]
    assert all(same)


def test_default_rooms_keep_their_card(dataset):
    """Older datasets' cards stay byte-identical: the new room settings appear only when used."""
    assert not {"objects", "unique_colours", "units"} & set(json.loads((dataset / "card.json").read_text())["config"])


def test_render_views_is_a_smooth_deterministic_walk():
    from m2sdk.data import render_views

    views = render_views(seed=4, n_frames=6, width=96, height=72)
    again = render_views(seed=4, n_frames=6, width=96, height=72)
    assert len(views) == 6 and views[0][0].shape == (72, 96, 3) and views[0][0].dtype == np.uint8
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(views, again, strict=True))
    positions = np.array([meta["camera"]["position_m"] for _, meta in views])
    steps = np.linalg.norm(np.diff(positions, axis=0), axis=1)
    assert np.all(steps > 0) and np.all(steps < 0.6)
    seen = [obj for _, meta in views for obj in meta["visible_objects"]]
    assert seen and all(obj["visible_px"] > 0 and len(obj["bbox_xyxy"]) == 4 for obj in seen)


def test_write_video_round_trip(tmp_path):
    import cv2

    from m2sdk.data import write_video
    from m2sdk.errors import InputError

    frames = [np.full((48, 64, 3), 20 * i, np.uint8) for i in range(5)]
    path = write_video(tmp_path / "v.mp4", frames, fps=5)
    capture = cv2.VideoCapture(str(path))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 5 and capture.get(cv2.CAP_PROP_FPS) == pytest.approx(5)
    with pytest.raises(InputError, match="frame 1"):
        write_video(tmp_path / "bad.mp4", [frames[0], np.zeros((10, 10, 3), np.uint8)], fps=5)
