"""Loaders that map public spatial benchmarks (VSI-Bench, CV-Bench) onto :class:`SpatialRecord`.

Both read local ``.jsonl``, ``.json`` (a list of rows) or ``.parquet`` files (parquet needs pyarrow);
nothing is downloaded. Like :func:`m2sdk.data.dataset.load_records` they return ``(records, problems)``:
a bad row is reported with its row number and skipped.

Task ids follow the synthetic set, so one evaluation covers both:
VSI-Bench ``object_counting`` → ``object_count``, ``object_abs_distance`` → ``object_distance`` (m),
``object_size_estimation`` → ``object_size`` (cm), ``room_size_estimation`` → ``room_size`` (m²),
``object_rel_distance`` → ``relative_distance``, ``object_rel_direction_*`` → ``relative_direction``,
``route_planning`` → ``route_plan``, ``obj_appearance_order`` → ``appearance_order``;
CV-Bench Count → ``object_count``, Relation → ``relation_2d``, Depth → ``depth_order``,
Distance → ``relative_distance``, with ``source`` = ADE20K / COCO / Omni3D for its overall score.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from m2sdk.data.dataset import LETTERS, Problem, SpatialRecord
from m2sdk.errors import InputError

VSI_TASKS: dict[str, tuple[str, str | None]] = {  # question_type -> (task, unit of the ground truth)
    "object_counting": ("object_count", None),
    "object_abs_distance": ("object_distance", "m"),
    "object_size_estimation": ("object_size", "cm"),
    "room_size_estimation": ("room_size", "m^2"),
    "object_rel_distance": ("relative_distance", None),
    "object_rel_direction_easy": ("relative_direction", None),
    "object_rel_direction_medium": ("relative_direction", None),
    "object_rel_direction_hard": ("relative_direction", None),
    "route_planning": ("route_plan", None),
    "obj_appearance_order": ("appearance_order", None),
}
CVBENCH_TASKS = {
    "count": "object_count",
    "relation": "relation_2d",
    "depth": "depth_order",
    "distance": "relative_distance",
}
_OPTION_PREFIX = re.compile(r"^\s*\(?([A-Za-z])[.):]\s*")


def load_vsibench(path: str | Path, video_dir: str = "") -> tuple[list[SpatialRecord], list[Problem]]:
    """VSI-Bench rows (id, dataset, scene_name, question_type, question, options, ground_truth).

    The video of a row is ``{video_dir}/{dataset}/{scene_name}.mp4`` relative to the file's folder,
    the layout of the released zips.

    Example:
        >>> records, problems = load_vsibench("vsibench/test-00000-of-00001.parquet")
        >>> records[0].task, records[0].media
        ('object_count', ['arkitscenes/41069025.mp4'])
    """
    return _load(path, lambda row, n: _vsi_record(row, n, video_dir))


def load_cvbench(path: str | Path) -> tuple[list[SpatialRecord], list[Problem]]:
    """CV-Bench rows (idx, type, task, image, question, choices, answer "(A)", source).

    Example:
        >>> records, problems = load_cvbench("cvbench/test.jsonl")
        >>> records[0].source, records[0].answer
        ('ADE20K', 'C')
    """
    return _load(path, _cvbench_record)


def _load(path: str | Path, convert: Callable[[dict, int], SpatialRecord]):
    records, problems = [], []
    for number, row in _rows(Path(path)):
        if isinstance(row, Problem):
            problems.append(row)
            continue
        try:
            records.append(convert(row, number))
        except (InputError, KeyError, TypeError, ValueError) as err:
            problems.append(
                Problem(number, "record", str(err) if not isinstance(err, KeyError) else f"missing field {err}")
            )
    return records, problems


def _rows(path: Path) -> Iterator[tuple[int, dict | Problem]]:
    """(row number from 1, row dict or Problem) from .jsonl / .json / .parquet."""
    if not path.is_file():
        raise InputError(f"benchmark file {path} does not exist")
    if path.suffix == ".parquet":
        yield from enumerate(_parquet_rows(path), start=1)
    elif path.suffix == ".json":
        data = json.loads(path.read_text(encoding="utf-8"))
        rows = data if isinstance(data, list) else data.get("data", data.get("rows"))
        if not isinstance(rows, list):
            raise InputError(f"{path}: expected a JSON list of rows (or {{'data': [...]}})")
        yield from enumerate(rows, start=1)
    else:
        with path.open(encoding="utf-8") as fh:
            for number, line in enumerate(fh, start=1):
                if line.strip():
                    yield number, _json_line(line, number)


def _json_line(line: str, number: int) -> dict | Problem:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as err:
        return Problem(number, "json", f"not valid JSON ({err.msg} at column {err.colno})")
    return row if isinstance(row, dict) else Problem(number, "json", "a row must be a JSON object")


def _parquet_rows(path: Path) -> list[dict]:
    from m2sdk._deps import require

    require("pyarrow")  # a clear "pip install pyarrow" error when missing
    import pyarrow.parquet as parquet

    return parquet.read_table(path).to_pylist()


def _vsi_record(row: dict[str, Any], number: int, video_dir: str) -> SpatialRecord:
    question_type = row["question_type"]
    if question_type not in VSI_TASKS:
        raise InputError(f"unknown VSI-Bench question_type {question_type!r}")
    task, unit = VSI_TASKS[question_type]
    options = _strip_letters(row.get("options"))
    video = f"{row['dataset']}/{row['scene_name']}.mp4"
    return SpatialRecord(
        id=f"vsibench-{row.get('id', number)}",
        task=task,
        media=[f"{video_dir.rstrip('/')}/{video}" if video_dir else video],
        media_type="video",
        question=row["question"],
        options=options,
        answer=_letter(row["ground_truth"]) if options else row["ground_truth"],
        answer_type="choice" if options else "numeric",
        unit=None if options else unit,
        source="vsibench",
        extra={"dataset": row["dataset"], "scene_name": row["scene_name"], "question_type": question_type},
    )


def _cvbench_record(row: dict[str, Any], number: int) -> SpatialRecord:
    task = CVBENCH_TASKS.get(str(row["task"]).lower())
    if task is None:
        raise InputError(f"unknown CV-Bench task {row['task']!r}")
    image = row["image"]
    if isinstance(image, dict):  # parquet image struct {"bytes", "path"}
        image = image.get("path") or row.get("filename")
    return SpatialRecord(
        id=f"cvbench-{row.get('idx', number)}",
        task=task,
        media=[str(image)],
        media_type="image",
        question=row["question"],
        options=[str(c) for c in row["choices"]],
        answer=_letter(row["answer"]),
        answer_type="choice",
        source=str(row["source"]),
        extra={"type": row.get("type"), "cvbench_task": row["task"], "benchmark": "cvbench"},
    )


def _strip_letters(options: Any) -> list[str] | None:
    """["A. chair", "B. table"] -> ["chair", "table"]; None / [] -> None."""
    if options is None or len(options) == 0:
        return None
    return [_OPTION_PREFIX.sub("", str(o), count=1) for o in options]


def _letter(answer: Any) -> str:
    """ "(A)", "A", "a." -> "A"."""
    text = str(answer).strip().strip("()[]. ").upper()
    if len(text) != 1 or text not in LETTERS:
        raise InputError(f"answer {answer!r} is not an option letter")
    return text
