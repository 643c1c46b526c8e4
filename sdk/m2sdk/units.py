"""Unit normalisation to SI and extraction of the first quantity in a piece of text.

Every number m2sdk compares (MRA, EDNM rewards, ``Answer.value``) goes through this module, so a model that
answers "250 cm" and a ground truth of "2.5 m" meet in the same unit. Lengths become metres (``"m"``),
areas square metres (``"m^2"``), volumes cubic metres (``"m^3"``), times seconds (``"s"``) and angles
degrees (``"deg"``). Counts stay unitless (unit ``None``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from m2sdk.errors import InputError

# SI target unit -> {alias: factor to SI}. Aliases are lower case; spaces match any whitespace (and an
# optional full stop before them, for "sq. ft").
_FT = 0.3048
_IN = 0.0254
_UNITS: dict[str, dict[str, float]] = {
    "m": {
        "m": 1.0, "metre": 1.0, "metres": 1.0, "meter": 1.0, "meters": 1.0,
        "cm": 0.01, "centimetre": 0.01, "centimetres": 0.01, "centimeter": 0.01, "centimeters": 0.01,
        "mm": 0.001, "millimetre": 0.001, "millimetres": 0.001, "millimeter": 0.001, "millimeters": 0.001,
        "dm": 0.1, "km": 1000.0, "kilometre": 1000.0, "kilometres": 1000.0, "kilometer": 1000.0,
        "kilometers": 1000.0, "ft": _FT, "foot": _FT, "feet": _FT, "′": _FT, "'": _FT,
        "in": _IN, "inch": _IN, "inches": _IN, "″": _IN, '"': _IN,
        "yd": 0.9144, "yard": 0.9144, "yards": 0.9144, "mi": 1609.344, "mile": 1609.344, "miles": 1609.344,
    },
    "m^2": {
        "m^2": 1.0, "m²": 1.0, "m2": 1.0, "sq m": 1.0, "sqm": 1.0, "sq metres": 1.0, "sq meters": 1.0,
        "square metre": 1.0, "square metres": 1.0, "square meter": 1.0, "square meters": 1.0,
        "metres squared": 1.0, "meters squared": 1.0, "m squared": 1.0,
        "cm^2": 1e-4, "cm²": 1e-4, "cm2": 1e-4, "sq cm": 1e-4, "square centimetres": 1e-4,
        "square centimeters": 1e-4, "mm^2": 1e-6, "mm²": 1e-6,
        "ft^2": _FT**2, "ft²": _FT**2, "ft2": _FT**2, "sq ft": _FT**2, "sqft": _FT**2,
        "square foot": _FT**2, "square feet": _FT**2, "feet squared": _FT**2,
        "in^2": _IN**2, "in²": _IN**2, "sq in": _IN**2, "square inch": _IN**2, "square inches": _IN**2,
    },
    "m^3": {
        "m^3": 1.0, "m³": 1.0, "m3": 1.0, "cubic metre": 1.0, "cubic metres": 1.0, "cubic meter": 1.0,
        "cubic meters": 1.0, "l": 1e-3, "litre": 1e-3, "litres": 1e-3, "liter": 1e-3, "liters": 1e-3,
        "ml": 1e-6, "cm^3": 1e-6, "cm³": 1e-6, "cc": 1e-6, "ft^3": _FT**3, "ft³": _FT**3,
        "cubic foot": _FT**3, "cubic feet": _FT**3,
    },
    "s": {
        "s": 1.0, "sec": 1.0, "secs": 1.0, "second": 1.0, "seconds": 1.0, "ms": 1e-3,
        "millisecond": 1e-3, "milliseconds": 1e-3, "min": 60.0, "mins": 60.0, "minute": 60.0,
        "minutes": 60.0, "h": 3600.0, "hr": 3600.0, "hrs": 3600.0, "hour": 3600.0, "hours": 3600.0,
    },
    "deg": {
        "deg": 1.0, "degs": 1.0, "degree": 1.0, "degrees": 1.0, "°": 1.0,
        "rad": 180.0 / 3.141592653589793, "rads": 180.0 / 3.141592653589793,
        "radian": 180.0 / 3.141592653589793, "radians": 180.0 / 3.141592653589793,
    },
}  # fmt: skip
_ALIASES: dict[str, tuple[float, str]] = {
    alias: (factor, si) for si, table in _UNITS.items() for alias, factor in table.items()
}

_NUMBER_WORDS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "a dozen": 12,
    "dozen": 12,
}  # fmt: skip

# A number not glued to a word or another number ("Qwen2.5" is no quantity); "1,234.5" has thousands
# separators only in groups of three, so "2,3" reads as 2.
_NUMBER_RE = re.compile(
    r"(?<![\w.])[-+−]?(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)(?:[eE][-+]?\d+)?(?![\d])"
)
_WORD_NUMBER_RE = re.compile(r"\b(" + "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True)) + r")\b", re.IGNORECASE)
# Quote marks are units only in the 5'11" form, and "in" only where it cannot be the preposition
# ("5 in the room"); both are matched by hand, not by _UNIT_RE.
_GLUED_ONLY = {"'", '"'}
_UNIT_GAP_RE = re.compile(r"[ \t]*-?[ \t]*")  # "2.5 m", "2.5m", "a 2.5-metre table"
_INCH_WORD_RE = re.compile(r"in\.?(?=\s*(?:$|[,;:)\]}!?.]))", re.IGNORECASE)
_FEET_QUOTE_RE = re.compile(r"'(?=[ \t]*\d)")  # 5'11" - a lone quote after a number is no unit
_COMPOUND_GAP_RE = re.compile(r"\.?[ \t]*(?:,|and)?[ \t]*", re.IGNORECASE)
_RANGE_RE = re.compile(r"[ \t]*(?:-|–|—|to)[ \t]*", re.IGNORECASE)


def _alias_pattern(alias: str) -> str:
    body = r"\.?\s*".join(re.escape(part) for part in alias.split(" "))
    return body + (r"(?![a-z0-9²³^])" if alias[-1].isalnum() else "")


# Longest aliases first: the first alternative that matches wins ("m²" before "m", "min" before "mi").
_REGEX_ALIASES = [a for a in sorted(_ALIASES, key=len, reverse=True) if a not in _GLUED_ONLY and a != "in"]
_UNIT_RE = re.compile(
    "|".join(f"(?P<u{i}>{_alias_pattern(alias)})" for i, alias in enumerate(_REGEX_ALIASES)), re.IGNORECASE
)
_UNIT_BY_GROUP = {f"u{i}": alias for i, alias in enumerate(_REGEX_ALIASES)}


def _fraction(found: re.Match[str]) -> str:
    numerator, denominator = float(found.group(1)), float(found.group(2))
    return f"{numerator / denominator:g}" if denominator else f"{found.group(1)}/{found.group(2)}"


_LATEX_WRAPPER_RE = re.compile(r"\\(?:text|textrm|textbf|mathrm|mathbf|mathit|operatorname|mbox|boxed)\s*\{([^{}]*)\}")
_LATEX_PRE_SUBS = (
    (re.compile(r"\^\s*\{([^{}]*)\}"), r"^\1"),  # m^{2} -> m^2
    (re.compile(r"\\[dt]?frac\s*\{\s*(\d+(?:\.\d+)?)\s*\}\s*\{\s*(\d+(?:\.\d+)?)\s*\}"), _fraction),
)
_LATEX_SUBS = (
    (re.compile(r"\^\s*\{?\s*\\circ\s*\}?|\\circ|\\degree"), "°"),
    (re.compile(r"\\(?:times|cdot)"), " x "),
    (re.compile(r"\\(?:approx|sim)"), " ≈ "),
    (re.compile(r"\\[,;:! ]|\\q?quad|~"), " "),
    (re.compile(r"\\(?:left|right|displaystyle)"), ""),
    (re.compile(r"\\%"), "%"),
    (re.compile(r"\\[A-Za-z]+"), " "),  # any other command
    (re.compile(r"[${}]"), ""),
)


def strip_latex(text: str) -> str:
    """Turn the LaTeX a model writes around a number into plain text.

    Example:
        >>> strip_latex("2.5\\\\,\\\\text{m}^{2}")
        '2.5 m^2'
    """
    for pattern, replacement in _LATEX_PRE_SUBS:
        text = pattern.sub(replacement, text)
    for _ in range(8):  # unwrap nested \text{\mathrm{...}} from the inside out
        unwrapped = _LATEX_WRAPPER_RE.sub(r"\1", text)
        if unwrapped == text:
            break
        text = unwrapped
    for pattern, replacement in _LATEX_SUBS:
        text = pattern.sub(replacement, text)
    return re.sub(r"[ \t]+", " ", text).strip()


class UnitError(InputError):
    """A unit string that m2sdk does not know.

    Example:
        >>> try:
        ...     to_si(3.0, "furlong")
        ... except UnitError as err:
        ...     print(str(err)[:22])
        unknown unit 'furlong'
    """


@dataclass(frozen=True)
class Quantity:
    """A number found in text, already converted to SI.

    Attributes:
        value: The number in SI units (metres, square metres, seconds, degrees) or as written if unitless.
        unit: The SI unit (``"m"``, ``"m^2"``, ``"m^3"``, ``"s"``, ``"deg"``), or None when no unit followed.
        raw: The matched text, e.g. ``"3 ft 6 in"``.

    Example:
        >>> parse_quantity("about 250cm")
        Quantity(value=2.5, unit='m', raw='250cm')
    """

    value: float
    unit: str | None
    raw: str


def _normalise_unit(unit: str) -> str:
    unit = unit.strip().lower().replace("^{", "^").replace("}", "").replace("**", "^")
    unit = re.sub(r"\.(?=\s)|\.$", "", unit)  # "sq. ft." -> "sq ft"
    return re.sub(r"\s+", " ", unit)


def to_si(value: float, unit: str | None, *, strict: bool = True) -> tuple[float, str | None]:
    """Convert ``value`` given in ``unit`` to SI.

    Unitless values (``unit`` None or ``""``, e.g. counts) pass through with unit None.

    Args:
        value: The number as written.
        unit: Its unit, case-insensitive ("cm", "Square Feet", "m²", "deg").
        strict: Raise :class:`UnitError` for an unknown unit (default); when False, return
            ``(value, unit)`` unchanged so the caller can decide.

    Returns:
        ``(value_si, si_unit)``.

    Raises:
        UnitError: ``unit`` is unknown and ``strict`` is True.

    Example:
        >>> to_si(250, "cm")
        (2.5, 'm')
        >>> to_si(100, "sq ft")
        (9.290304, 'm^2')
    """
    if unit is None or not unit.strip():
        return float(value), None
    key = _normalise_unit(unit)
    if key not in _ALIASES:
        if strict:
            raise UnitError(
                f"unknown unit {unit!r}: use a length (m, cm, mm, ft, in), area (m^2, sq ft), "
                "volume (m^3, l), time (s, min) or angle (deg, rad) unit"
            )
        return float(value), unit
    factor, si = _ALIASES[key]
    return float(value) * factor, si


def _to_float(number: str) -> float:
    return float(number.replace(",", "").replace("−", "-"))


def _match_unit(text: str, pos: int, *, inch_quote: bool = False) -> tuple[str, int] | None:
    """The unit alias starting at ``text[pos]`` (after optional spaces or a hyphen) and its end.

    ``'`` reads as feet only in the 5'11" form and ``"`` as inches only after feet (``inch_quote``):
    elsewhere they are quote marks (``{"answer": "3"}``).
    """
    if _FEET_QUOTE_RE.match(text, pos):
        return "'", pos + 1
    if inch_quote and text.startswith('"', pos):
        return '"', pos + 1
    start = _UNIT_GAP_RE.match(text, pos).end()  # type: ignore[union-attr]
    inch = _INCH_WORD_RE.match(text, start)
    if inch:
        return "in", inch.end()
    found = _UNIT_RE.match(text, start)
    if not found or found.lastgroup is None:
        return None
    return _UNIT_BY_GROUP[found.lastgroup], found.end()


def _compound_tail(text: str, pos: int, first_factor: float) -> tuple[float, int] | None:
    """A smaller length straight after a length ("3 ft 6 in", "1 m 20 cm"): its metres and end."""
    gap = _COMPOUND_GAP_RE.match(text, pos).end()  # type: ignore[union-attr]
    number = _NUMBER_RE.match(text, gap)
    if not number or number.group().startswith(("-", "−", "+")):
        return None
    unit = _match_unit(text, number.end(), inch_quote=True)
    if unit is None:
        return None
    factor, si = _ALIASES[unit[0].lower()]
    if si != "m" or factor >= first_factor:
        return None
    return _to_float(number.group()) * factor, unit[1]


def _range_unit(text: str, end: int) -> tuple[str, int] | None:
    """The unit shared by a range ("2-3 m", "2 to 3 metres"): it applies to the first number too."""
    dash = _RANGE_RE.match(text, end)
    number = _NUMBER_RE.match(text, dash.end()) if dash and dash.end() > end else None
    if number is None:
        return None
    return _match_unit(text, number.end())


def _quantity_at(text: str, start: int, end: int, value: float) -> Quantity:
    unit = _match_unit(text, end)
    if unit is None:
        shared = _range_unit(text, end)
        if shared is None:
            return Quantity(value, None, text[start:end])
        factor, si = _ALIASES[shared[0].lower()]
        return Quantity(value * factor, si, text[start : shared[1]].strip())
    factor, si = _ALIASES[unit[0].lower()]
    value_si, stop = value * factor, unit[1]
    if si == "m":
        tail = _compound_tail(text, stop, factor)
        if tail is not None:
            value_si, stop = value_si + tail[0], tail[1]
    return Quantity(value_si, si, text[start:stop].strip())


def parse_quantity(text: str) -> Quantity | None:
    """Find the first number in ``text`` and the unit that follows it, converted to SI.

    Digits win over number words ("The one on the left is 2 m away" gives 2 m): words ("three",
    "a dozen") are used only when the text holds no digits. Compound lengths add up ("3 ft 6 in" =
    1.0668 m). Of "1.2 m x 3 m" only the first quantity is returned. Never raises.

    Args:
        text: Free text, e.g. a model answer.

    Returns:
        The :class:`Quantity`, or None when there is no number.

    Example:
        >>> parse_quantity("The room is about 12.3m² in area")
        Quantity(value=12.3, unit='m^2', raw='12.3m²')
    """
    if not isinstance(text, str):
        return None
    text = strip_latex(text) if "\\" in text or "$" in text else text
    number = _NUMBER_RE.search(text)
    if number is not None:
        try:
            value = _to_float(number.group())
        except ValueError:  # pragma: no cover - the pattern only matches valid floats
            return None
        return _quantity_at(text, number.start(), number.end(), value)
    word = _WORD_NUMBER_RE.search(text)
    if word is None:
        return None
    return _quantity_at(text, word.start(), word.end(), float(_NUMBER_WORDS[word.group().lower()]))
