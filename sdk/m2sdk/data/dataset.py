"""The spatial sample record, JSONL reading and writing with per-line problem reports, and dataset cards.

One record per JSONL line::

    {"id": "synth-s0-000003-camera_distance", "task": "camera_distance", "media": ["images/000003.png"],
     "media_type": "image", "question": "How far is the red chair ...?", "options": null,
     "answer": 2.41, "answer_type": "numeric", "unit": "m", "cot": "... So the answer is 2.41 m.",
     "difficulty": 0.42, "scene": {...}, "source": "synth"}

``options`` hold the option texts without letters; the answer of a choice question is the letter of
its option by position (A, B, C, ...). ``answer`` of a numeric question is a JSON number in ``unit``.
"""

from __future__ import annotations

import json
import logging
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from m2sdk.errors import InputError

log = logging.getLogger(__name__)

MEDIA_TYPES = ("image", "video")
ANSWER_TYPES = ("numeric", "choice")
LETTERS = "ABCDEFGHIJ"


@dataclass
class SpatialRecord:
    """One question with its exact answer and the media it is about.

    Example:
        >>> rec = SpatialRecord.from_dict(json.loads(line))
        >>> rec.answer, rec.unit
        (2.41, 'm')
    """

    id: str
    task: str
    media: list[str]
    media_type: str
    question: str
    options: list[str] | None
    answer: float | int | str
    answer_type: str
    unit: str | None = None
    cot: str = ""
    difficulty: float | None = None
    scene: dict[str, Any] = field(default_factory=dict)
    source: str = "synth"
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SpatialRecord:
        """Validate and build; raises :class:`InputError` naming the bad field."""
        if not isinstance(data, dict):
            raise InputError(f"a record must be a JSON object, got {type(data).__name__}")
        missing = [
            k for k in ("id", "task", "media", "media_type", "question", "answer", "answer_type") if k not in data
        ]
        if missing:
            raise InputError(f"record is missing field(s) {missing}")
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        known.setdefault("options", None)
        rest = {k: v for k, v in data.items() if k not in cls.__dataclass_fields__}
        known["extra"] = {**known.get("extra", {}), **rest}
        return cls(**known)

    def to_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        if not out["extra"]:
            del out["extra"]
        return out

    @property
    def answer_text(self) -> str:
        """The answer as the model should write it in ``\\boxed{}``: ``"2.41"`` or ``"B"``."""
        return str(self.answer)

    def counted_objects(self) -> list[dict[str, Any]]:
        """The scene objects a count question counts (``scene["targets"]``), the most visible first.

        Why that order: a fast answer that lists them (:func:`m2sdk.prompt.format_count_listing`) names
        first the object covering the most vision tokens, which dominates an attention look at the whole
        category, then the next; an order the image fixes is one a model can learn to follow.
        """
        objects = {o.get("name"): o for o in (self.scene or {}).get("objects", [])}
        counted = [objects[name] for name in (self.scene or {}).get("targets") or [] if name in objects]
        return sorted(counted, key=lambda o: -int(o.get("visible_px") or 0))

    def choice_text(self) -> str | None:
        """The text of the correct option, or None for numeric questions."""
        return self.options[LETTERS.index(self.answer)] if self.answer_type == "choice" and self.options else None


def _check(rec: SpatialRecord) -> None:
    for name in ("id", "task", "question"):
        if not isinstance(getattr(rec, name), str) or not getattr(rec, name):
            raise InputError(f"field {name!r} must be a non-empty string, got {getattr(rec, name)!r}")
    if not isinstance(rec.media, list) or not all(isinstance(m, str) for m in rec.media):
        raise InputError(f"field 'media' must be a list of paths, got {rec.media!r}")
    if rec.media_type not in MEDIA_TYPES:
        raise InputError(f"field 'media_type' must be one of {MEDIA_TYPES}, got {rec.media_type!r}")
    if rec.answer_type not in ANSWER_TYPES:
        raise InputError(f"field 'answer_type' must be one of {ANSWER_TYPES}, got {rec.answer_type!r}")
    if rec.difficulty is not None and not (isinstance(rec.difficulty, int | float) and 0 <= rec.difficulty <= 1):
        raise InputError(f"field 'difficulty' must be a number in [0, 1] or null, got {rec.difficulty!r}")
    if rec.answer_type == "numeric":
        rec.answer = _numeric_answer(rec.answer)
    else:
        _check_choice(rec)


def _numeric_answer(value: Any) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InputError(f"field 'answer' of a numeric question must be a number, got {value!r}")
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise InputError(f"field 'answer' of a numeric question is not a number: {value!r}") from None
    if not math.isfinite(value):
        raise InputError(f"field 'answer' must be finite, got {value!r}")
    return value


def _check_choice(rec: SpatialRecord) -> None:
    if not isinstance(rec.options, list) or len(rec.options) < 2 or not all(isinstance(o, str) for o in rec.options):
        raise InputError(f"field 'options' of a choice question must list at least 2 strings, got {rec.options!r}")
    letters = LETTERS[: len(rec.options)]
    if not (isinstance(rec.answer, str) and len(rec.answer) == 1 and rec.answer in letters):
        raise InputError(f"field 'answer' of a choice question must be one of {list(letters)}, got {rec.answer!r}")


