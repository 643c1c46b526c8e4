"""Task-routed rewards: each component scores only its samples, with the evaluation's own parsing."""

from __future__ import annotations

import math

import pytest

from m2train.config import RewardsConfig
from m2train.faults import NonFiniteError
from m2train.rewards import (
    FormatReward,
    TaskReward,
    make_reward_funcs,
    math_reward,
    mra_reward,
    route_of,
    routes_used,
)

GOOD = "<think>\nIt is 2 m.\n</think>\n<answer>\\boxed{%s}</answer>"


def columns():
    """A batch mixing a numeric, a choice and a math sample (TRL passes dataset columns as lists)."""
    return {
        "id": ["n1", "c1", "m1"],
        "task": ["camera_distance", "relative_direction", "geometry"],
        "answer_type": ["numeric", "choice", "numeric"],
        "answer": ["2.5", "B", "0.5"],
        "unit": ["m", None, None],
        "options": [None, ["left", "right"], None],
    }


CONFIG = RewardsConfig(routes={"geometry": "math"})


def funcs_by_name(config=CONFIG):
    funcs, weights = make_reward_funcs(config)
    return {f.__name__: f for f in funcs}, weights


def test_routing_by_answer_type_and_override():
    assert route_of("camera_distance", "numeric", CONFIG) == "ednm"
    assert route_of("relative_direction", "choice", CONFIG) == "choice"
    assert route_of("geometry", "numeric", CONFIG) == "math"
    assert route_of("camera_distance", "numeric", RewardsConfig(numeric="mra")) == "mra"
    assert routes_used(columns()["task"], columns()["answer_type"], CONFIG) == ["ednm", "choice", "math"]


def test_each_component_scores_only_its_samples():
    funcs, weights = funcs_by_name()
    completions = [GOOD % "2.0 m", GOOD % "B", GOOD % "\\frac{1}{2}"]
    ednm = funcs["ednm"](completions, **columns())
    choice = funcs["choice"](completions, **columns())
    maths = funcs["math"](completions, **columns())
    assert ednm[1:] == [None, None] and ednm[0] == pytest.approx(math.exp(-2.0 * 0.5 / 2.5))  # 20 % off
    assert choice == [None, 1.0, None]
    assert maths == [None, None, 1.0]
    assert funcs["mra"](completions, **columns()) == [None, None, None]
    assert weights == [0.5, 1.0, 1.0, 1.0, 1.0]


def test_ednm_is_unit_invariant_and_decay_configurable():
    funcs, _ = funcs_by_name(RewardsConfig(ednm_decay=4.0))
    cols = {**columns(), "task": ["camera_distance"] * 3, "answer_type": ["numeric"] * 3}
    cols.update(answer=["2.5"] * 3, unit=["m"] * 3)
    rewards = funcs["ednm"]([GOOD % "250 cm", GOOD % "2.0 m", "no answer"], **cols)
    assert rewards[0] == 1.0
    assert rewards[1] == pytest.approx(math.exp(-4.0 * 0.2))
    assert rewards[2] == 0.0


def test_mra_reward_steps():
    assert mra_reward([GOOD % "2.0 m", GOOD % "5 m"], ["2.5", "2.5"], ["m", "m"]) == [pytest.approx(0.7), 0.0]


def test_choice_reward_wrong_letter():
    funcs, _ = funcs_by_name()
    assert funcs["choice"]([GOOD % "A"] * 3, **columns())[1] == 0.0


def test_math_verify_equivalence():
    assert math_reward([GOOD % "\\frac{1}{2}", GOOD % "0.50", GOOD % "3", "nothing"], ["0.5"] * 4) == [
        1.0, 1.0, 0.0, 0.0,
    ]  # fmt: skip
    assert math_reward([GOOD % "x^2 + 2x + 1"], ["(x+1)^2"]) == [1.0]


def test_format_reward():
    assert FormatReward()([GOOD % "1", "\\boxed{1}", "<think>a</think>"], id=["a", "b", "c"]) == [1.0, 0.0, 0.0]


def test_non_finite_reward_stops_with_the_sample_named():
    bad = TaskReward("ednm", lambda completions, **_: [float("nan")] * len(completions), CONFIG)
    with pytest.raises(NonFiniteError, match="'n1'"):
        bad([GOOD % "1"] * 3, **columns())


def test_bad_record_costs_its_reward_not_the_run():
    funcs, _ = funcs_by_name()
    cols = {**columns(), "answer": ["not a number", "B", "0.5"]}
    assert funcs["ednm"]([GOOD % "2 m"] * 3, **cols)[0] == 0.0
    assert mra_reward([GOOD % "2 m"], ["abc"], ["m"]) == [0.0]


