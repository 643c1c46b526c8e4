"""`m2 eval` engine: oracle scores 1, baselines are what they claim, bad lines are counted, runs go on."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from m2sdk.data.dataset import load_records
from m2sdk.data.synth import SynthConfig, synthesize
from m2sdk.eval.predictors import ConstantPredictor, ModelPredictor, RandomChoicePredictor
from m2sdk.eval.runner import evaluate, load_dataset, select
from m2sdk.prompt import format_response
from m2sdk.units import to_si


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth") / "val"
    synthesize(SynthConfig(out_dir=out, n=24, seed=3, width=160, height=120))
    return out


def _oracle(record) -> str:
    if record.answer_type == "numeric":
        return format_response("", f"{record.answer} {record.unit or ''}".strip())
    return format_response("", str(record.answer))


def test_oracle_scores_one_on_every_task(dataset):
    records, problems, _ = load_dataset(dataset)
    result = evaluate(_oracle, records, name="oracle", problems=problems, progress=False)
    assert not problems and result.report.count == len(records)
    assert all(t.mean == 1.0 for t in result.report.per_task.values())
    assert result.report.parse_failures == 0


def test_constant_baseline_answers_the_training_median_in_si_and_majority(dataset):
    records, _, _ = load_dataset(dataset)
    baseline = ConstantPredictor(records)
    for task in {r.task for r in records}:
        mine = [r for r in records if r.task == task]
        if mine[0].answer_type == "numeric":
            si = [to_si(float(r.answer), r.unit)[0] for r in mine]  # questions mix m, cm and ft
            assert baseline.answers[task] == pytest.approx(np.median(si))
            si_unit = to_si(1.0, mine[0].unit)[1]
            assert baseline(mine[0]).endswith(f" {si_unit}}}</answer>" if si_unit else "}</answer>")
        else:
            majority = max({r.answer for r in mine}, key=lambda a: sum(r.answer == a for r in mine))
            assert [r.answer for r in mine].count(baseline.answers[task]) == [r.answer for r in mine].count(majority)
    result = evaluate(baseline, records, progress=False)
    assert result.report.parse_failures == 0 and 0 < result.report.overall < 1


def test_constant_baseline_is_unit_aware():
    """Truths of 3 m, 300 cm and 9.84 ft are one distance: the median answer scores full marks on each."""
    from types import SimpleNamespace

    from m2sdk.eval.metrics import score_sample

    rows = [dict(task="camera_distance", answer_type="numeric", answer=a, unit=u, options=None)
            for a, u in ((3.0, "m"), (300, "cm"), (9.84, "ft"))]  # fmt: skip
    baseline = ConstantPredictor([SimpleNamespace(**row) for row in rows])
    assert baseline.answers["camera_distance"] == pytest.approx(3.0, rel=1e-3)
    assert [score_sample(row, baseline(SimpleNamespace(**row))).score for row in rows] == [1.0, 1.0, 1.0]


def test_random_baseline_is_seeded(dataset):
    records, _, _ = load_dataset(dataset)
    a = evaluate(RandomChoicePredictor(records, seed=1), records, progress=False).report.overall
    b = evaluate(RandomChoicePredictor(records, seed=1), records, progress=False).report.overall
    assert a == b


def test_bad_lines_and_missing_media_are_counted_and_the_run_goes_on(dataset, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(dataset, bad)
    lines = (bad / "samples.jsonl").read_text().splitlines()
    first = json.loads(lines[0])
    first["media"] = ["images/does_not_exist.png"]
    lines[0] = json.dumps(first)
    lines.insert(2, "{this is not json")
    (bad / "samples.jsonl").write_text("\n".join(lines) + "\n")
    records, problems, _ = load_dataset(bad)
    assert len(records) == len(lines) - 2 and len(problems) == 2
    assert {p.line for p in problems} == {1, 3}
    result = evaluate(_oracle, records, problems=problems, progress=False)
    assert result.report.count == len(records) and len(result.problems) == 2


def test_model_predictor_runs_the_tiny_model_end_to_end(dataset):
    import m2sdk

    records, _, root = load_dataset(dataset)
    chosen = select(records, limit=3)
    model = m2sdk.load("m2-tiny", backend="torch")
    result = evaluate(ModelPredictor(model, root, reasoning=False, max_new_tokens=4), chosen, progress=False)
    assert result.report.count == 3 and len(result.samples) == 3


def test_cli_prints_the_table_and_writes_reports(dataset, tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "m2sdk.cli.main", "eval", "--model", "m2-tiny", "--data", str(dataset),
         "--limit", "2", "--fast", "--max-new-tokens", "4", "--numbers", "greedy", "--baselines", str(dataset),
         "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "constant baseline" in out.stdout and "overall" in out.stdout
    report = json.loads((tmp_path / "eval.json").read_text())
    assert [r["name"] for r in report] == ["model (torch)", "constant baseline", "random baseline"]
    markdown = (tmp_path / "eval.md").read_text()
    assert "| task | n |" in markdown and "paired differences" in out.stdout
    assert "| task | model (torch) − constant baseline | model (torch) − random baseline |" in markdown


def test_paired_difference_table_by_hand():
    from m2sdk.eval.metrics import SampleScore, aggregate
    from m2sdk.eval.report import markdown_differences
    from m2sdk.eval.runner import EvalResult

    def result(name, scores):
        rows = [{"id": f"{task}{i}", "task": task, "score": s} for task, ss in scores.items() for i, s in enumerate(ss)]
        return EvalResult(name, aggregate([SampleScore(r["task"], r["score"]) for r in rows]), samples=rows)

    model = result("model", {"depth": [0.9, 0.6, 0.3], "count": [1.0]})
    constant = result("constant", {"depth": [0.5, 0.5, 0.5], "count": [0.0]})
    lines = markdown_differences([model, constant]).splitlines()
    assert lines[0] == "| task | model − constant |"
    assert lines[2] == "| count | - |"  # one question: no interval
    assert lines[3] == "| depth | +10.0 (-23.9 to +43.9) |"  # differences 0.4, 0.1, -0.2: se sqrt(0.09 / 3)
    assert lines[4] == "| mean of tasks | - |"  # a task without an interval has none either
    two = result("model", {"depth": [0.9, 0.6, 0.3], "count": [1.0, 0.5]})
    constant = result("constant", {"depth": [0.5, 0.5, 0.5], "count": [0.0, 0.5]})
    assert markdown_differences([two, constant]).splitlines()[4].startswith("| mean of tasks | +30.0 (")
    assert markdown_differences([model]) == ""


def test_load_records_reports_line_numbers(tmp_path):
    (tmp_path / "samples.jsonl").write_text('{"id": "x"}\n')
    records, problems = load_records(tmp_path / "samples.jsonl")
    assert records == [] and problems[0].line == 1
