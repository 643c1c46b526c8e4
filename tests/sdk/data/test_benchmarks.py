"""VSI-Bench and CV-Bench loaders on small handwritten files in their public formats."""

from __future__ import annotations

import json

import pytest

from m2sdk.data.benchmarks import load_cvbench, load_vsibench
from m2sdk.errors import InputError

VSI_ROWS = [
    {"id": 1, "dataset": "arkitscenes", "scene_name": "41069025", "question_type": "object_counting",
     "question": "How many chair(s) are in this room?", "options": None, "ground_truth": "4"},
    {"id": 2, "dataset": "scannet", "scene_name": "scene0011_00", "question_type": "object_rel_direction_easy",
     "question": "If I am standing by the sofa and facing the tv, is the lamp to my left or right?",
     "options": ["A. left", "B. right"], "ground_truth": "B"},
    {"id": 3, "dataset": "scannetpp", "scene_name": "0d2ee665be", "question_type": "object_size_estimation",
     "question": "What is the length of the longest dimension of the table, measured in centimeters?",
     "options": [], "ground_truth": "152"},
    {"id": 4, "dataset": "scannet", "scene_name": "s", "question_type": "made_up_type", "question": "?",
     "options": None, "ground_truth": "1"},
    {"id": 5, "dataset": "scannet", "scene_name": "s", "question_type": "room_size_estimation",
     "question": "What is the size of this room (in square meters)?", "options": None, "ground_truth": "big"},
]  # fmt: skip

CV_ROWS = [
    {"idx": 0, "type": "2D", "task": "Count", "image": "img/2D/count/ade20k_10.png",
     "question": "How many organs are in the image?", "choices": ["3", "2", "1", "0"], "answer": "(C)",
     "source": "ADE20K"},
    {"idx": 1, "type": "3D", "task": "Depth", "image": "img/3D/depth/omni3d_1.png",
     "question": "Which object is closer to the camera taking this photo, the lamp or the chair?",
     "choices": ["lamp", "chair"], "answer": "(B)", "source": "Omni3D"},
    {"idx": 2, "type": "2D", "task": "Relation", "image": "img/2D/relation/coco_5.png",
     "question": "Where is the dog located with respect to the cat?", "choices": ["left", "right"],
     "answer": "(E)", "source": "COCO"},
]  # fmt: skip


def write_jsonl(path, rows, extra_line=None):
    lines = [json.dumps(r) for r in rows] + ([extra_line] if extra_line else [])
    path.write_text("\n".join(lines) + "\n")
    return path


def test_vsibench_rows_map_onto_records(tmp_path):
    records, problems = load_vsibench(write_jsonl(tmp_path / "vsi.jsonl", VSI_ROWS, "{broken"))
    count, direction, size = records
    assert (count.task, count.answer_type, count.answer, count.unit) == ("object_count", "numeric", 4.0, None)
    assert count.media == ["arkitscenes/41069025.mp4"] and count.media_type == "video"
    assert (direction.task, direction.options, direction.answer) == ("relative_direction", ["left", "right"], "B")
    assert (size.task, size.answer, size.unit, size.options) == ("object_size", 152.0, "cm", None)
    assert count.source == "vsibench" and direction.extra["question_type"] == "object_rel_direction_easy"
    assert [(p.line, p.kind) for p in problems] == [(4, "record"), (5, "record"), (6, "json")]
    assert "made_up_type" in problems[0].message and "big" in problems[1].message


def test_vsibench_json_list_and_video_dir(tmp_path):
    path = tmp_path / "vsi.json"
    path.write_text(json.dumps(VSI_ROWS[:2]))
    records, problems = load_vsibench(path, video_dir="videos")
    assert problems == [] and records[0].media == ["videos/arkitscenes/41069025.mp4"]


def test_cvbench_rows_keep_source(tmp_path):
    records, problems = load_cvbench(write_jsonl(tmp_path / "cv.jsonl", CV_ROWS))
    count, depth = records
    assert (count.task, count.answer, count.options, count.source) == (
        "object_count",
        "C",
        ["3", "2", "1", "0"],
        "ADE20K",
    )
    assert (depth.task, depth.answer, depth.source, depth.media) == (
        "depth_order",
        "B",
        "Omni3D",
        ["img/3D/depth/omni3d_1.png"],
    )
    assert depth.extra["type"] == "3D" and depth.answer_type == "choice"
    assert [(p.line, p.kind) for p in problems] == [(3, "record")] and "got 'E'" in problems[0].message


def test_parquet_needs_pyarrow_or_reads(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(CV_ROWS[:2]), tmp_path / "cv.parquet")
    records, problems = load_cvbench(tmp_path / "cv.parquet")
    assert [r.id for r in records] == ["cvbench-0", "cvbench-1"] and problems == []


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        load_cvbench(tmp_path / "nope.jsonl")