def test_task_reward_is_gated_on_the_format():
    cols = {**columns(), "task": ["camera_distance"] * 3, "answer_type": ["numeric"] * 3, "unit": ["m"] * 3}
    cols["answer"] = ["2.5"] * 3
    completions = ["\\boxed{1}\\boxed{2.5 m}", "<think>x</think> 2.5 m", GOOD % "2.5 m"]
    gated, _ = funcs_by_name(RewardsConfig())
    open_, _ = funcs_by_name(RewardsConfig(gate_on_format=False))
    assert gated["ednm"](completions, **cols) == [0.0, 0.0, 1.0]
    assert open_["ednm"](completions, **cols)[0] == 1.0  # the lenient parser finds 2.5 m in the broken text


def test_fast_mode_rewards_score_the_prompt_prefix_plus_the_completion():
    """Fast-mode rollouts: the prompt holds the empty think block, the completion starts at \\boxed."""
    from m2sdk.prompt import FAST_RESPONSE_PREFIX

    completion = "\\boxed{2.0 m}</answer>"
    plain = {f.__name__: f for f in make_reward_funcs(CONFIG)[0]}
    fast = {f.__name__: f for f in make_reward_funcs(CONFIG, completion_prefix=FAST_RESPONSE_PREFIX)[0]}
    assert plain["format"]([completion] * 3, **columns())[0] == 0.0  # no think block: malformed on its own
    assert fast["format"]([completion] * 3, **columns())[0] == 1.0
    assert fast["ednm"]([completion] * 3, **columns())[0] == pytest.approx(math.exp(-2.0 * 0.5 / 2.5))
    assert fast["ednm"].__name__ == "ednm"  # TRL logs rewards under the wrapped function's name


def test_listing_reward_scores_each_step_of_a_count_by_its_increment():
    from m2sdk.prompt import FAST_RESPONSE_PREFIX, format_count_by_colour, format_fast_answer
    from m2train.rewards import listing_reward

    palette = ["red", "green", "cyan", "white"]
    taught = format_count_by_colour("chair", palette, {"green", "white"})  # steps 0, 1, 1, 2

    def answer(present: set[str], n: int) -> str:
        return FAST_RESPONSE_PREFIX + format_count_by_colour("chair", palette, present) + format_fast_answer(str(n))

    assert listing_reward([answer({"green", "white"}, 2)], [taught]) == [1.0]
    # a stray chair at red: one wrong step, although every running count after it is off by one
    assert listing_reward([answer({"red", "green", "white"}, 3)], [taught]) == [0.75]
    assert listing_reward([answer({"green"}, 1)], [taught]) == [0.75]  # white missed
    other = FAST_RESPONSE_PREFIX + format_count_by_colour("table", palette, {"green", "white"}) + "\\boxed{2}"
    assert listing_reward([other], [taught]) == [0.0]  # the wrong category at every step
    cut = FAST_RESPONSE_PREFIX + "by colour: red chair 0, green chair 1, cy"
    assert listing_reward([cut], [taught]) == [0.5]  # two of four steps said
    assert listing_reward([FAST_RESPONSE_PREFIX + "\\boxed{2}</answer>"], [taught]) == [0.0]


def test_the_listing_reward_is_its_own_component_for_counts_with_a_listing():
    from m2sdk.prompt import FAST_RESPONSE_PREFIX, format_count_by_colour
    from m2train.rewards import task_columns

    taught = format_count_by_colour("chair", ["red", "blue"], {"blue"})
    cols = {**columns(), "listing": ["", taught, ""], "task": ["camera_distance", "object_count", "geometry"]}
    cols["answer_type"], cols["answer"], cols["options"] = ["numeric"] * 3, ["2.5", "1", "0.5"], [None] * 3
    config = RewardsConfig(routes={"geometry": "math"}, listing_weight=0.5)
    funcs, weights = make_reward_funcs(config, ["ednm", "math"], completion_prefix=FAST_RESPONSE_PREFIX, listed=True)
    assert [f.__name__ for f in funcs] == ["format", "ednm", "math", "listing"] and weights == [0.5, 1.0, 1.0, 0.5]
    assert task_columns(funcs) == [1, 2]  # pass rates and sample weights read the task rewards only
    completion = taught + "\\boxed{1}</answer>"
    listing = funcs[-1]([completion, completion, completion], **cols)
    assert listing == [None, 1.0, None]
    assert funcs[-1]([taught + "\\boxed{1}"] * 3, **cols)[1] == 0.0  # no </answer>: gated on the format
    plain, _ = make_reward_funcs(RewardsConfig(listing_weight=0.5), ["ednm"], listed=False)  # nothing to list
    off, _ = make_reward_funcs(RewardsConfig(), ["ednm"], listed=True)
    assert [f.__name__ for f in plain] == [f.__name__ for f in off] == ["format", "ednm"]
