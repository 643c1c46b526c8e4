"""M2-Reasoning's prompt: system prompt, question layout and the response format, in one place.

Training targets, the SDK, export parity checks and the ROS node all build prompts through this module,
so a model is always asked the way it was trained.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence

from m2sdk import tokens

# The system prompt of the official M2-Reasoning example (usage_test.py of the release).
SYSTEM_PROMPT = (
    "You are a helpful assistant. When the user asks a question, your response must include two parts: "
    "first, the reasoning process enclosed in <think>...</think> tags, then the final answer enclosed in "
    "<answer>...</answer> tags. The critical answer or key result should be placed within \\boxed{}."
)

# Fast "answer only" mode: the assistant turn starts with an empty think block, so the model goes
# straight to the answer instead of a long chain of thought (robots want the number, now).
FAST_RESPONSE_PREFIX = f"{tokens.THINK_START}\n\n{tokens.THINK_END}\n<answer>"

OPTION_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def format_question(question: str, options: Sequence[str] | None = None) -> str:
    """The user text of a question, with lettered options for multiple choice.

    Example:
        >>> format_question("Which is closer?", ["the chair", "the lamp"])
        'Which is closer?\\nOptions:\\nA. the chair\\nB. the lamp'
    """
    if not options:
        return question
    if len(options) > len(OPTION_LETTERS):
        raise ValueError(f"at most {len(OPTION_LETTERS)} options are supported, got {len(options)}")
    lines = [f"{OPTION_LETTERS[i]}. {text}" for i, text in enumerate(options)]
    return question + "\nOptions:\n" + "\n".join(lines)


def format_response(reasoning: str, answer: str) -> str:
    """The assistant text M2 is trained to produce: think block, then the answer with ``\\boxed{}``.

    Example:
        >>> format_response("The chair is 2 m ahead.", "2.0 m")
        '<think>\\nThe chair is 2 m ahead.\\n</think>\\n<answer>\\\\boxed{2.0 m}</answer>'
    """
    return f"{tokens.THINK_START}\n{reasoning}\n{tokens.THINK_END}\n<answer>\\boxed{{{answer}}}</answer>"


def format_fast_answer(answer: str) -> str:
    """The assistant text that follows :data:`FAST_RESPONSE_PREFIX` in fast answer-only mode.

    Example:
        >>> FAST_RESPONSE_PREFIX + format_fast_answer("2.0 m")
        '<think>\\n\\n</think>\\n<answer>\\\\boxed{2.0 m}</answer>'
    """
    return f"\\boxed{{{answer}}}</answer>"


def format_count_listing(category: str, colours: Sequence[str]) -> str:
    """What a fast count answer can say before its ``\\boxed{}`` count: every counted object by number,
    then the next number with "none".

    Why this shape: a small decoder cannot read a count off one attention look (softmax averages what it
    looks at), but it can name one object at a time. Each item starts with the category word, whose
    look at the image covers every object of that category, so the colour that follows is read where
    the look is; ending on "none" makes stopping the same choice as naming the next colour
    (``data.count_listing`` in training; docs/m2_mini.md, "Counting by listing", has what it does).

    Example:
        >>> format_count_listing("chair", ["yellow", "cyan"])
        '1 chair yellow, 2 chair cyan, 3 chair none: '
    """
    items = [f"{i} {category} {colour}" for i, colour in enumerate(colours, start=1)]
    return ", ".join([*items, f"{len(colours) + 1} {category} none"]) + ": "


def format_count_by_colour(category: str, palette: Sequence[str], present: Collection[str]) -> str:
    """What a fast count answer can say before its ``\\boxed{}`` count: every colour of ``palette`` in
    order, each with the running count of ``category`` objects of the colours so far (``present``).

    Why: naming the next object not yet named is the step a small decoder did not learn
    (:func:`format_count_listing`); here each step is one lookup it can do (the object of that colour,
    colours being unique in a room, and whether it is of the category), and the count only grows by one.

    Example:
        >>> format_count_by_colour("chair", ["red", "cyan", "white"], {"cyan", "white"})
        'by colour: red chair 0, cyan chair 1, white chair 2: '
    """
    items, count = [], 0
    for colour in palette:
        count += colour in present
        items.append(f"{colour} {category} {count}")
    return "by colour: " + ", ".join(items) + ": "


_BY_COLOUR_STEP = re.compile(r"([a-z]+) ([a-z][a-z ]*?) (\d+)")


def read_count_by_colour(text: str) -> list[tuple[str, str, int]]:
    """The steps ``(colour, category, running count)`` of a :func:`format_count_by_colour` listing in
    ``text``, in order; the listing ends at its ``:`` or at the first step that does not read as one.

    Why: RL scores each step of a count's listing against the scene (``rewards.listing_weight``), so the
    listing is read back by the code that writes it.

    Example:
        >>> read_count_by_colour("<answer>by colour: red chair 0, cyan chair 1, white chair 2: \\boxed{2}")
        [('red', 'chair', 0), ('cyan', 'chair', 1), ('white', 'chair', 2)]
    """
    start = text.find("by colour: ")
    if start < 0:
        return []
    steps = []
    for item in text[start + len("by colour: ") :].split(":")[0].split(", "):
        match = _BY_COLOUR_STEP.fullmatch(item.strip())
        if match is None:
            break
        steps.append((match[1], match[2], int(match[3])))
    return steps


def format_position_listing(objects: Sequence[tuple[str, str, float, float]]) -> str:
    """What a fast answer to a relative question can say before its ``\\boxed{}`` letter: where each object
    the question names is, as ``(letter, name, lateral_m, depth_m)`` in the camera frame (letter '' for
    an object that is not an option), to 0.1 m.

    Why: a small decoder trained on the letter alone does not compare two or three objects in one step
    (docs/m2_mini.md, "Counting and comparing"; m2-mini does since its intermediate steps are supervised,
    "Comparing by role"), but it reads one named object's depth and side of the image, the lookup camera distance
    uses; written out, the comparison left for the letter is between numbers already in the text, and the
    ground plane of the synthetic rooms makes (lateral, depth) enough to answer both relative questions.
    (m2-mini reads the positions of names it is given, but does not learn to copy the names: docs/m2_mini.md,
    "Comparing by listing positions".)

    Example:
        >>> format_position_listing([("", "red bin", -0.42, 3.06), ("A", "blue bed", 1.2, 2.0)])
        'where: red bin left 0.4 at 3.1, A blue bed right 1.2 at 2.0: '

    The leading "where:" puts a space before the first name, so it is the same tokens as in the question
    (and the same words SFT grounds; a name straight after ``<answer>`` would be other tokens).
    """
    items = []
    for letter, name, lateral, depth in objects:
        side = "left" if lateral < 0 else "right"
        items.append(f"{letter} {name}".strip() + f" {side} {abs(lateral):.1f} at {depth:.1f}")
    return "where: " + ", ".join(items) + ": "


def system_turn(system: str = SYSTEM_PROMPT) -> str:
    return f"{tokens.IM_START}system\n{system}{tokens.IM_END}\n"


def user_turn_open() -> str:
    return f"{tokens.IM_START}user\n"


def user_turn_close() -> str:
    """End of the user turn and start of the assistant turn (the generation prompt)."""
    return f"{tokens.IM_END}\n{tokens.IM_START}assistant\n"
