"""What a spatial question asks for: :func:`classify_question` and the SI unit its answer should carry.

The kind decides the unit the parser expects, whether a video clip is needed (``QuestionKind.needs_clip``)
and how an answer is scored. Rules are ordered keyword patterns written against the question templates of
VSI-Bench and CV-Bench and the way people ask robots; the first rule that matches wins, so the specific
rules (appearance order, routes, room size) come before the generic ones ("how many", "left").
"""

from __future__ import annotations

import re

from m2sdk.answer import QuestionKind

_LENGTH_UNITS = r"(?:met(?:er|re)s?|m|cm|centimet(?:er|re)s?|mm|millimet(?:er|re)s?|feet|foot|ft|inch(?:es)?|yards?)"
_ROOM = r"(?:room|space|apartment|flat|house|office|kitchen|bedroom|area)"

# (kind, pattern) in priority order.
_RULES: tuple[tuple[QuestionKind, str], ...] = (
    (
        QuestionKind.APPEARANCE_ORDER,
        r"appearance order|order (?:in which|of (?:first )?appearance)|appears? first"
        r"|first[- ]time appearance|which .{0,200}? (?:appear|seen|shown) (?:first|earliest)",
    ),
    (
        QuestionKind.ROUTE,
        r"\bnavigat|\broute\b|\bpath (?:to|from)\b|how (?:do|can|should) (?:i|we|you) (?:get|go) to"
        r"|turn (?:left|right|back|around)|go forward until|directions to",
    ),
    (
        QuestionKind.ROOM_SIZE,
        rf"square (?:met(?:er|re)s?|feet|foot)|\bsq\.? ?(?:m|ft)\b|m²|m\^2|floor (?:area|space)|room size"
        rf"|(?:size|area|dimensions|footprint) of (?:this|the|my|our) {_ROOM}"
        rf"|how (?:big|large) is (?:this|the|my|our) {_ROOM}",
    ),
    (
        QuestionKind.DISTANCE,
        rf"\bhow far\b|\bdistances?\b|how many {_LENGTH_UNITS}\b.{{0,200}}?\b(?:away|from|between|apart)\b"
        r"|how (?:close|near) is",
    ),
    (QuestionKind.SIZE, rf"how many {_LENGTH_UNITS}\b"),
    (QuestionKind.COUNT, r"\bhow many\b|\bnumber of\b|\bcount\b"),
    (
        QuestionKind.DIRECTION,
        r"\bstanding (?:by|at|next to|near)\b.{0,200}?\bfacing\b|\bto (?:my|your) (?:left|right|front|back)"
        r"|\bwhich side\b|\b(?:in )?which direction\b|\bwith respect to\b|\brelative (?:position|direction)"
        r"|where is .{0,200}? located|\b(?:left|right) of\b|\bfacing\b",
    ),
    (
        QuestionKind.DISTANCE,
        r"\b(?:closer|closest|nearer|nearest|farther|farthest|further|furthest)\b|\baway from\b",
    ),
    (
        QuestionKind.SIZE,
        r"\bhow (?:tall|long|wide|high|big|large|deep|thick)\b|\b(?:height|width|length|depth)\b"
        r"|longest dimension|\bdimensions?\b|\bwhat size\b|\bsize of\b",
    ),
    (QuestionKind.DIRECTION, r"\b(?:left|right|above|below|behind|in front|direction)\b"),
)
_COMPILED = tuple((kind, re.compile(pattern, re.IGNORECASE | re.DOTALL)) for kind, pattern in _RULES)

# Benchmark questions are under ~700 characters; the cap bounds the regex work on pasted walls of text.
_MAX_QUESTION_CHARS = 2000
_EXPECTED_UNIT = {
    QuestionKind.DISTANCE: "m",
    QuestionKind.SIZE: "m",
    QuestionKind.ROOM_SIZE: "m^2",
}


def classify_question(question: str) -> QuestionKind:
    """Say what a question asks for.

    Args:
        question: The question as asked, in English.

    Returns:
        The :class:`~m2sdk.answer.QuestionKind`; ``OTHER`` when no rule matches (or for a non-string).

    Example:
        >>> classify_question("How far is the red chair from the camera, in metres?")
        <QuestionKind.DISTANCE: 'distance'>
        >>> classify_question("If I am standing by the sofa facing the TV, is the lamp to my left or right?")
        <QuestionKind.DIRECTION: 'direction'>
    """
    if not isinstance(question, str):
        return QuestionKind.OTHER
    question = question[:_MAX_QUESTION_CHARS]
    for kind, pattern in _COMPILED:
        if pattern.search(question):
            return kind
    return QuestionKind.OTHER


def expected_unit(kind: QuestionKind) -> str | None:
    """The SI unit an answer of this kind carries: ``"m"``, ``"m^2"``, or None (counts, choices, text).

    Example:
        >>> expected_unit(QuestionKind.ROOM_SIZE)
        'm^2'
    """
    return _EXPECTED_UNIT.get(QuestionKind(kind))
