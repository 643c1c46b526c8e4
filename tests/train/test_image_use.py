"""`m2train.image_use`: the answer-loss gap between real and swapped frames, on the shipped m2-mini."""

from __future__ import annotations

import json
import shutil

import pytest

from m2sdk.data.synth import SynthConfig, synthesize
from m2train.image_use import image_gap

ROOMS = dict(width=224, height=168, objects=(3, 5), unique_colours=True, units="metres")  # as train_m2_mini.sh


@pytest.fixture(scope="module")
def fresh_rooms(tmp_path_factory):
    out = tmp_path_factory.mktemp("rooms")
    synthesize(SynthConfig(out, n=96, seed=31337, tasks=("camera_distance", "relative_direction"), **ROOMS))
    return out


def test_m2_mini_reads_the_frame_for_camera_distance(fresh_rooms):
    """Rooms it never saw: its camera-distance answers are likelier with their own frame than with another
    room's or a blank one (the first m2-mini scored the same on all three)."""
    gap = image_gap("m2-mini", str(fresh_rooms), n=96, tasks=["camera_distance"])
    assert gap["shuffled"] > gap["real"] + 0.005 and gap["blank"] > gap["real"] + 0.005, gap


def test_no_gap_when_every_question_shows_the_same_frame(fresh_rooms, tmp_path):
    """Negative control: swapping frames between questions that share one frame changes nothing."""
    lines = (fresh_rooms / "samples.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    first = records[0]["media"]
    same = [{**r, "media": first, "scene": {**r["scene"], "labels": None}} for r in records]
    (tmp_path / "samples.jsonl").write_text("\n".join(json.dumps(r) for r in same) + "\n")
    shutil.copytree(fresh_rooms / "images", tmp_path / "images")
    gap = image_gap("m2-mini", str(tmp_path), n=32, tasks=["camera_distance"])
    assert gap["shuffled"] == pytest.approx(gap["real"], abs=1e-6) and gap["blank"] != gap["real"], gap


def test_counts_are_scored_with_the_listing_the_model_was_taught(tmp_path):
    """With ``count_listing`` a count's scored answer is its colour-by-colour listing: a model taught the
    listing (the recipe's count stage) is measured on what it says, not on a bare boxed number."""
    synthesize(SynthConfig(tmp_path, n=16, seed=4242, tasks=("object_count",), **ROOMS))
    bare = image_gap("m2-mini", str(tmp_path), n=16, tasks=["object_count"])
    listed = image_gap("m2-mini", str(tmp_path), n=16, tasks=["object_count"], count_listing="colours")
    assert listed["real"] != pytest.approx(bare["real"], abs=1e-3), (bare, listed)
