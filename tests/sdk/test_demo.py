"""`m2 demo` end to end on the tiny preset: stream, export, ONNX Runtime agreement, quality table."""

from __future__ import annotations

import subprocess
import sys

from m2sdk.data.tasks_numeric import CAMERA_DISTANCE
from m2sdk.demo.runner import DemoConfig, run_demo
from m2sdk.demo.scenario import make_scenario


def test_scenario_truth_is_the_camera_to_object_distance(tmp_path):
    scenario = make_scenario(tmp_path, seed=11, n_frames=6, fps=10.0, width=160, height=120)
    assert scenario.video.is_file() and len(scenario.frames_bgr) == 6
    # asked in the training data's own wording (m2-mini answers paraphrases much worse)
    assert scenario.question in {t.format(a=scenario.target, u="metres") for t in CAMERA_DISTANCE}
    seen = [t for t in scenario.truth_m if t is not None]
    assert seen and all(0.2 < t < 15 for t in seen)
    assert scenario.truth_at(0.0) == scenario.truth_m[0] and scenario.truth_at(99.0) == scenario.truth_m[-1]


def test_demo_runs_every_stage_on_the_tiny_preset(tmp_path):
    config = DemoConfig(out=tmp_path, model="m2-tiny", n_frames=8, width=160, height=120, eval_samples=4)
    torch_run, ort_run = run_demo(config)
    assert torch_run.backend == "torch" and ort_run.backend == "onnxruntime"
    assert torch_run.answers and ort_run.answers
    assert len(torch_run.answers) + torch_run.dropped == 8
    assert (tmp_path / "bundle-fp32" / "manifest.json").is_file()
    assert sorted(p.suffix for p in (tmp_path / "frames_torch").iterdir()) == [".png"] * len(torch_run.answers)
    # The same greedy model on the same frame gives the same answer on both backends.
    by_time = {a.frame_timestamps_s[-1]: a.raw for a in ort_run.answers}
    common = [a for a in torch_run.answers if a.frame_timestamps_s[-1] in by_time]
    assert all(a.raw == by_time[a.frame_timestamps_s[-1]] for a in common)


def test_demo_cli_help_has_an_example():
    out = subprocess.run([sys.executable, "-m", "m2sdk.cli.main", "demo", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "m2 demo --out" in out.stdout
