"""Dense labels: `m2 data synth --labels` writes exact instance/depth maps; per-token targets follow them."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from m2sdk.data.dataset import load_records
from m2sdk.data.labels import cell_targets, read_labels, write_labels
from m2sdk.data.scene import CATEGORIES, COLOURS_BGR
from m2sdk.data.synth import SynthConfig, synthesize
from m2sdk.errors import InputError

COLOURS = list(COLOURS_BGR)
CATEGORY_NAMES = [c.name for c in CATEGORIES]


@pytest.fixture(scope="module")
def labelled(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("labelled")
    synthesize(SynthConfig(out, n=24, seed=5, width=224, height=168, objects=(3, 5), unique_colours=True, labels=True))
    return out


def test_label_files_match_the_renderers_pixel_counts(labelled):
    records, problems = load_records(labelled / "samples.jsonl")
    assert not problems and records
    for record in records:
        labels = read_labels(labelled, record.scene["labels"])
        image = cv2.imread(str(labelled / record.media[0]))
        assert labels.instances.shape == labels.depth_m.shape == image.shape[:2]
        for k, obj in enumerate(record.scene["objects"]):
            assert int((labels.instances == k).sum()) == obj["visible_px"], (record.id, obj["name"])
        assert labels.depth_m.min() > 0.05 and labels.depth_m.max() < 30  # metres, every pixel hits the room


def test_object_depth_in_the_labels_agrees_with_the_scene_geometry(labelled):
    """The mean labelled depth over an object's pixels is near its centre's camera-frame depth."""
    records, _ = load_records(labelled / "samples.jsonl")
    checked = 0
    for record in records:
        labels = read_labels(labelled, record.scene["labels"])
        cam = record.scene["camera"]
        rotation, position = np.array(cam["rotation_cw"]), np.array(cam["position_m"])
        for k, obj in enumerate(record.scene["objects"]):
            if obj["visible_px"] < 300 or obj["visible_px"] < 0.9 * obj["full_px"]:
                continue
            z = (rotation @ (np.array(obj["centre_m"]) - position))[2]
            surface = float(labels.depth_m[labels.instances == k].mean())
            assert abs(surface - z) < max(obj["size_m"]) * 0.75 + 0.05, (record.id, obj["name"], surface, z)
            checked += 1
    assert checked >= 10


def test_labels_are_off_by_default_and_change_nothing_else(tmp_path):
    plain, labelled = tmp_path / "plain", tmp_path / "labelled"
    synthesize(SynthConfig(plain, n=6, seed=2, width=112, height=84))
    synthesize(SynthConfig(labelled, n=6, seed=2, width=112, height=84, labels=True))
    assert not (plain / "labels").exists()
    for image in (plain / "images").iterdir():
        assert (
            hashlib.sha256(image.read_bytes()).digest()
            == hashlib.sha256((labelled / "images" / image.name).read_bytes()).digest()
        )
    rows = [json.loads(line) for line in (labelled / "samples.jsonl").read_text().splitlines()]
    plain_rows = [json.loads(line) for line in (plain / "samples.jsonl").read_text().splitlines()]
    for row, plain_row in zip(rows, plain_rows, strict=True):
        assert row["scene"].pop("labels")["instances"].endswith("_instances.png")
        assert row == plain_row


def test_cell_targets_follow_the_instance_map(labelled):
    records, _ = load_records(labelled / "samples.jsonl")
    record = max(records, key=lambda r: sum(o["visible_px"] > 2000 for o in r.scene["objects"]))
    targets = cell_targets(record.scene, labelled, (168, 224), 28, colours=COLOURS, categories=CATEGORY_NAMES)
    assert targets.grid == (6, 8)
    labels = read_labels(labelled, record.scene["labels"])
    objects = record.scene["objects"]
    for cell in range(48):
        row, col = divmod(cell, 8)
        block = labels.instances[row * 28 : (row + 1) * 28, col * 28 : (col + 1) * 28]
        counts = np.bincount(block.ravel() + 1, minlength=len(objects) + 1)[1:]
        assert targets.has_object[cell] == (counts.max() >= 0.15 * 28 * 28)
        if targets.has_object[cell]:
            obj = objects[int(counts.argmax())]
            assert COLOURS[targets.colour[cell]] == obj["colour"]
            assert CATEGORY_NAMES[targets.category[cell]] == obj["category"]
            assert targets.log_size[cell] == pytest.approx(np.log(max(obj["size_m"])), abs=1e-5)
        depth = labels.depth_m[row * 28 : (row + 1) * 28, col * 28 : (col + 1) * 28]
        assert targets.has_depth[cell]
        assert targets.log_depth[cell] == pytest.approx(np.log(depth.mean()), abs=1e-4)
    centres = np.flatnonzero(targets.is_centre)
    assert 1 <= len(centres) <= len(objects)
    assert targets.has_object[centres].all()
    assert targets.to_array().shape == (48, 9)


def test_cell_targets_resize_with_the_image(labelled):
    """A model with a smaller pixel budget sees the same layout on a coarser grid."""
    records, _ = load_records(labelled / "samples.jsonl")
    full = cell_targets(records[0].scene, labelled, (168, 224), 28, colours=COLOURS, categories=CATEGORY_NAMES)
    half = cell_targets(records[0].scene, labelled, (84, 112), 28, colours=COLOURS, categories=CATEGORY_NAMES)
    assert half.grid == (3, 4)
    assert np.allclose(np.exp(half.log_depth).mean(), np.exp(full.log_depth).mean(), rtol=0.15)


def test_missing_or_bad_labels_are_typed_errors(labelled, tmp_path):
    records, _ = load_records(labelled / "samples.jsonl")
    scene = dict(records[0].scene)
    with pytest.raises(InputError, match="no dense labels"):
        cell_targets({**scene, "labels": None}, labelled, (168, 224), 28, colours=COLOURS, categories=CATEGORY_NAMES)
    with pytest.raises(InputError, match="not a multiple"):
        cell_targets(scene, labelled, (170, 224), 28, colours=COLOURS, categories=CATEGORY_NAMES)
    broken = {"instances": "labels/nope.png"}
    with pytest.raises(InputError, match="missing"):
        read_labels(labelled, broken)
    paths = write_labels(tmp_path, "labels/x", np.full((4, 4), 7), np.ones((4, 4)))
    with pytest.raises(InputError, match="objects"):  # id 7 but the scene lists fewer objects
        cell_targets({**scene, "labels": paths}, tmp_path, (28, 28), 28, colours=COLOURS, categories=CATEGORY_NAMES)


def test_depth_labels_round_trip_in_millimetres(tmp_path):
    depth = np.array([[0.5, 1.2345], [np.inf, 0.0]])
    paths = write_labels(tmp_path, "labels/d", np.array([[-1, 0], [1, -1]]), depth)
    labels = read_labels(tmp_path, paths)
    assert np.allclose(labels.depth_m, [[0.5, 1.234], [0.0, 0.0]], atol=1e-3)  # unknown -> 0
    assert labels.instances.tolist() == [[-1, 0], [1, -1]]
