"""Verifiable rewards for RL: EDNM for numbers, exact match for options, the answer format.

Each task reward has a batch interface (a list of completions in, a list of floats out) so it plugs into
TRL's ``GRPOTrainer(reward_funcs=[...])`` or verl/EasyR1 with a thin wrapper; completions may be strings
or chat messages. Rewards read answers with the same parser and unit normalisation as the benchmark
metrics, so training optimises exactly what evaluation measures.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from m2sdk.answer_parser import parse_answer
from m2sdk.errors import InputError
from m2sdk.eval.metrics import exact_match, read_numeric, relative_error

logger = logging.getLogger(__name__)

# EDNM decay λ in r = exp(−λ·|ŷ−y|/|y|). M2's report names EDNM but its constant is unknown here.
# λ = 2 gives r = 0.82 at 10 % error, 0.67 at 20 %, 0.37 at 50 % and 0.14 at 100 %: a close answer earns
# most of the reward, and the signal stays non-zero (useful for GRPO group advantages) up to errors of
# ~100 %, about where MRA (0 beyond 50 % error) has already given up.
DEFAULT_EDNM_DECAY = 2.0


def ednm_reward(pred: float | None, gt: float, *, decay: float = DEFAULT_EDNM_DECAY) -> float:
    """Exponential Decay Numeric Matching: ``exp(−decay · |pred − gt| / |gt|)``, 0 for no prediction.

    Args:
        pred: The predicted number, in the unit of ``gt``; None when unparseable.
        gt: The ground truth; for ``gt == 0`` only an exact 0 earns a reward (1.0).
        decay: λ, > 0; larger punishes relative error harder (see ``DEFAULT_EDNM_DECAY``).

    Returns:
        A reward in [0, 1]: 1 at an exact answer, strictly decreasing in the relative error (until
        ``exp`` underflows to 0.0 beyond a relative error of about 370/decay).

    Example:
        >>> round(ednm_reward(2.75, 2.5), 4)  # 10 % off
        0.8187
    """
    if not decay > 0:
        raise InputError(f"decay must be > 0, got {decay!r}")
    error = relative_error(pred, gt)
    return math.exp(-decay * error) if math.isfinite(error) else 0.0


def ednm_from_text(
    prediction_text: str,
    target: Mapping[str, Any] | tuple[float | str, str | None],
    *,
    decay: float = DEFAULT_EDNM_DECAY,
) -> float:
    """EDNM of a model output, parsed and unit-normalised exactly like the MRA metric.

    Args:
        prediction_text: The model output.
        target: A benchmark record (``answer``, ``unit``) or a ``(gt_value, unit)`` pair.
        decay: λ of :func:`ednm_reward`.

    Example:
        >>> ednm_from_text("<answer>\\\\boxed{250 cm}</answer>", (2.5, "m"))
        1.0
    """
    if isinstance(target, Mapping):
        if "answer" not in target:
            raise InputError("target record has no field 'answer'")
        answer, unit = target["answer"], target.get("unit")
    else:
        answer, unit = target
    reading = read_numeric(prediction_text, answer, unit)
    return ednm_reward(reading.pred, reading.gt, decay=decay)


def completion_text(completion: Any) -> str:
    """The text of one completion: a string, a chat message list (last message) or a message dict.

    Example:
        >>> completion_text([{"role": "assistant", "content": "\\\\boxed{2}"}])
        '\\\\boxed{2}'
    """
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Sequence) and completion:
        return completion_text(completion[-1])
    if isinstance(completion, Mapping):
        content = completion.get("content", "")
        if isinstance(content, str):
            return content
        return "".join(part.get("text", "") for part in content if isinstance(part, Mapping))
    return ""


def _per_item(name: str, n_items: int, score: Callable[[int], float]) -> list[float]:
    """Score every item; a bad record costs its reward (0.0, logged), not the training run."""
    rewards = []
    for i in range(n_items):
        try:
            rewards.append(score(i))
        except InputError as err:
            logger.warning("%s: item %d scored 0.0: %s", name, i, err)
            rewards.append(0.0)
    return rewards


def _check_lengths(completions: Sequence[Any], **columns: Sequence[Any] | None) -> None:
    for name, column in columns.items():
        if column is not None and len(column) != len(completions):
            raise InputError(f"{name} has {len(column)} items but there are {len(completions)} completions")


def format_reward(completions: Sequence[Any], **kwargs: Any) -> list[float]:
    """1.0 per completion that is ``<think>…</think><answer>…\\\\boxed{…}…</answer>``, else 0.0.

    Example:
        >>> format_reward(["<think>a</think><answer>\\\\boxed{1}</answer>", "1"])
        [1.0, 0.0]
    """
    return [float(parse_answer(completion_text(c)).well_formed) for c in completions]


def choice_reward(
    completions: Sequence[Any],
    answers: Sequence[str],
    options: Sequence[Sequence[str] | None] | None = None,
    **kwargs: Any,
) -> list[float]:
    """1.0 per completion whose option letter matches the answer letter ("A", "(A)"), else 0.0.

    Example:
        >>> completions = ["<answer>\\\\boxed{B}</answer>", "\\\\boxed{right}"]
        >>> choice_reward(completions, ["(B)", "A"], [None, ["left", "right"]])
        [1.0, 0.0]
    """
    _check_lengths(completions, answers=answers, options=options)

    def score(i: int) -> float:
        item_options = options[i] if options is not None else None
        choice = parse_answer(completion_text(completions[i]), options=item_options).choice
        return exact_match(choice, answers[i])

    return _per_item("choice_reward", len(completions), score)


def numeric_reward(
    completions: Sequence[Any],
    answers: Sequence[float | str],
    units: Sequence[str | None] | None = None,
    *,
    decay: float = DEFAULT_EDNM_DECAY,
    **kwargs: Any,
) -> list[float]:
    """EDNM per completion against numeric answers given in ``units`` (None: unitless, e.g. counts).

    Example:
        >>> numeric_reward(["\\\\boxed{250 cm}", "no idea"], [2.5, 3], ["m", None])
        [1.0, 0.0]
    """
    _check_lengths(completions, answers=answers, units=units)

    def score(i: int) -> float:
        unit = units[i] if units is not None else None
        return ednm_from_text(completion_text(completions[i]), (answers[i], unit), decay=decay)

    return _per_item("numeric_reward", len(completions), score)
