"""Task rewards routed by each sample, as TRL reward functions (batch in, one float or None per item out).

Every completion gets the **format** reward (``<think>…</think><answer>…\\boxed{…}…</answer>``) and exactly
one **task** reward, chosen by its record:

============  ===================================================  ==========================================
route         used for                                             reward
============  ===================================================  ==========================================
``ednm``      numeric answers (default)                            exp(−λ·|ŷ−y|/|y|), units normalised
``mra``       numeric answers when ``rewards.numeric: mra``        VSI-Bench's Mean Relative Accuracy
``choice``    multiple-choice answers                              1 if the option letter matches, else 0
``math``      tasks routed by ``rewards.routes: {task: math}``     math-verify equivalence of the boxed answer
============  ===================================================  ==========================================

With ``rewards.gate_on_format`` (default) a malformed completion gets no task reward: the shared parser
is deliberately lenient, and RL would otherwise learn to scatter guesses in broken text. Each route is its
own reward function returning ``None`` for samples routed elsewhere, which TRL reads
as "not applicable": the weighted sum skips it and each component is logged on its own
(``rewards/ednm/mean`` ...). EDNM, exact match and the format check are the evaluation's own code
(:mod:`m2sdk.eval.rewards`), so training optimises what ``m2 eval`` measures. A reward that comes out NaN
or infinite stops the step (:class:`~m2train.faults.NonFiniteError`) instead of poisoning the advantages.

Example:
    >>> funcs, weights = make_reward_funcs(RewardsConfig(), routes=["ednm", "choice"])
    >>> [f.__name__ for f in funcs], weights
    (['format', 'ednm', 'choice'], [0.5, 1.0, 1.0])
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Sequence
from typing import Any

from m2sdk import prompt
from m2sdk.errors import InputError
from m2sdk.eval import metrics
from m2sdk.eval import rewards as eval_rewards
from m2train.config import ROUTES, RewardsConfig
from m2train.faults import NonFiniteError

logger = logging.getLogger(__name__)


def route_of(task: str, answer_type: str, config: RewardsConfig) -> str:
    """The task-reward route of one sample: a per-task override, else by answer type."""
    if task in config.routes:
        return config.routes[task]
    return "choice" if answer_type == "choice" else config.numeric


def mra_reward(
    completions: Sequence[Any], answers: Sequence[Any], units: Sequence[str | None], **_: Any
) -> list[float]:
    """VSI-Bench's MRA of each completion (a stepped reward: 0 beyond 50 % relative error)."""
    out = []
    for completion, answer, unit in zip(completions, answers, units, strict=True):
        try:
            reading = metrics.read_numeric(eval_rewards.completion_text(completion), answer, unit)
        except InputError as err:  # a bad record costs its reward, not the run (as in m2sdk.eval.rewards)
            logger.warning("mra reward: scored 0.0: %s", err)
            out.append(0.0)
            continue
        out.append(metrics.mean_relative_accuracy(reading.pred, reading.gt))
    return out


def math_reward(completions: Sequence[Any], answers: Sequence[Any], **_: Any) -> list[float]:
    """1.0 when math-verify finds the completion's final answer equivalent to the ground truth, else 0.0.

    Example:
        >>> math_reward(["<answer>\\\\boxed{\\\\frac{1}{2}}</answer>"], ["0.5"])
        [1.0]
    """
    from m2sdk._deps import require

    math_verify = require("math_verify")
    # math-verify's timeouts use SIGALRM, which only the main thread may set.
    timeout = 5 if threading.current_thread() is threading.main_thread() else None
    out = []
    for completion, answer in zip(completions, answers, strict=True):
        gold_text = str(answer) if "$" in str(answer) or "\\" in str(answer) else f"${answer}$"
        gold = math_verify.parse(gold_text, parsing_timeout=timeout)
        pred = math_verify.parse(eval_rewards.completion_text(completion), parsing_timeout=timeout)
        out.append(float(bool(gold) and bool(pred) and math_verify.verify(gold, pred, timeout_seconds=timeout)))
    return out


def _ednm(decay: float) -> Callable[..., list[float]]:
    def ednm(completions: Sequence[Any], answers: Sequence[Any], units: Sequence[str | None], **_: Any) -> list[float]:
        return eval_rewards.numeric_reward(completions, answers, units, decay=decay)

    return ednm


def _choice(completions: Sequence[Any], answers: Sequence[Any], options: Sequence[Any], **_: Any) -> list[float]:
    return eval_rewards.choice_reward(completions, answers, options)


class TaskReward:
    """One reward component over the samples routed to it (``None`` for the others).

    Called by TRL with the batch's completions and every dataset column as keyword lists.
    """

    def __init__(self, route: str, score: Callable[..., list[float]], config: RewardsConfig) -> None:
        self.__name__ = route
        self.route = route
        self.score = score
        self.config = config

    def __call__(self, completions: Sequence[Any], **columns: Any) -> list[float | None]:
        n = len(completions)
        tasks, kinds = columns.get("task") or [""] * n, columns.get("answer_type") or ["numeric"] * n
        chosen = [i for i in range(n) if route_of(tasks[i], kinds[i], self.config) == self.route]
        out: list[float | None] = [None] * n
        if not chosen:
            return out
        pick = lambda name: [(columns.get(name) or [None] * n)[i] for i in chosen]  # noqa: E731
        texts = [completions[i] for i in chosen]
        values = self.score(texts, answers=pick("answer"), units=pick("unit"), options=pick("options"))
        if self.config.gate_on_format:
            values = [v * ok for v, ok in zip(values, eval_rewards.format_reward(texts), strict=True)]
        for i, value in zip(chosen, values, strict=True):
            out[i] = check_reward(self.route, value, (columns.get("id") or [None] * n)[i])
        return out


