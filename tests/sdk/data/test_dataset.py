"""JSONL records: validation, round trip, and bad lines reported with their line numbers."""

from __future__ import annotations

import json

import pytest

from m2sdk.data.dataset import SpatialRecord, build_card, card_markdown, load_records, write_records
from m2sdk.errors import InputError


def good(i: int = 0, **changes) -> dict:
    rec = {
        "id": f"r{i}", "task": "camera_distance", "media": ["images/a.png"], "media_type": "image",
        "question": "How far is the red chair, in metres?", "options": None, "answer": 2.5,
        "answer_type": "numeric", "unit": "m", "cot": "So the answer is 2.5 m.", "difficulty": 0.3,
    }  # fmt: skip
    rec.update(changes)
    return rec


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "images/a.png").write_bytes(b"png")
    return tmp_path


def write_lines(folder, lines):
    path = folder / "samples.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_round_trip(folder):
    choice = good(
        1, task="depth_order", options=["red chair", "blue ball"], answer="B", answer_type="choice", unit=None
    )
    records = [SpatialRecord.from_dict(good()), SpatialRecord.from_dict(choice)]
    path = write_records(folder / "samples.jsonl", records)
    loaded, problems = load_records(path)
    assert problems == [] and [r.to_dict() for r in loaded] == [r.to_dict() for r in records]
    assert loaded[1].choice_text() == "blue ball" and loaded[0].answer_text == "2.5"


def test_bad_lines_are_reported_with_line_numbers_and_skipped(folder):
    lines = [
        json.dumps(good(1)),
        '{"id": "r2", "task": ',  # malformed JSON
        json.dumps(good(3, media=["images/missing.png"])),  # missing media
        json.dumps(good(4, answer="about three")),  # unparseable numeric answer
        "",  # blank lines are ignored, not problems
        json.dumps(good(6, options=["a", "b"], answer="C", answer_type="choice")),  # letter out of range
        json.dumps({"id": "r7"}),  # missing fields
        json.dumps(good(8, answer="3.5")),  # numeric string is fine
    ]
    records, problems = load_records(write_lines(folder, lines))
    assert [r.id for r in records] == ["r1", "r8"] and records[1].answer == 3.5
    assert [(p.line, p.kind) for p in problems] == [
        (2, "json"),
        (3, "media"),
        (4, "record"),
        (6, "record"),
        (7, "record"),
    ]
    assert "about three" in problems[2].message and "missing.png" in problems[1].message
    assert "['A', 'B']" in problems[3].message and "missing field" in problems[4].message
    assert str(problems[0]).startswith("line 2: json:")


def test_media_check_can_be_skipped(folder):
    records, problems = load_records(write_lines(folder, [json.dumps(good(media=["videos/x.mp4"]))]), check_media=False)
    assert len(records) == 1 and problems == []


def test_validation_names_the_field():
    with pytest.raises(InputError, match="media_type"):
        SpatialRecord.from_dict(good(media_type="audio"))
    with pytest.raises(InputError, match="difficulty"):
        SpatialRecord.from_dict(good(difficulty=1.5))
    with pytest.raises(InputError, match="options"):
        SpatialRecord.from_dict(good(answer="A", answer_type="choice", options=["only one"]))
    with pytest.raises(InputError, match="does not exist"):
        load_records("/nonexistent/samples.jsonl")


def test_unknown_fields_survive_in_extra():
    rec = SpatialRecord.from_dict(good(benchmark_field=7))
    assert rec.extra == {"benchmark_field": 7} and rec.to_dict()["extra"] == {"benchmark_field": 7}


def test_card_counts_and_ranges():
    records = [SpatialRecord.from_dict(good(i, answer=float(i + 1))) for i in range(3)]
    records.append(SpatialRecord.from_dict(good(9, task="relation_2d", options=["left", "right"], answer="A",
                                                answer_type="choice", unit=None)))  # fmt: skip
    card = build_card(records, {"seed": 1})
    assert card["n_samples"] == 4 and card["tasks"]["camera_distance"]["count"] == 3
    assert card["tasks"]["camera_distance"]["answers"]["m"] == {"n": 3, "min": 1.0, "max": 3.0, "mean": 2.0}
    assert card["tasks"]["relation_2d"]["letters"] == {"A": 1}
    assert "| camera_distance | 3 |" in card_markdown(card)
