"""The RGB-D smoke set on a synthetic folder with known depths, and on the shared Redwood frames."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from m2sdk.data.dataset import load_records
from m2sdk.data.rgbd import Intrinsics, RGBDConfig, build_rgbd_set, find_frames
from m2sdk.errors import InputError

REDWOOD = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "redwood_rgbd"
H, W = 120, 160


def make_folder(root: Path, n: int = 2) -> Path:
    """Left half 1.5 m, right half 3.0 m, a band of missing readings (0) across the middle rows."""
    (root / "color").mkdir(parents=True)
    (root / "depth").mkdir()
    depth = np.full((H, W), 3000, np.uint16)
    depth[:, : W // 2] = 1500
    depth[50:70] = 0
    for i in range(n):
        cv2.imwrite(str(root / f"color/{i:05d}.jpg"), np.full((H, W, 3), 90 + 20 * i, np.uint8))
        cv2.imwrite(str(root / f"depth/{i:05d}.png"), depth)
    (root / "intrinsics.json").write_text(json.dumps({"fx": 200.0, "fy": 200.0, "cx": 79.5, "cy": 59.5}))
    return root


def test_depth_answers_match_the_known_planes(tmp_path):
    src = make_folder(tmp_path / "src")
    records, problems = build_rgbd_set(RGBDConfig(src, tmp_path / "out", seed=1))
    assert problems == [] and {r.task for r in records} == {"point_depth", "depth_order"}
    for rec in records:
        assert (tmp_path / "out" / rec.media[0]).is_file()
        assert rec.scene["camera"]["fx"] == 200.0  # read from intrinsics.json
        for p in rec.scene["points"]:
            u, v = p["uv"]
            assert not 50 - 2 <= v < 70 + 2  # never on (or next to) the missing band
            assert p["depth_m"] == (1.5 if u < W // 2 else 3.0)  # edge points are rejected by the spread check
        if rec.task == "point_depth":
            assert rec.answer == rec.scene["points"][0]["depth_m"] and rec.unit == "m"
        else:
            a, b = rec.scene["points"]
            assert rec.answer == ("A" if a["depth_m"] < b["depth_m"] else "B")
    loaded, load_problems = load_records(tmp_path / "out/samples.jsonl")
    assert len(loaded) == len(records) and load_problems == []


def test_marker_is_drawn_on_a_copy(tmp_path):
    src = make_folder(tmp_path / "src", n=1)
    records, _ = build_rgbd_set(RGBDConfig(src, tmp_path / "out", pairs_per_frame=0, points_per_frame=1))
    marked = cv2.imread(str(tmp_path / "out" / records[0].media[0]))
    u, v = records[0].scene["points"][0]["uv"]
    assert tuple(marked[v, u + 9]) == (0, 0, 255)  # red ring, radius 9
    assert cv2.imread(str(src / "color/00000.jpg"))[v, u + 9].tolist() != [0, 0, 255]


def test_bad_frames_are_reported_and_skipped(tmp_path):
    src = make_folder(tmp_path / "src", n=2)
    cv2.imwrite(str(src / "depth/00001.png"), np.zeros((H, W), np.uint8))  # 8-bit: not a depth map
    records, problems = build_rgbd_set(RGBDConfig(src, tmp_path / "out"))
    assert [p.line for p in problems] == [2] and "16-bit" in problems[0].message
    assert records and all(r.scene["frame"] == "00000" for r in records)


def test_intrinsics_files(tmp_path):
    (tmp_path / "o3d.json").write_text(json.dumps({"intrinsic_matrix": [525, 0, 0, 0, 525, 0, 319.5, 239.5, 1]}))
    (tmp_path / "k.txt").write_text("500 0 320\n0 510 240\n0 0 1\n")
    (tmp_path / "four.txt").write_text("1 2 3 4")
    assert Intrinsics.from_file(tmp_path / "o3d.json") == Intrinsics.primesense()
    assert Intrinsics.from_file(tmp_path / "k.txt") == Intrinsics(500, 510, 320, 240)
    assert Intrinsics.from_file(tmp_path / "four.txt") == Intrinsics(1, 2, 3, 4)
    (tmp_path / "bad.txt").write_text("1 2 3")
    with pytest.raises(InputError, match="3x3"):
        Intrinsics.from_file(tmp_path / "bad.txt")


def test_missing_folders(tmp_path):
    with pytest.raises(InputError, match="color"):
        find_frames(tmp_path)


@pytest.mark.skipif(not REDWOOD.is_dir(), reason="shared Redwood RGB-D frames not present")
def test_redwood_frames(tmp_path):
    records, problems = build_rgbd_set(RGBDConfig(REDWOOD, tmp_path / "out"))
    assert problems == [] and len(records) == 20
    for rec in (r for r in records if r.task == "point_depth"):
        u, v = rec.scene["points"][0]["uv"]
        depth = cv2.imread(str(REDWOOD / "depth" / f"{rec.scene['frame']}.png"), cv2.IMREAD_UNCHANGED)
        window = depth[v - 2 : v + 3, u - 2 : u + 3].astype(float)
        expected_m = np.median(window[window > 0]) / 1000.0
        assert rec.answer == pytest.approx(expected_m, abs=0.005)
        assert 0.9 <= rec.answer <= 2.8  # the README's depth range
        assert rec.scene["camera"] == {"fx": 525.0, "fy": 525.0, "cx": 319.5, "cy": 239.5, "width": 640, "height": 480}
