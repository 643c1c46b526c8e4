"""The one answer parser: real-looking model outputs, option matching, directions, and never raising."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from m2sdk.answer_parser import ParsedAnswer, normalize_direction, parse_answer

WELL_FORMED = (
    "<think>The chair is about five floor tiles from the table; each tile is 0.5 m.</think>\n"
    "<answer>The distance is \\boxed{2.5 \\text{ m}}.</answer>"
)


def test_well_formed_output_is_split_into_parts():
    parsed = parse_answer(WELL_FORMED)
    assert parsed.reasoning == "The chair is about five floor tiles from the table; each tile is 0.5 m."
    assert parsed.final == "The distance is \\boxed{2.5 \\text{ m}}."
    assert parsed.boxed == "2.5 m"
    assert (parsed.value, parsed.unit) == (2.5, "m")
    assert parsed.well_formed
    assert parsed.raw == WELL_FORMED


@pytest.mark.parametrize(
    ("text", "reasoning", "final"),
    [
        ("<think>a</think><answer>b</answer>", "a", "b"),
        ("<think>a</think> b", "a", "b"),  # no <answer>: text after </think>
        ("a</think> b", "a", "b"),  # <think> was in the prompt
        ("<think>a <answer>b</answer>", "a", "b"),  # </think> missing
        ("<think>a and on and on", "a and on and on", "a and on and on"),  # cut off while thinking
        ("<think>a</think><answer>b", "a", "b"),  # cut off before </answer>
        ("just b", "", "just b"),
        ("<answer>x</answer><answer>y</answer>", "", "y"),  # the last answer wins
    ],
)
def test_reasoning_and_final_tolerate_missing_tags(text, reasoning, final):
    parsed = parse_answer(text)
    assert (parsed.reasoning, parsed.final) == (reasoning, final)


@pytest.mark.parametrize(
    ("text", "boxed", "value", "unit"),
    [
        ("<answer>\\boxed{250cm}</answer>", "250cm", 2.5, "m"),
        ("<answer>\\boxed{3 ft 6 in}</answer>", "3 ft 6 in", 42 * 0.0254, "m"),
        ("<answer>\\boxed{\\mathrm{12.5\\,m^{2}}}</answer>", "12.5 m^2", 12.5, "m^2"),
        ("first \\boxed{1 m}, then corrected: \\boxed{2 m}", "2 m", 2.0, "m"),  # the last box wins
        ("\\boxed{\\boxed{3}}", "3", 3.0, None),  # nested boxes: the innermost is the last opened
        ("\\boxed{\\text{about } \\frac{1}{2}\\text{ m}}", "about 0.5 m", 0.5, "m"),
        ("\\boxed{\\unknowncmd{7}}", "7", 7.0, None),
        ("<answer>\\boxed{4", "4", 4.0, None),  # cut off inside the box
        ("<answer>\\fbox{7 chairs}</answer>", "7 chairs", 7.0, None),
    ],
)
def test_boxed_content_gives_the_value_in_si(text, boxed, value, unit):
    parsed = parse_answer(text)
    assert parsed.boxed == boxed
    assert parsed.value == pytest.approx(value)
    assert parsed.unit == unit


@pytest.mark.parametrize(
    ("text", "value", "unit"),
    [
        ("<think>It looks about 1 m wide and 2 m deep</think> The answer is 3 m.", 3.0, "m"),
        ("The table is 1 m wide. Final answer: 4.5 meters", 4.5, "m"),
        ("About 250 cm.", 2.5, "m"),
        ("There are three chairs.", 3.0, None),
        ("<answer>\\boxed{B}, which is 2 m</answer>", 2.0, "m"),  # box without a number: fall back to final
    ],
)
def test_value_falls_back_to_the_final_text(text, value, unit):
    parsed = parse_answer(text)
    assert (parsed.value, parsed.unit) == (pytest.approx(value), unit)


@pytest.mark.parametrize(
    ("text", "options", "choice"),
    [
        ("<think>…</think><answer>\\boxed{B}</answer>", ["left", "right"], "B"),
        ("\\boxed{(C)}", ["1", "2", "3"], "C"),
        ("\\boxed{c.}", ["1", "2", "3"], "C"),
        ("A.", None, "A"),
        ("(A)", None, "A"),
        ("a", ["x", "y"], "A"),
        ("Option B", ["x", "y"], "B"),
        ("The answer is (B).", ["x", "y"], "B"),
        ("(B) table", ["A. sofa", "B. table"], "B"),
        ("\\boxed{right}", ["A. left", "B. right"], "B"),
        ("\\boxed{Table}", ["sofa", "table"], "B"),
        ("\\boxed{2}", ["(A) 3", "(B) 2", "(C) 1"], "B"),  # CV-Bench count options
        ("The sofa is the closest object to the bed.", ["A. sofa", "B. table", "C. tv"], "A"),
        ("\\boxed{front-left}", ["left", "front-left"], "B"),  # an option inside another does not count
        ("Answer: E", ["x", "y"], None),  # out of range
        ("A chair is nearer.", None, None),  # an article, not a letter
        ("\\boxed{2.5 m}", None, None),
        ("The chair or the sofa, hard to say.", ["chair", "sofa"], None),  # ambiguous
    ],
)
def test_choice_letters_and_option_text(text, options, choice):
    assert parse_answer(text, options=options).choice == choice


@pytest.mark.parametrize(
    ("phrase", "direction"),
    [
        ("left", "left"),
        ("It is to the left of the sofa.", "left"),
        ("on my RIGHT", "right"),
        ("straight ahead", "front"),
        ("in front of me", "front"),
        ("move forward", "front"),
        ("behind the TV", "back"),
        ("front-left", "front-left"),
        ("front left", "front-left"),
        ("left front", "front-left"),
        ("Back-Right", "back-right"),
        ("behind and to the right", "back-right"),
        ("ahead and to my left", "front-left"),
        ("above the shelf", "up"),
        ("below the table", "down"),
        ("2.5 m", None),
        ("", None),
    ],
)
def test_direction_phrases_are_normalised(phrase, direction):
    assert normalize_direction(phrase) == direction


def test_direction_prefers_the_box_then_the_chosen_option():
    assert parse_answer("<think>left or right?</think><answer>\\boxed{back-left}</answer>").direction == "back-left"
    parsed = parse_answer("<answer>\\boxed{C}</answer>", options=["A. left", "B. right", "C. back"])
    assert (parsed.choice, parsed.direction) == ("C", "back")


@pytest.mark.parametrize(
    ("text", "well_formed"),
    [
        (WELL_FORMED, True),
        ("<think></think><answer>\\boxed{1}</answer><|im_end|>", True),
        ("<think>x</think><answer>2 m</answer>", False),  # no box
        ("<answer>\\boxed{1}</answer>", False),  # no think
        ("<answer>\\boxed{1}</answer><think>x</think>", False),  # wrong order
        ("<think>x</think><answer>\\boxed{1</answer>", False),  # box not closed
        ("<think>x</think><answer>\\boxed{1}</answer> and more text", False),
        ("<think>x</think><think>y</think><answer>\\boxed{1}</answer>", False),  # think twice
        ("preamble <think>x</think><answer>\\boxed{1}</answer>", False),
    ],
)
def test_well_formed_needs_think_then_answer_with_a_box(text, well_formed):
    assert parse_answer(text).well_formed is well_formed


@pytest.mark.parametrize(
    "text", ["", "garbage }}}{{{ \\boxed{", "<think><think></answer>", "\\boxed{}" * 50, "(((", "1e999 m"]
)
def test_garbage_gives_empty_fields(text):
    parsed = parse_answer(text)
    assert isinstance(parsed, ParsedAnswer)
    assert not parsed.well_formed


def test_non_string_input_is_read_as_text():
    assert parse_answer(None).final == ""  # type: ignore[arg-type]


_PIECES = st.sampled_from(
    ["<think>", "</think>", "<answer>", "</answer>", "\\boxed{", "}", "{", "(A)", "B.", "3 ft", "2.5", "m²",
     "left", "front", " and to the ", "\\text{", "-", ",", "e5", "in", "'", '"', " ", "\n"]
)  # fmt: skip


@settings(max_examples=300)
@given(st.lists(st.one_of(_PIECES, st.text(max_size=8)), max_size=30), st.none() | st.lists(st.text(), max_size=5))
def test_parse_answer_never_raises(pieces, options):
    parsed = parse_answer("".join(pieces), options=options)
    assert parsed.choice is None or (len(parsed.choice) == 1 and parsed.choice.isupper())
    assert parsed.direction in {None, "left", "right", "front", "back", "front-left", "front-right",
                                "back-left", "back-right", "up", "down"}  # fmt: skip


def test_a_count_after_its_listing_is_the_boxed_number_not_the_listed_ones():
    from m2sdk.prompt import FAST_RESPONSE_PREFIX, format_count_listing, format_fast_answer

    listing = format_count_listing("plant pot", ["yellow", "blue"])
    assert listing == "1 plant pot yellow, 2 plant pot blue, 3 plant pot none: "
    parsed = parse_answer(FAST_RESPONSE_PREFIX + listing + format_fast_answer("2"))
    assert (parsed.value, parsed.boxed, parsed.well_formed) == (2.0, "2", True)
    assert parse_answer(FAST_RESPONSE_PREFIX + listing[:30]).boxed is None  # cut off: not well formed


def test_a_colour_listing_reads_back_step_by_step():
    from m2sdk.prompt import format_count_by_colour, read_count_by_colour

    listing = format_count_by_colour("plant pot", ["red", "blue", "white"], {"blue", "white"})
    assert read_count_by_colour("<answer>" + listing + "\\boxed{2}") == [
        ("red", "plant pot", 0), ("blue", "plant pot", 1), ("white", "plant pot", 2)
    ]  # fmt: skip
    assert read_count_by_colour("by colour: red chair 0, blue chair x, white chair 1: ") == [("red", "chair", 0)]
    assert read_count_by_colour("\\boxed{2}") == []
