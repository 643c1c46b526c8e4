"""Unit normalisation to SI and quantity extraction: table-driven against hand-computed conversions."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from m2sdk.errors import InputError
from m2sdk.units import Quantity, UnitError, parse_quantity, strip_latex, to_si

# (value, unit, expected SI value, expected SI unit); factors from the definitions 1 in = 2.54 cm, 1 ft = 12 in.
CONVERSIONS = [
    (2.5, "m", 2.5, "m"),
    (2.5, "meters", 2.5, "m"),
    (2.5, "Metres", 2.5, "m"),
    (250, "cm", 2.5, "m"),
    (250, "centimetres", 2.5, "m"),
    (1500, "mm", 1.5, "m"),
    (1.2, "km", 1200.0, "m"),
    (10, "ft", 3.048, "m"),
    (1, "foot", 0.3048, "m"),
    (3, "feet", 0.9144, "m"),
    (12, "in", 0.3048, "m"),
    (2, "inches", 0.0508, "m"),
    (1, "yd", 0.9144, "m"),
    (1, "′", 0.3048, "m"),
    (1, "″", 0.0254, "m"),
    (20, "m²", 20.0, "m^2"),
    (20, "m2", 20.0, "m^2"),
    (20, "m^2", 20.0, "m^2"),
    (20, "m^{2}", 20.0, "m^2"),
    (20, "sq m", 20.0, "m^2"),
    (20, "square metres", 20.0, "m^2"),
    (20, "Square Meters", 20.0, "m^2"),
    (10000, "cm²", 1.0, "m^2"),
    (100, "sq ft", 9.290304, "m^2"),
    (100, "sq. ft.", 9.290304, "m^2"),
    (100, "ft²", 9.290304, "m^2"),
    (1, "square feet", 0.09290304, "m^2"),
    (1000, "l", 1.0, "m^3"),
    (2, "m³", 2.0, "m^3"),
    (1500, "ms", 1.5, "s"),
    (2, "min", 120.0, "s"),
    (3, "seconds", 3.0, "s"),
    (90, "°", 90.0, "deg"),
    (90, "degrees", 90.0, "deg"),
    (3.141592653589793, "rad", 180.0, "deg"),
]


@pytest.mark.parametrize(("value", "unit", "expected", "si_unit"), CONVERSIONS)
def test_to_si_converts_to_the_si_unit(value, unit, expected, si_unit):
    converted, converted_unit = to_si(value, unit)
    assert converted == pytest.approx(expected, rel=1e-12)
    assert converted_unit == si_unit


@pytest.mark.parametrize("unit", [None, "", "  "])
def test_unitless_values_pass_through(unit):
    assert to_si(7, unit) == (7.0, None)


def test_unknown_unit_raises_a_typed_error_naming_the_unit():
    with pytest.raises(UnitError, match="furlong"):
        to_si(1, "furlong")
    assert issubclass(UnitError, InputError)


def test_unknown_unit_passes_through_when_not_strict():
    assert to_si(1, "furlong", strict=False) == (1.0, "furlong")


# (text, SI value, SI unit, raw match)
QUANTITIES = [
    ("about 2.5 meters", 2.5, "m", "2.5 meters"),
    ("250cm", 2.5, "m", "250cm"),
    ("3 ft 6 in", 42 * 0.0254, "m", "3 ft 6 in"),
    ("5 ft. 6 in.", 66 * 0.0254, "m", "5 ft. 6 in."),
    ("6 feet 2 inches", 74 * 0.0254, "m", "6 feet 2 inches"),
    ("5'11\"", 71 * 0.0254, "m", "5'11\""),
    ("1 m 20 cm", 1.2, "m", "1 m 20 cm"),
    ("12.3m²", 12.3, "m^2", "12.3m²"),
    ("The room is 20 square meters.", 20.0, "m^2", "20 square meters"),
    ("roughly 215 sq ft", 215 * 0.09290304, "m^2", "215 sq ft"),
    ("1.2 m x 3 m", 1.2, "m", "1.2 m"),
    ("1,234.5 mm", 1.2345, "m", "1,234.5 mm"),
    ("-2.5e1 cm", -0.25, "m", "-2.5e1 cm"),
    (".5 m", 0.5, "m", ".5 m"),
    ("2-3 m", 2.0, "m", "2-3 m"),
    ("2 to 3 metres", 2.0, "m", "2 to 3 metres"),
    ("a 2.5-meter-long table", 2.5, "m", "2.5-meter"),
    ("45°", 45.0, "deg", "45°"),
    ("turn 90 degrees", 90.0, "deg", "90 degrees"),
    ("2.5\\,\\text{m}", 2.5, "m", "2.5 m"),
    ("3 chairs", 3.0, None, "3"),
    ("There are three chairs", 3.0, None, "three"),
    ("a dozen cups", 12.0, None, "a dozen"),
    ("The one on the left is 2 m away", 2.0, "m", "2 m"),
    ("5 in the room", 5.0, None, "5"),
    ('{"answer": "3"}', 3.0, None, "3"),
    ("wait 5 months", 5.0, None, "5"),
    ("Qwen2.5 says 4 m", 4.0, "m", "4 m"),
]


@pytest.mark.parametrize(("text", "value", "unit", "raw"), QUANTITIES)
def test_parse_quantity_finds_the_first_quantity(text, value, unit, raw):
    quantity = parse_quantity(text)
    assert quantity is not None
    assert quantity.value == pytest.approx(value, rel=1e-12)
    assert (quantity.unit, quantity.raw) == (unit, raw)


@pytest.mark.parametrize("text", ["", "no numbers here", "m", "\\boxed{}"])
def test_parse_quantity_without_a_number_is_none(text):
    assert parse_quantity(text) is None


def test_strip_latex_unwraps_nested_text_and_units():
    assert strip_latex("\\text{\\mathrm{3}\\,m}^{2}") == "3 m^2"
    assert strip_latex("45^\\circ") == "45°"


@given(st.text())
def test_parse_quantity_never_raises(text):
    result = parse_quantity(text)
    assert result is None or isinstance(result, Quantity)
