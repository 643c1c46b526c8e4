"""Benchmark metrics: Mean Relative Accuracy, exact match, per-sample scoring and aggregation.

Scores are fractions in [0, 1] (published tables print them × 100). Numeric answers are compared in SI
units after :func:`m2sdk.answer_parser.parse_answer`, so "250 cm" against a ground truth of 2.5 m is exact.
``reference_parsing=True`` in :func:`score_sample` reproduces VSI-Bench's own answer rule instead.

MRA at a threshold boundary: the rule is ``|ŷ−y|/|y| ≤ 1−θ``. With floats, ``1 − 0.8`` is
``0.19999999999999996`` and ``0.5/2.5`` is ``0.2``, so VSI-Bench's code fails a prediction that sits exactly
on a boundary (2.0 against 2.5 scores 0.6 there, 0.7 by the formula). We compare with a tolerance of
``1e-9`` so boundary cases pass as the formula says; ``tolerance=0.0`` reproduces the reference bit for bit.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from m2sdk.answer_parser import parse_answer
from m2sdk.errors import InputError
from m2sdk.units import to_si

# VSI-Bench builds its thresholds with np.linspace(.5, .95, int((.95 - .5) / .05 + 2)) = 10 points.
VSI_THRESHOLDS = np.linspace(0.50, 0.95, 10)
BOUNDARY_TOLERANCE = 1e-9
_CVBENCH_SOURCES = ("ade20k", "coco", "omni3d")


def relative_error(pred: float | None, gt: float) -> float:
    """``|pred − gt| / |gt|``; ``inf`` for a missing or non-finite prediction.

    A ground truth of 0 has no relative error: an exact 0 is error 0, anything else is ``inf`` (so MRA and
    EDNM give full marks only to an exact answer, and stay unit-invariant).

    Example:
        >>> relative_error(2.0, 2.5)
        0.2
    """
    if not math.isfinite(gt):
        raise InputError(f"ground truth must be a finite number, got {gt!r}")
    if pred is None or not math.isfinite(pred):
        return math.inf
    if gt == 0:
        return 0.0 if pred == 0 else math.inf
    return abs(pred - gt) / abs(gt)


def mean_relative_accuracy(
    pred: float | None,
    gt: float,
    thresholds: Sequence[float] | np.ndarray = VSI_THRESHOLDS,
    *,
    tolerance: float = BOUNDARY_TOLERANCE,
) -> float:
    """VSI-Bench's Mean Relative Accuracy: the share of θ with ``|pred − gt| / |gt| ≤ 1 − θ``.

    Args:
        pred: The predicted number (same unit as ``gt``), or None when the answer could not be parsed (0).
        gt: The ground truth; see :func:`relative_error` for ``gt == 0``.
        thresholds: Confidence thresholds θ (default 0.50, 0.55, …, 0.95).
        tolerance: Slack on each comparison so boundary cases pass despite float rounding (module doc).

    Returns:
        A score in [0, 1].

    Example:
        >>> mean_relative_accuracy(2.0, 2.5)  # 20 % off: passes θ = 0.50 … 0.80, 7 of 10
        0.7
    """
    theta = np.asarray(thresholds, dtype=np.float64).reshape(-1)  # (K,)
    if theta.size == 0:
        raise InputError("thresholds must hold at least one value")
    error = relative_error(pred, gt)
    return float(np.mean(error <= (1.0 - theta) + tolerance))


def vsi_numeric_prediction(text: str) -> float | None:
    """VSI-Bench's reference reading of a numeric answer: the first space-separated word, trailing full
    stops stripped, through ``float()``; None when that fails.

    Use it only to reproduce published numbers; it fails on "about 2 m" or any reasoning output.

    Example:
        >>> vsi_numeric_prediction("2.5. The sofa"), vsi_numeric_prediction("about 2.5")
        (2.5, None)
    """
    try:
        return float(text.split(" ")[0].rstrip(".").strip())
    except (AttributeError, TypeError, ValueError):
        return None


def _choice_key(choice: object) -> str | None:
    if choice is None:
        return None
    key = str(choice).strip().rstrip(".").strip()
    if key.lower().startswith("option "):
        key = key[len("option ") :].strip()
    if len(key) >= 2 and key[0] + key[-1] in ("()", "[]"):
        key = key[1:-1].strip()
    return key.casefold() or None


def exact_match(pred_choice: str | None, gt_choice: str) -> float:
    """1.0 when two option letters agree, ignoring case, ``(A)``/``[A]``/``A.``/``Option A`` forms; else 0.0.

    Example:
        >>> exact_match("a", "(A)"), exact_match(None, "A")
        (1.0, 0.0)
    """
    pred, gt = _choice_key(pred_choice), _choice_key(gt_choice)
    return 1.0 if pred is not None and pred == gt else 0.0


@dataclass(frozen=True)
class NumericReading:
    """A numeric prediction and its ground truth, both in SI units.

    Attributes:
        pred: The predicted value in SI (None when nothing was parsed or the unit does not fit).
        gt: The ground truth in SI.
        unit: The SI unit of the ground truth (None for counts).
        parse_failed: No number could be read from the prediction.
        unit_mismatch: The prediction carried a unit of another dimension (e.g. "m^2" for a distance).
    """

    pred: float | None
    gt: float
    unit: str | None
    parse_failed: bool
    unit_mismatch: bool


def _ground_truth_si(answer: object, unit: str | None) -> tuple[float, str | None]:
    try:
        value = float(answer)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InputError(f"field 'answer' must be a number for a numeric task, got {answer!r}") from None
    return to_si(value, unit)


def read_numeric(prediction_text: str, answer: object, unit: str | None) -> NumericReading:
    """Parse a prediction and a ground truth into SI so they can be compared.

    A prediction written without a unit is taken to be in the unit the question asked for (``unit``):
    "\\boxed{85}" for "… measured in centimeters" means 85 cm.

    Args:
        prediction_text: The model output.
        answer: The ground-truth number (or numeric string) in ``unit``.
        unit: Unit of ``answer`` ("m", "cm", "m^2"), or None for counts.

    Raises:
        InputError: ``answer`` is not a number or ``unit`` is unknown.

    Example:
        >>> read_numeric("<answer>\\\\boxed{250 cm}</answer>", 2.5, "m").pred
        2.5
    """
    gt, gt_unit = _ground_truth_si(answer, unit)
    parsed = parse_answer(prediction_text)
    if parsed.value is None:
        return NumericReading(None, gt, gt_unit, parse_failed=True, unit_mismatch=False)
    if parsed.unit is None:
        return NumericReading(to_si(parsed.value, unit)[0], gt, gt_unit, False, False)
    if parsed.unit != gt_unit:
        return NumericReading(None, gt, gt_unit, parse_failed=False, unit_mismatch=True)
    return NumericReading(parsed.value, gt, gt_unit, False, False)


@dataclass(frozen=True)
class SampleScore:
    """The score of one benchmark item.

    Attributes:
        task: The task name of the record (e.g. "abs_distance").
        score: MRA for numeric tasks, exact match for choice tasks, in [0, 1].
        value: The parsed prediction in SI units (numeric tasks), else None.
        choice: The parsed option letter (choice tasks), else None.
        parse_failed: Nothing usable could be read from the prediction (scored 0).
    """

    task: str
    score: float
    value: float | None = None
    choice: str | None = None
    parse_failed: bool = False


def _field(record: Mapping[str, Any], name: str) -> Any:
    if name not in record:
        where = f" (record {record['id']!r})" if "id" in record else ""
        raise InputError(f"benchmark record{where} has no field {name!r}")
    return record[name]


def _score_numeric(record: Mapping[str, Any], text: str, reference_parsing: bool) -> SampleScore:
    task, unit = str(_field(record, "task")), record.get("unit")
    if reference_parsing:
        gt = _ground_truth_si(_field(record, "answer"), unit)[0]
        raw = vsi_numeric_prediction(text)
        pred = None if raw is None else to_si(raw, unit)[0]
        return SampleScore(task, mean_relative_accuracy(pred, gt, tolerance=0.0), pred, None, raw is None)
    reading = read_numeric(text, _field(record, "answer"), unit)
    score = mean_relative_accuracy(reading.pred, reading.gt)
    return SampleScore(task, score, reading.pred, None, reading.parse_failed)


def _ground_truth_letter(record: Mapping[str, Any]) -> str:
    answer, options = _field(record, "answer"), record.get("options")
    letter = parse_answer(str(answer), options=options).choice
    if letter is None:
        raise InputError(f"field 'answer' must name an option letter like 'A' or '(A)', got {answer!r}")
    return letter


def _score_choice(record: Mapping[str, Any], text: str, reference_parsing: bool) -> SampleScore:
    task = str(_field(record, "task"))
    if reference_parsing:  # VSI-Bench: first word, full stops stripped, case-insensitive equality
        pred = text.split(" ")[0].rstrip(".").strip() if isinstance(text, str) else ""
        score = 1.0 if pred.lower() == str(_field(record, "answer")).lower() else 0.0
        return SampleScore(task, score, None, pred or None, not pred)
    gt = _ground_truth_letter(record)
    choice = parse_answer(text, options=record.get("options")).choice
    return SampleScore(task, exact_match(choice, gt), None, choice, choice is None)


def score_sample(record: Mapping[str, Any], prediction_text: str, *, reference_parsing: bool = False) -> SampleScore:
    """Score one model output against one benchmark record.

    Args:
        record: ``{"task", "answer_type": "numeric"|"choice", "answer", "unit", "options"}``; numeric
            answers are numbers (or numeric strings) in ``unit`` (None for counts); choice answers are
            letters ("A", "(A)").
        prediction_text: The model's full output.
        reference_parsing: Read the answer with VSI-Bench's first-word rule and exact-threshold MRA
            instead of :func:`parse_answer` (to reproduce published numbers of direct-answer models).

    Raises:
        InputError: The record lacks a field or holds an unusable answer or unit.

    Example:
        >>> record = {"task": "abs_distance", "answer_type": "numeric", "answer": 2.5, "unit": "m"}
        >>> score_sample(record, "<think>…</think><answer>\\\\boxed{250 cm}</answer>").score
        1.0
    """
    kind = _field(record, "answer_type")
    if kind == "numeric":
        return _score_numeric(record, prediction_text, reference_parsing)
    if kind == "choice":
        return _score_choice(record, prediction_text, reference_parsing)
    raise InputError(f"field 'answer_type' must be 'numeric' or 'choice', got {kind!r}")


@dataclass(frozen=True)
class TaskScore:
    """Mean score of one task (or CV-Bench source) over ``count`` items."""

    mean: float
    count: int
    parse_failures: int = 0


@dataclass(frozen=True)
class Report:
    """Scores of a benchmark run.

    Attributes:
        per_task: Task name -> :class:`TaskScore`.
        overall: Mean of the task means (VSI-Bench's overall score).
        accuracy: Mean over all items (CV-Bench's plain accuracy, lmms-eval's number).
        count: Number of items.
        parse_failures: Items whose prediction could not be read.
    """

    per_task: dict[str, TaskScore]
    overall: float
    accuracy: float
    count: int
    parse_failures: int

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


def aggregate(scores: Iterable[SampleScore]) -> Report:
    """Group sample scores by task into a :class:`Report`.

    Example:
        >>> aggregate([SampleScore("count", 1.0), SampleScore("count", 0.0), SampleScore("depth", 1.0)]).overall
        0.75
    """
    by_task: dict[str, list[SampleScore]] = {}
    for score in scores:
        by_task.setdefault(score.task, []).append(score)
    if not by_task:
        raise InputError("no sample scores to aggregate")
    per_task = {
        task: TaskScore(
            mean=float(np.mean([s.score for s in items])),
            count=len(items),
            parse_failures=sum(s.parse_failed for s in items),
        )
        for task, items in sorted(by_task.items())
    }
    count = sum(t.count for t in per_task.values())
    return Report(
        per_task=per_task,
        overall=vsi_overall(per_task),
        accuracy=weighted_accuracy(per_task),
        count=count,
        parse_failures=sum(t.parse_failures for t in per_task.values()),
    )


def _mean_of(entry: float | TaskScore) -> float:
    return entry.mean if isinstance(entry, TaskScore) else float(entry)


def vsi_overall(per_task: Mapping[str, float | TaskScore]) -> float:
    """VSI-Bench's overall score: the plain mean of the task scores (each task counts the same).

    Example:
        >>> vsi_overall({"obj_count": 0.5, "abs_distance": 0.3})
        0.4
    """
    if not per_task:
        raise InputError("vsi_overall needs at least one task score")
    return float(np.mean([_mean_of(entry) for entry in per_task.values()]))


def _accuracy_and_count(name: str, entry: TaskScore | tuple[float, int]) -> tuple[float, int]:
    accuracy, count = (entry.mean, entry.count) if isinstance(entry, TaskScore) else entry
    if count <= 0:
        raise InputError(f"group {name!r} has {count} items; counts must be positive")
    return float(accuracy), int(count)


def weighted_accuracy(per_group: Mapping[str, TaskScore | tuple[float, int]]) -> float:
    """Accuracy over all items from per-group ``(accuracy, count)``: the count-weighted mean.

    Example:
        >>> weighted_accuracy({"count": (0.5, 3), "depth": (1.0, 1)})
        0.625
    """
    pairs = [_accuracy_and_count(name, entry) for name, entry in per_group.items()]
    if not pairs:
        raise InputError("weighted_accuracy needs at least one group")
    return sum(acc * n for acc, n in pairs) / sum(n for _, n in pairs)


@dataclass(frozen=True)
class CVBenchOverall:
    """CV-Bench's two overall numbers: report both.

    Attributes:
        official: ½·((ADE20K + COCO)/2 + Omni3D), the benchmark authors' score.
        accuracy: Plain accuracy over all items (what lmms-eval and most papers report).
        accuracy_2d: (ADE20K + COCO)/2.
        accuracy_3d: Omni3D.
    """

    official: float
    accuracy: float
    accuracy_2d: float
    accuracy_3d: float


def cvbench_overall(per_source: Mapping[str, TaskScore | tuple[float, int]]) -> CVBenchOverall:
    """CV-Bench overall scores from per-source accuracies.

    Args:
        per_source: "ADE20K", "COCO", "Omni3D" (any case) -> :class:`TaskScore` or ``(accuracy, count)``,
            e.g. ``aggregate(scores).per_task`` when each score's task is its source.

    Example:
        >>> cvbench_overall({"ADE20K": (0.8, 10), "COCO": (0.6, 10), "Omni3D": (0.9, 20)}).official
        0.8
    """
    found = {name.lower(): _accuracy_and_count(name, entry) for name, entry in per_source.items()}
    if sorted(found) != sorted(_CVBENCH_SOURCES):
        raise InputError(f"per_source must hold exactly ADE20K, COCO and Omni3D, got {sorted(per_source)}")
    accuracy_2d = (found["ade20k"][0] + found["coco"][0]) / 2
    accuracy_3d = found["omni3d"][0]
    return CVBenchOverall(
        official=(accuracy_2d + accuracy_3d) / 2,
        accuracy=weighted_accuracy(per_source),
        accuracy_2d=accuracy_2d,
        accuracy_3d=accuracy_3d,
    )