@dataclass
class Problem:
    """One bad line of a JSONL file; loading goes on past it."""

    line: int
    kind: str  # "json" | "record" | "media"
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.kind}: {self.message}"


def load_records(path: str | Path, check_media: bool = True) -> tuple[list[SpatialRecord], list[Problem]]:
    """Read a JSONL dataset; bad lines are reported (with their line number) and skipped, not fatal.

    Media paths are relative to the file's folder; with ``check_media`` a record whose media file is
    missing is a problem too.

    Example:
        >>> records, problems = load_records("data/synth/samples.jsonl")
        >>> for p in problems: print(p)   # e.g. "line 7: record: field 'answer' ... is not a number: 'abc'"
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"dataset file {path} does not exist")
    records, problems = [], []
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            rec, problem = _parse_line(line, number, path.parent, check_media)
            if problem is not None:
                log.warning("%s: %s", path, problem)
                problems.append(problem)
            else:
                records.append(rec)
    return records, problems


def _parse_line(line: str, number: int, root: Path, check_media: bool):
    try:
        data = json.loads(line)
    except json.JSONDecodeError as err:
        return None, Problem(number, "json", f"not valid JSON ({err.msg} at column {err.colno})")
    try:
        rec = SpatialRecord.from_dict(data)
    except (InputError, TypeError) as err:
        return None, Problem(number, "record", str(err))
    missing = [m for m in rec.media if check_media and not (root / m).is_file()]
    if missing:
        return None, Problem(number, "media", f"record {rec.id!r}: missing media file(s) {missing} under {root}")
    return rec, None


def write_records(path: str | Path, records: list[SpatialRecord]) -> Path:
    """Write records as JSONL (UTF-8, one per line, fields in a fixed order: byte-identical reruns)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        for rec in records:
            fh.write(json.dumps(rec.to_dict(), ensure_ascii=False) + "\n")
    return path


def build_card(records: list[SpatialRecord], info: dict[str, Any]) -> dict[str, Any]:
    """The dataset card: counts per task, answer ranges per unit, letter balance, difficulty, media."""
    tasks: dict[str, Any] = {}
    for task in sorted({r.task for r in records}):
        recs = [r for r in records if r.task == task]
        entry: dict[str, Any] = {"count": len(recs), "answer_type": recs[0].answer_type}
        entry["media_types"] = dict(sorted(Counter(r.media_type for r in recs).items()))
        if recs[0].answer_type == "numeric":
            entry["answers"] = _numeric_ranges(recs)
        else:
            entry["letters"] = dict(sorted(Counter(str(r.answer) for r in recs).items()))
        diffs = [r.difficulty for r in recs if r.difficulty is not None]
        entry["difficulty_mean"] = round(sum(diffs) / len(diffs), 3) if diffs else None
        tasks[task] = entry
    media = sorted({m for r in records for m in r.media})
    return {
        **info,
        "n_samples": len(records),
        "n_tasks": len(tasks),
        "tasks": tasks,
        "media": {
            "images": sum(m.startswith("images/") for m in media),
            "videos": sum(m.startswith("videos/") for m in media),
        },
    }


def _numeric_ranges(recs: list[SpatialRecord]) -> dict[str, Any]:
    out = {}
    for unit in sorted({r.unit or "count" for r in recs}):
        values = [float(r.answer) for r in recs if (r.unit or "count") == unit]
        out[unit] = {
            "n": len(values),
            "min": min(values),
            "max": max(values),
            "mean": round(sum(values) / len(values), 3),
        }
    return out


def write_card(out_dir: str | Path, card: dict[str, Any]) -> None:
    """``card.json`` plus a human-readable ``README.md`` next to the samples."""
    out_dir = Path(out_dir)
    (out_dir / "card.json").write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (out_dir / "README.md").write_text(card_markdown(card), encoding="utf-8")


def card_markdown(card: dict[str, Any]) -> str:
    """A dataset card as Markdown (also what ``m2 data card DIR`` prints)."""
    lines = [f"# {card.get('name', 'Spatial dataset')}", ""]
    for key in ("generator", "generator_version", "seed", "n_samples", "n_tasks"):
        if key in card:
            lines.append(f"- {key}: {card[key]}")
    for key, value in card.get("config", {}).items():
        lines.append(f"- config.{key}: {value}")
    lines.append(f"- media: {card['media']['images']} images, {card['media']['videos']} videos")
    lines += ["", "| task | n | type | media | answers | mean difficulty |", "|---|---|---|---|---|---|"]
    for task, e in card["tasks"].items():
        media = ", ".join(f"{k} {v}" for k, v in e["media_types"].items())
        if "answers" in e:
            answers = "; ".join(f"{u}: {a['min']}–{a['max']} (n={a['n']})" for u, a in e["answers"].items())
        else:
            answers = " ".join(f"{k}:{v}" for k, v in e["letters"].items())
        lines.append(f"| {task} | {e['count']} | {e['answer_type']} | {media} | {answers} | {e['difficulty_mean']} |")
    lines += ["", "Record format: see `m2sdk.data.dataset` (one JSON object per line of samples.jsonl).", ""]
    return "\n".join(lines)


def read_card(out_dir: str | Path) -> dict[str, Any]:
    path = Path(out_dir) / "card.json"
    if not path.is_file():
        raise InputError(f"no dataset card at {path}: is {out_dir} a folder made by `m2 data synth`?")
    return json.loads(path.read_text(encoding="utf-8"))
