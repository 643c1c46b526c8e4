"""Render evaluation results: a terminal table, JSON and a markdown report, side by side per predictor."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

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


def markdown_table(results: Sequence[EvalResult]) -> str:
    """One row per task, one column per predictor (score, MRA or accuracy, in %)."""
    lines = ["| task | n | " + " | ".join(r.name for r in results) + " |", "|---|---:|" + "---:|" * len(results)]
    lines += ["| " + " | ".join(row) + " |" for row in _rows(results)]
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
    Console().print(table)


def write_reports(results: Sequence[EvalResult], out_dir: str | Path) -> tuple[Path, Path]:
    """``eval.json`` (everything, per sample) and ``eval.md`` (the table and the problems)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out / "eval.json", out / "eval.md"
    json_path.write_text(json.dumps([r.to_dict() for r in results], indent=2, default=str) + "\n")
    problems = [p for r in results for p in r.problems]
    md = ["# Evaluation", "", markdown_table(results), ""]
    if problems:
        md += [f"## Problems ({len(problems)})", "", *[f"- {p}" for p in problems[:200]], ""]
    md_path.write_text("\n".join(md))
    return json_path, md_path