def listing_reward(completions: Sequence[Any], listings: Sequence[str], **_: Any) -> list[float]:
    """The share of the taught listing's steps (``listings``, :func:`m2sdk.prompt.format_count_by_colour`)
    that each completion repeats: the same colour and category, and the same increment of the running count.

    Why increments: a running count carries one early mistake into every later step; scored by increment,
    one wrong step costs one step, so the reward says which decision was wrong. Each step is checked
    against the scene (is an object of that colour and category in view), a verifiable reward per decision.

    Example:
        >>> taught = "by colour: red chair 0, cyan chair 1, white chair 2: "
        >>> listing_reward(["by colour: red chair 1, cyan chair 2, white chair 3: \\boxed{3}"], [taught])
        [0.6666666666666666]
    """
    out = []
    for completion, taught in zip(completions, listings, strict=True):
        want = _increments(prompt.read_count_by_colour(taught))
        got = _increments(prompt.read_count_by_colour(eval_rewards.completion_text(completion)))
        out.append(sum(a == b for a, b in zip(want, got, strict=False)) / len(want) if want else 0.0)
    return out


def _increments(steps: list[tuple[str, str, int]]) -> list[tuple[str, str, int]]:
    counts = [0] + [count for _, _, count in steps]
    return [(colour, category, counts[i + 1] - counts[i]) for i, (colour, category, _) in enumerate(steps)]


class ListingReward:
    """:func:`listing_reward` over the samples with a taught listing (``None`` for the others)."""

    __name__ = "listing"

    def __init__(self, config: RewardsConfig) -> None:
        self.config = config

    def __call__(self, completions: Sequence[Any], **columns: Any) -> list[float | None]:
        n = len(completions)
        listings = columns.get("listing") or [""] * n
        chosen = [i for i in range(n) if listings[i]]
        out: list[float | None] = [None] * n
        texts = [completions[i] for i in chosen]
        values = listing_reward(texts, [listings[i] for i in chosen])
        if self.config.gate_on_format:
            values = [v * ok for v, ok in zip(values, eval_rewards.format_reward(texts), strict=True)]
        for i, value in zip(chosen, values, strict=True):
            out[i] = check_reward("listing", value, (columns.get("id") or [None] * n)[i])
        return out


class FormatReward:
    """The think/answer/boxed structure reward, for every sample."""

    __name__ = "format"

    def __call__(self, completions: Sequence[Any], **columns: Any) -> list[float]:
        ids = columns.get("id") or [None] * len(completions)
        values = eval_rewards.format_reward(completions)
        return [check_reward("format", v, i) for v, i in zip(values, ids, strict=True)]


class WithPrefix:
    """A reward function scoring ``prefix + completion`` (the prompt ended in the first part of the answer)."""

    def __init__(self, func: Any, prefix: str) -> None:
        self.func, self.prefix = func, prefix
        self.__name__ = func.__name__

    def __call__(self, completions: Sequence[Any], **columns: Any) -> list[Any]:
        texts = [self.prefix + eval_rewards.completion_text(c) for c in completions]
        return self.func(texts, **columns)


def check_reward(name: str, value: Any, sample_id: Any) -> float:
    """The reward as a float, or :class:`NonFiniteError` naming the component and sample."""
    value = float(value)
    if not math.isfinite(value):
        raise NonFiniteError(
            f"reward {name!r} is {value} for sample {sample_id!r}; the step was stopped before any update "
            "(check the record's answer/unit and the reward code)"
        )
    return value


def make_reward_funcs(
    config: RewardsConfig, routes: Sequence[str] = ROUTES, completion_prefix: str = "", listed: bool = False
) -> tuple[list[Any], list[float]]:
    """Reward functions for ``GRPOTrainer(reward_funcs=...)`` and their ``reward_weights``.

    Column 0 is the format reward; the task rewards of ``routes`` (those the data uses) follow, then the
    listing reward when ``config.listing_weight`` is on and the data has counts with a listing (``listed``).
    ``completion_prefix`` is the part of the answer the prompt already holds (fast mode's empty think
    block): it is put back in front of each completion, so format and task rewards see the whole answer.
    """
    scorers = {"ednm": _ednm(config.ednm_decay), "mra": mra_reward, "choice": _choice, "math": math_reward}
    chosen = [r for r in ROUTES if r in routes]
    funcs: list[Any] = [FormatReward()] + [TaskReward(route, scorers[route], config) for route in chosen]
    weights = [config.format_weight] + [config.task_weight] * len(chosen)
    if config.listing_weight and listed:
        funcs.append(ListingReward(config))
        weights.append(config.listing_weight)
    if completion_prefix:
        funcs = [WithPrefix(f, completion_prefix) for f in funcs]
    return funcs, weights


def task_columns(funcs: Sequence[Any]) -> list[int]:
    """Which reward columns are task rewards (what pass rates and sample weights read): not the format
    reward, not the listing reward."""
    return [i for i, func in enumerate(funcs) if func.__name__ in ROUTES]


def routes_used(tasks: Sequence[str], answer_types: Sequence[str], config: RewardsConfig) -> list[str]:
    """The task-reward routes a dataset needs, in :data:`~m2train.config.ROUTES` order."""
    used = {route_of(t, a, config) for t, a in zip(tasks, answer_types, strict=True)}
    return [r for r in ROUTES if r in used]
