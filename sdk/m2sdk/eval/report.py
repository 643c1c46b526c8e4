"""Render evaluation results: a terminal table, JSON and a markdown report, side by side per predictor.

With more than one predictor (a model and its baselines), a second table gives the first predictor's
per-task difference to each other one on the same questions, with a 95 % interval
(:mod:`m2sdk.eval.compare`): whether "above the baseline" is more than the draw of questions.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from m2sdk.errors import InputError
from m2sdk.eval.compare import mean_of_tasks_difference, task_differences
from m2sdk.eval.runner import EvalResult


def _tasks(results: Sequence[EvalResult]) -> list[str]:
    return sorted({t for r in results for t in r.report.per_task})


def _rows(results: Sequence[EvalResult]) -> list[list[str]]:
    """[task, n, score per predictor...] rows, then overall and parse-failure rows."""
    rows = []
    for task in _tasks(results):
        n = max((r.report.per_task[task].count for r in results if task in r.report.per_task), default=0)
        cells = [f"{100 * r.report.per_task[task].mean:.1f}" if task in r.report.per_task else "-" for r in results]
        rows.append([task, str(n), *cells])
    rows.append(["overall (mean of tasks)", "", *[f"{100 * r.report.overall:.1f}" for r in results]])
    rows.append(["parse failures", "", *[str(r.report.parse_failures) for r in results]])
    return rows


def _difference_header(results: Sequence[EvalResult]) -> list[str]:
    return [f"{results[0].name} − {other.name}" for other in results[1:]]


def _difference_rows(results: Sequence[EvalResult]) -> list[list[str]]:
    """[task, first − other per other predictor] rows in points with the 95 % interval, then the mean of tasks."""
    first, tasks = results[0], _tasks(results)

    def cell(other: EvalResult, chosen: list[str]) -> str:
        try:
            if len(chosen) == 1:
                return task_differences(first.samples, other.samples, chosen)[chosen[0]].points()
            return mean_of_tasks_difference(first.samples, other.samples, chosen).points()
        except InputError:  # fewer than two shared questions
            return "-"

    rows = [[task, *(cell(other, [task]) for other in results[1:])] for task in tasks]
    rows.append(["mean of tasks", *(cell(other, tasks) for other in results[1:])])
    return rows


def markdown_table(results: Sequence[EvalResult]) -> str:
    """One row per task, one column per predictor (score, MRA or accuracy, in %)."""
    lines = ["| task | n | " + " | ".join(r.name for r in results) + " |", "|---|---:|" + "---:|" * len(results)]
    lines += ["| " + " | ".join(row) + " |" for row in _rows(results)]
    return "\n".join(lines)


def markdown_differences(results: Sequence[EvalResult]) -> str:
    """The paired-difference table (empty with a single predictor)."""
    if len(results) < 2:
        return ""
    header = _difference_header(results)
    lines = ["| task | " + " | ".join(header) + " |", "|---|" + "---:|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in _difference_rows(results)]
    return "\n".join(lines)


def print_table(results: Sequence[EvalResult]) -> None:
    """The same table on the terminal (rich)."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title="spatial evaluation (MRA for numeric tasks, accuracy for choice, %)")
    table.add_column("task")
    table.add_column("n", justify="right")
    for r in results:
        table.add_column(r.name, justify="right")
    for row in _rows(results):
        table.add_row(*row)
    console = Console()
    console.print(table)
    if len(results) > 1:
        differences = Table(title="paired differences on the same questions (points, 95 % interval)")
        differences.add_column("task")
        for name in _difference_header(results):
            differences.add_column(name, justify="right")
        for row in _difference_rows(results):
            differences.add_row(*row)
        console.print(differences)


def write_reports(results: Sequence[EvalResult], out_dir: str | Path) -> tuple[Path, Path]:
    """``eval.json`` (everything, per sample) and ``eval.md`` (the table and the problems)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out / "eval.json", out / "eval.md"
    json_path.write_text(json.dumps([r.to_dict() for r in results], indent=2, default=str) + "\n")
    problems = [p for r in results for p in r.problems]
    md = ["# Evaluation", "", markdown_table(results), ""]
    if len(results) > 1:
        md += ["## Paired differences (same questions, points, 95 % interval)", "", markdown_differences(results), ""]
    if problems:
        md += [f"## Problems ({len(problems)})", "", *[f"- {p}" for p in problems[:200]], ""]
    md_path.write_text("\n".join(md))
    return json_path, md_path
