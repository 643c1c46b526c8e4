"""The one parser of model outputs, used by the SDK, the evaluation, the training rewards and ROS.

M2-Reasoning writes ``<think>reasoning</think><answer>... \\boxed{result} ...</answer>``. Real outputs
drift from that (a missing close tag, no tags at all, LaTeX units inside the box, an option letter in
parentheses), so every consumer goes through :func:`parse_answer` and gets the same reading.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from m2sdk.units import parse_quantity, strip_latex

_TAG_RE = re.compile(r"</?(?:think|answer)>")
_BOX_OPEN_RE = re.compile(r"\\(?:boxed|fbox)\s*\{")
_WELL_FORMED_RE = re.compile(
    r"\s*<think>(?:(?!</?think>|</?answer>).)*</think>\s*<answer>((?:(?!</?think>|</?answer>).)*)</answer>\s*"
    r"(?:<\|im_end\|>|<\|endoftext\|>)?\s*",
    re.DOTALL,
)
# "Answer: 2 m" / "the answer is 2 m": in untagged text the number after the last marker is the answer.
_ANSWER_MARKER_RE = re.compile(r"answer\s*(?:is|:)", re.IGNORECASE)

_PREFIX = r"(?:(?:the\s+)?(?:correct\s+|final\s+|best\s+)?(?:answer|option|choice)\s*(?:is\s*:?|:)?\s*)?"
_LONE_LETTER_RE = re.compile(rf"{_PREFIX}[(\[]?([A-Za-z])[)\]]?[.:]?", re.IGNORECASE)
_LABELLED_RE = re.compile(rf"{_PREFIX}(?:\(([A-Za-z])\)|\[([A-Za-z])\]|([A-Z])[.:)])\s+\S", re.IGNORECASE)
_PROSE_LETTER_RE = re.compile(r"(?i:answer|option|choice)\s*(?i:is\s*:?|:)\s*[(\[]?([A-Z])(?![A-Za-z])")
_OPTION_LABEL_RE = re.compile(r"^\s*(?:\([A-Za-z]\)|\[[A-Za-z]\]|[A-Za-z][.:)])\s*")

_DIRECTION_WORDS = {
    "front": r"front|ahead|forwards?",
    "back": r"back|behind|backwards?|rear",
    "left": r"left",
    "right": r"right",
    "up": r"up|upwards?|above",
    "down": r"down|downwards?|below|beneath|underneath",
}
_FRONT_RE = re.compile(_DIRECTION_WORDS["front"], re.IGNORECASE)
_JOIN = r"(?:\s*[-_/]\s*|\s+and\s+(?:to\s+(?:the|my|your)\s+)?|\s+)"
_COMPOUND_RE = re.compile(
    rf"\b(?:(?P<fb>{_DIRECTION_WORDS['front']}|{_DIRECTION_WORDS['back']}){_JOIN}(?P<lr>left|right)"
    rf"|(?P<lr2>left|right){_JOIN}(?P<fb2>front|back|behind|rear))\b",
    re.IGNORECASE,
)
_SINGLE_RE = re.compile(
    r"\b(?:" + "|".join(f"(?P<{name}>{words})" for name, words in _DIRECTION_WORDS.items()) + r")\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class ParsedAnswer:
    """What a model output says, read once for every consumer.

    Attributes:
        raw: The text as given.
        reasoning: Text inside ``<think>…</think>`` ('' if none).
        final: Text inside ``<answer>…</answer>``, else after ``</think>``, else the whole text.
        boxed: Content of the last ``\\boxed{}`` with LaTeX wrappers stripped, or None.
        value: The number of the answer in SI units (or as written when unitless), or None.
        unit: SI unit of ``value`` (``"m"``, ``"m^2"``, ...) or None when no unit was written.
        choice: Upper-case option letter, or None.
        direction: One of left, right, front, back, front-left, front-right, back-left, back-right,
            up, down; or None.
        well_formed: ``<think>…</think>`` then ``<answer>…</answer>`` holding a complete ``\\boxed{}``.

    Example:
        >>> p = parse_answer("<think>It spans 5 tiles.</think><answer>\\\\boxed{250 cm}</answer>")
        >>> p.value, p.unit, p.well_formed
        (2.5, 'm', True)
    """

    raw: str
    reasoning: str
    final: str
    boxed: str | None
    value: float | None
    unit: str | None
    choice: str | None
    direction: str | None
    well_formed: bool


def _reasoning(text: str) -> str:
    start = text.find("<think>")
    if start >= 0:  # an unclosed <think> runs to <answer> or to the end
        body = text[start + len("<think>") :]
        end = body.find("</think>")
        return (body[:end] if end >= 0 else body.split("<answer>", 1)[0]).strip()
    if "</think>" in text:  # the chat template opened <think> inside the prompt
        return text.split("</think>", 1)[0].strip()
    return ""


def _final(text: str) -> str:
    close = text.rfind("</answer>")
    start = text.rfind("<answer>", 0, close) if close >= 0 else -1
    if start >= 0:
        return text[start + len("<answer>") : close].strip()
    if "<answer>" in text:  # cut off before </answer>
        return text.rsplit("<answer>", 1)[1].strip()
    if "</think>" in text:
        return text.rsplit("</think>", 1)[1].strip()
    return _TAG_RE.sub(" ", text).strip()


def _last_box(text: str) -> tuple[str, bool] | None:
    """The raw content of the last ``\\boxed{...}`` (nested braces matched) and whether it was closed.

    An unclosed box (output cut off) yields the rest of the text.
    """
    opens = list(_BOX_OPEN_RE.finditer(text))
    if not opens:
        return None
    start = opens[-1].end()
    depth = 1
    for i in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return text[start:i], True
    return text[start:], False


def _boxed(final: str, raw: str) -> str | None:
    box = _last_box(final) or _last_box(raw)
    return None if box is None else strip_latex(box[0])


def _value_text(final: str) -> str:
    """Untagged prose: the part after the last "answer is" / "answer:" marker holds the answer."""
    markers = list(_ANSWER_MARKER_RE.finditer(final))
    return final[markers[-1].end() :] if markers else final


def _quantity(boxed: str | None, final: str) -> tuple[float | None, str | None]:
    quantity = parse_quantity(boxed) if boxed else None
    if quantity is None:
        text = strip_latex(final)
        quantity = parse_quantity(_value_text(text)) or parse_quantity(text)
    return (None, None) if quantity is None else (quantity.value, quantity.unit)


def _letter(candidate: str, n_options: int | None) -> str | None:
    """The option letter a short answer names: "B", "(B)", "B.", "Option B", "(B) chair", "b"."""
    text = candidate.strip().rstrip(".!")
    found = _LONE_LETTER_RE.fullmatch(text) or _LABELLED_RE.match(text)
    if found is None:
        prose = _PROSE_LETTER_RE.findall(candidate)
        letter = prose[-1] if prose else None
    else:
        letter = next(group for group in found.groups() if group)
    if letter is None:
        return None
    letter = letter.upper()
    in_range = n_options is None or ord(letter) - ord("A") < n_options
    return letter if in_range else None


def _norm(text: str) -> str:
    text = strip_latex(text).lower()
    return re.sub(r"\s+", " ", re.sub(r"[.!?,;:'\"`*]", " ", text)).strip()


def _option_texts(options: Sequence[str]) -> list[str]:
    return [_norm(_OPTION_LABEL_RE.sub("", str(option), count=1)) for option in options]


def _contained_option(candidate: str, texts: list[str]) -> int | None:
    """The one option whose text occurs in ``candidate`` (an option inside another one does not count)."""
    hits = [i for i, t in enumerate(texts) if t and re.search(rf"(?<!\w){re.escape(t)}(?!\w)", candidate)]
    hits = [i for i in hits if not any(j != i and texts[i] in texts[j] for j in hits)]
    return hits[0] if len(hits) == 1 else None


def _choice(candidates: list[str], options: Sequence[str] | None) -> str | None:
    n_options = None if options is None else len(options)
    texts = _option_texts(options) if options else []
    for candidate in candidates:
        letter = _letter(candidate, n_options)
        if letter is not None:
            return letter
        if _norm(candidate) in texts:
            return chr(ord("A") + texts.index(_norm(candidate)))
    for candidate in candidates if texts else []:
        index = _contained_option(_norm(candidate), texts)
        if index is not None:
            return chr(ord("A") + index)
    return None


def normalize_direction(text: str) -> str | None:
    """The direction a phrase names, in m2sdk's vocabulary.

    Returns one of left, right, front, back, front-left, front-right, back-left, back-right, up, down;
    a compound ("behind and to the right") wins over single words, else the first direction word counts.

    Example:
        >>> normalize_direction("It is to the front left of the sofa.")
        'front-left'
    """
    compound = _COMPOUND_RE.search(text)
    if compound:
        fb = compound.group("fb") or compound.group("fb2")
        lr = (compound.group("lr") or compound.group("lr2")).lower()
        return ("front" if _FRONT_RE.fullmatch(fb) else "back") + "-" + lr
    single = _SINGLE_RE.search(text)
    return single.lastgroup if single else None


def _direction(candidates: list[str]) -> str | None:
    for candidate in candidates:
        direction = normalize_direction(candidate)
        if direction is not None:
            return direction
    return None


def parse_answer(text: str, *, options: Sequence[str] | None = None) -> ParsedAnswer:
    """Read a model output into a :class:`ParsedAnswer`. Never raises.

    Args:
        text: The model's full output.
        options: The multiple-choice options in order (``["A. left", "B. right"]`` or ``["left",
            "right"]``); enables matching an answer written as option text.

    Returns:
        The parsed answer; fields the text does not contain are None.

    Example:
        >>> parse_answer("<think>...</think><answer>\\\\boxed{B}</answer>", options=["left", "right"]).choice
        'B'
    """
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    final = _final(text)
    boxed = _boxed(final, text)
    value, unit = _quantity(boxed, final)
    candidates = [c for c in (boxed, final) if c]
    choice = _choice(candidates, options)
    option_text = [str(options[ord(choice) - ord("A")])] if options and choice else []
    direction = _direction([*([boxed] if boxed else []), *option_text, final])
    well_formed = _well_formed(text)
    return ParsedAnswer(text, _reasoning(text), final, boxed, value, unit, choice, direction, well_formed)


def _well_formed(text: str) -> bool:
    """``<think>…</think>`` then ``<answer>…</answer>`` (each once) with a closed ``\\boxed{}`` inside."""
    found = _WELL_FORMED_RE.fullmatch(text)
    box = _last_box(found.group(1)) if found else None
    return box is not None and box[1]
