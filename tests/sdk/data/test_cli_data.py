"""`m2 data` through the real CLI entry point."""

from __future__ import annotations

import json

import pytest

from m2sdk.cli.main import main
from tests.sdk.data.test_rgbd import make_folder


def test_synth_writes_a_dataset_and_prints_its_card(tmp_path, capsys):
    out = tmp_path / "ds"
    code = main(["data", "synth", "--out", str(out), "--n", "9", "--width", "160", "--height", "120",
                 "--tasks", "camera_distance", "depth_order", "room_size", "--no-progress", "--verify"])  # fmt: skip
    assert code == 0
    lines = (out / "samples.jsonl").read_text().splitlines()
    assert len(lines) == 9 and {json.loads(line)["task"] for line in lines} == {
        "camera_distance",
        "depth_order",
        "room_size",
    }
    printed = capsys.readouterr().out
    assert "wrote 9 samples" in printed and "| camera_distance | 3 |" in printed
    assert main(["data", "card", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["n_samples"] == 9


def test_rgbd_with_cli_intrinsics(tmp_path, capsys):
    src = make_folder(tmp_path / "src", n=1)
    code = main(["data", "rgbd", "--src", str(src), "--out", str(tmp_path / "out"),
                 "--fx", "300", "--fy", "300", "--cx", "80", "--cy", "60"])  # fmt: skip
    assert code == 0
    first = json.loads((tmp_path / "out/samples.jsonl").read_text().splitlines()[0])
    assert first["scene"]["camera"]["fx"] == 300.0


def test_bad_arguments_exit_2_with_a_message(tmp_path, capsys):
    assert main(["data", "synth", "--out", str(tmp_path), "--n", "0"]) == 2
    assert "n must be >= 1" in capsys.readouterr().err
    assert main(["data", "rgbd", "--src", str(tmp_path), "--out", str(tmp_path / "o"), "--fx", "1"]) == 2
    assert main(["data", "card", str(tmp_path)]) == 2


@pytest.mark.parametrize("sub", ["synth", "rgbd", "card"])
def test_help_has_runnable_example(sub, capsys):
    with pytest.raises(SystemExit):
        main(["data", sub, "--help"])
    assert "m2 data " + sub in capsys.readouterr().out.split("Example")[-1]
