"""The text protocol of the question topic: plain text, or JSON with an id (ROS-free).

A robot without our message packages can ask with ``ros2 topic pub`` and read the JSON answers, so
the question topic is a ``std_msgs/String``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from m2sdk.errors import InputError


@dataclass(frozen=True)
class ParsedQuestion:
    """A question from the topic: text, the caller's id ("" if none) and answer mode ("" = default)."""

    question: str
    request_id: str = ""
    answer_mode: str = ""


def parse_question(text: str) -> ParsedQuestion:
    """Parse a question-topic message: ``"How far is the door?"`` or ``{"id": "q7", "question": ...}``.

    A JSON object may also carry ``"mode": "fast" | "reasoning"``. Text that is not a JSON object is
    the question itself.

    Raises:
        InputError: empty question, a JSON object without a string "question", or a bad mode. (Too
            long a question is the model's to refuse: it knows its context length.)

    Example:
        >>> parse_question('{"id": "q7", "question": "How far is the door, in metres?"}')
        ParsedQuestion(question='How far is the door, in metres?', request_id='q7', answer_mode='')
    """
    stripped = text.strip()
    parsed = ParsedQuestion(stripped)
    if stripped.startswith("{"):
        parsed = _parse_json(stripped)
    if not parsed.question:
        raise InputError('empty question; publish plain text or {"id": "...", "question": "..."}')
    check_mode(parsed.answer_mode)
    return parsed


def check_mode(answer_mode: str) -> str:
    """``answer_mode`` if it is "", "fast" or "reasoning" ("" = the node's default), else InputError."""
    if answer_mode not in ("", "fast", "reasoning"):
        raise InputError(f'answer mode must be "fast" or "reasoning" (or empty), got {answer_mode!r}')
    return answer_mode


def _parse_json(text: str) -> ParsedQuestion:
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as err:
        raise InputError(f"question looks like JSON but does not parse: {err}") from err
    question = obj.get("question") if isinstance(obj, dict) else None
    if not isinstance(question, str):
        raise InputError('JSON question needs a string field "question", e.g. {"id": "q1", "question": "..."}')
    request_id = obj.get("id", "")
    return ParsedQuestion(question.strip(), str(request_id), str(obj.get("mode", "")))


def answer_json(payload: dict[str, Any]) -> str:
    """Serialise an answer dict for the JSON answer topic: one line, NaN/inf as null (strict JSON)."""
    return json.dumps(_finite(payload), allow_nan=False, separators=(",", ":"))


def _finite(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {key: _finite(value) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(value) for value in obj]
    return obj
