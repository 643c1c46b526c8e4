"""Predictors for `m2 eval`: the model, and the baselines every quality table is read against.

A predictor turns one dataset record into the text an answer parser reads. Baselines go through the
same scoring code as the model, so "above the baseline" means the same thing everywhere:

* :class:`ConstantPredictor`: the best constant answer per task, learnt from a training set
  (median for numeric tasks, the majority letter for choice tasks);
* :class:`RandomChoicePredictor`: a uniformly random option (numeric tasks: a random training answer).
"""

from __future__ import annotations

import collections
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from m2sdk.prompt import format_response
from m2sdk.units import to_si


class Predictor(Protocol):
    name: str

    def __call__(self, record: Any) -> str:
        """The model-style output text for one record (``<think>…</think><answer>\\boxed{…}</answer>``)."""
        ...


class ModelPredictor:
    """Asks an :class:`m2sdk.Model` each record's question about its image(s) or video."""

    def __init__(
        self, model: Any, root: str | Path, *, reasoning: bool = True, max_new_tokens: int | None = None,
        numbers: str = "median",
    ) -> None:  # fmt: skip
        self.model, self.root = model, Path(root)
        self.reasoning, self.max_new_tokens, self.numbers = reasoning, max_new_tokens, numbers
        self.name = f"model ({model.backend_name})"

    def __call__(self, record: Any) -> str:
        from m2sdk.processing import read_video

        paths = [self.root / m for m in record.media]
        if record.media_type == "video":
            frames, _ = read_video(paths[0], self.model.processor.config)
        else:
            frames = [str(p) for p in paths]
        answer = self.model.query(
            frames if len(frames) > 1 else frames[0], record.question, options=record.options,
            reasoning=self.reasoning, max_new_tokens=self.max_new_tokens, numbers=self.numbers, bgr=False,
            as_video=record.media_type == "video",
        )  # fmt: skip
        return answer.raw


class ConstantPredictor:
    """The best constant answer per task: training-set median (numeric) or majority letter (choice).

    The median is taken in SI units and answered with the SI unit: questions of one task mix metres,
    centimetres and feet, and a median of the raw numbers would mix units (the scorer converts the
    answer back, so "3.6 m" is scored right against a truth of 11.8 ft).
    """

    name = "constant baseline"

    def __init__(self, train_records: Iterable[Any]) -> None:
        numeric: dict[str, list[float]] = collections.defaultdict(list)
        letters: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
        self.units: dict[str, str | None] = {}
        for rec in train_records:
            if rec.answer_type == "numeric":
                value_si, self.units[rec.task] = to_si(float(rec.answer), rec.unit)
                numeric[rec.task].append(value_si)
            else:
                letters[rec.task][str(rec.answer)] += 1
        self.answers = {task: float(np.median(v)) for task, v in numeric.items()}
        self.answers.update({task: c.most_common(1)[0][0] for task, c in letters.items()})

    def __call__(self, record: Any) -> str:
        answer = self.answers.get(record.task)
        if answer is None:
            return format_response("", "")
        if isinstance(answer, float):
            unit = self.units.get(record.task)
            return format_response("", f"{answer:g} {unit or ''}".strip())
        return format_response("", answer)


class RandomChoicePredictor:
    """A uniformly random option letter; numeric tasks get a random training-set answer."""

    name = "random baseline"

    def __init__(self, train_records: Sequence[Any] = (), seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)
        self.numeric: dict[str, list[tuple[float, str | None]]] = collections.defaultdict(list)
        for rec in train_records:
            if rec.answer_type == "numeric":
                self.numeric[rec.task].append((float(rec.answer), rec.unit))

    def __call__(self, record: Any) -> str:
        if record.answer_type == "choice":
            letter = "ABCDEFGHIJ"[int(self.rng.integers(len(record.options or ["A"])))]
            return format_response("", letter)
        pool = self.numeric.get(record.task)
        if not pool:
            return format_response("", "")
        value, unit = pool[int(self.rng.integers(len(pool)))]
        return format_response("", f"{value:g} {unit or ''}".strip())
