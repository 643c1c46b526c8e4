"""Curriculum sampling: prompts from easy to hard over training, in GRPO's grouped order.

Every record has a difficulty in [0, 1] (from the data pipeline: 1 − a reference policy's pass rate).
The sampler decides, for each generation batch b of B, which prompts it holds; progress t = b / (B − 1):

* ``stages``: stage k covers progress up to ``stages[k].until``; its prompts have difficulty ≤
  ``stages[k].max_difficulty`` (e.g. ≤ 0.3 for the first 30 %, ≤ 0.6 until 70 %, then everything).
* ``window``: a window of width w slides from [0, w] at the start to [1 − w, 1] at the end.
* ``none``: a plain shuffled pass over the data, epoch after epoch.

A curriculum orders the *answers* too when a task's difficulty ranks with its numeric answer (the
synthetic generator scores far objects, crowded counts and small objects as hard): the window then feeds
near objects first and far ones last, and GRPO, which follows each batch, learns the answer range of the
batch rather than the frame. :func:`answer_order` measures that rank correlation per task, and the RL
trainer warns when a curriculum is on and some task is above :data:`ANSWER_ORDER_WARN`.

If fewer prompts than a batch needs fall inside the window, the ones nearest its centre are used. A
batch is drawn from a generator seeded by (seed, b), so the whole order is a function of the seed and the
data: a resumed run re-creates it and skips the batches already trained (Trainer's data skip), and
:meth:`CurriculumSampler.state` records where it was for the checkpoint. Each prompt index is yielded
``num_generations`` times in a row and each batch ``repeat_count`` times, exactly as TRL's
``RepeatSampler`` does, so ``GRPOTrainer``'s grouping and buffering work unchanged.

Example:
    >>> s = CurriculumSampler([0.1, 0.9, 0.5, 0.2], CurriculumConfig(kind="window", window_width=0.5),
    ...                       prompts_per_batch=1, num_generations=2, repeat_count=1, total_batches=3, seed=0)
    >>> [s.bounds(b)[1:] for b in range(3)]   # the window slides from easy to hard
    [(0.0, 0.5), (0.25, 0.75), (0.5, 1.0)]
    >>> len(list(s)), s.state(batches_consumed=1)["window"]
    (6, [0.25, 0.75])
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
from torch.utils.data import Sampler

from m2train.config import CurriculumConfig

ANSWER_ORDER_WARN = 0.5  # |Spearman rho| between difficulty and numeric answer that the RL trainer warns at
MIN_ORDER_SAMPLES = 20


class CurriculumSampler(Sampler[int]):
    """A ``torch.utils.data.Sampler`` of prompt indices ordered by a curriculum (see the module doc)."""

    def __init__(
        self,
        difficulties: Sequence[float],
        config: CurriculumConfig,
        *,
        prompts_per_batch: int,
        num_generations: int,
        repeat_count: int,
        total_batches: int,
        seed: int,
    ) -> None:
        if not len(difficulties):
            raise ValueError("the curriculum needs at least one sample")
        if min(prompts_per_batch, num_generations, repeat_count, total_batches) < 1:
            raise ValueError("prompts_per_batch, num_generations, repeat_count and total_batches must be >= 1")
        self.difficulties = np.asarray(difficulties, dtype=np.float64)  # (N,)
        self.config = config
        self.k = prompts_per_batch
        self.num_generations = num_generations
        self.repeat_count = repeat_count
        self.total_batches = total_batches
        self.seed = seed
        self._shuffled: np.ndarray | None = None

    def __len__(self) -> int:
        return self.total_batches * self.k * self.num_generations * self.repeat_count

    def __iter__(self) -> Iterator[int]:
        for b in range(self.total_batches):
            chosen = self.batch(b)
            for _ in range(self.repeat_count):
                for index in chosen:
                    yield from [int(index)] * self.num_generations

    def progress(self, b: int) -> float:
        return b / (self.total_batches - 1) if self.total_batches > 1 else 1.0

    def bounds(self, b: int) -> tuple[int, float, float]:
        """(stage index, lowest, highest difficulty) allowed in generation batch ``b``."""
        t = self.progress(b)
        if self.config.kind == "stages":
            stage = next(i for i, s in enumerate(self.config.stages) if t <= s.until)
            return stage, 0.0, self.config.stages[stage].max_difficulty
        if self.config.kind == "window":
            low = t * (1.0 - self.config.window_width)
            return 0, low, low + self.config.window_width
        return 0, 0.0, 1.0

    def batch(self, b: int) -> np.ndarray:
        """The ``prompts_per_batch`` prompt indices of generation batch ``b``."""
        if self.config.kind == "none":
            return self._shuffled_order()[b * self.k : (b + 1) * self.k]
        _, low, high = self.bounds(b)
        rng = np.random.default_rng([self.seed, b])
        pool = np.flatnonzero((self.difficulties >= low) & (self.difficulties <= high))
        if len(pool) < self.k:  # too few in the window: the nearest to its centre
            distance = np.abs(self.difficulties - (low + high) / 2)
            pool = np.argsort(distance, kind="stable")[: max(self.k, len(pool))]
        return rng.choice(pool, size=self.k, replace=len(pool) < self.k)

    def _shuffled_order(self) -> np.ndarray:
        if self._shuffled is None:
            n, needed = len(self.difficulties), self.total_batches * self.k
            rng = np.random.default_rng(self.seed)
            self._shuffled = np.concatenate([rng.permutation(n) for _ in range(-(-needed // n))])
        return self._shuffled

    def state(self, batches_consumed: int) -> dict[str, Any]:
        """What a checkpoint records: position, stage and window, and a signature of the whole order."""
        b = min(batches_consumed, self.total_batches - 1)
        stage, low, high = self.bounds(b)
        return {
            "kind": self.config.kind,
            "batches_consumed": int(batches_consumed),
            "total_batches": self.total_batches,
            "stage": stage,
            "window": [round(low, 6), round(high, 6)],
            "signature": self.signature(),
        }

    def signature(self) -> str:
        """Hash of everything that fixes the order (data difficulties, schedule, sizes, seed)."""
        payload = json.dumps(
            [self.difficulties.round(6).tolist(), repr(self.config), self.k, self.num_generations,
             self.repeat_count, self.total_batches, self.seed]
        )  # fmt: skip
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


def batches_done(global_step: int, grad_accum: int, steps_per_generation: int, num_iterations: int) -> int:
    """Generation batches started after ``global_step`` optimizer steps."""
    return -(-global_step * grad_accum // (steps_per_generation * num_iterations))


def total_generation_batches(max_steps: int, grad_accum: int, steps_per_generation: int, num_iterations: int) -> int:
    """Generation batches a run of ``max_steps`` optimizer steps consumes (TRL's batching arithmetic)."""
    return max(1, -(-max_steps * grad_accum // (steps_per_generation * num_iterations)))


def answer_order(difficulties: Sequence[float], answers: Sequence[Any], tasks: Sequence[str]) -> dict[str, float]:
    """Spearman's rank correlation between difficulty and numeric answer, per task.

    Only tasks with at least :data:`MIN_ORDER_SAMPLES` numeric answers (and some spread in both) are
    reported; choice letters and unparsable answers are skipped.

    Example:
        >>> answer_order([0.1 * i for i in range(30)], list(range(30)), ["count"] * 30)
        {'count': 1.0}
    """
    by_task: dict[str, tuple[list[float], list[float]]] = {}
    for difficulty, answer, task in zip(difficulties, answers, tasks, strict=True):
        try:
            value = float(answer)
        except (TypeError, ValueError):
            continue
        if difficulty is None or not np.isfinite(value):
            continue
        by_task.setdefault(task, ([], []))
        by_task[task][0].append(float(difficulty))
        by_task[task][1].append(value)
    out = {}
    for task, (ds, vs) in by_task.items():
        if len(ds) < MIN_ORDER_SAMPLES or len(set(ds)) < 2 or len(set(vs)) < 2:
            continue
        out[task] = round(float(np.corrcoef(_average_ranks(ds), _average_ranks(vs))[0, 1]), 4)
    return out


def _average_ranks(values: Sequence[float]) -> np.ndarray:
    """Ranks with ties given their mean rank (counts tie a lot), as Spearman's rho needs."""
    x = np.asarray(values, dtype=np.float64)
    ranks = np.empty(len(x))
    ranks[np.argsort(x, kind="stable")] = np.arange(len(x))
    _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    return (np.bincount(inverse, weights=ranks) / counts)[inverse]
