"""Curriculum sampler: easy → hard, GRPO's grouped order, deterministic (resumable) from the seed."""

from __future__ import annotations

import numpy as np
import pytest

from m2train.config import CurriculumConfig, Stage
from m2train.curriculum import CurriculumSampler, answer_order, batches_done, total_generation_batches

DIFFS = np.linspace(0.0, 1.0, 41)  # 41 prompts, difficulty 0.000, 0.025, ..., 1.0


def make(config, *, k=2, g=3, repeat=1, total=10, seed=0, diffs=DIFFS):
    return CurriculumSampler(
        diffs, config, prompts_per_batch=k, num_generations=g, repeat_count=repeat, total_batches=total, seed=seed
    )


def test_window_slides_from_easy_to_hard_and_samples_stay_inside():
    sampler = make(CurriculumConfig(kind="window", window_width=0.3))
    assert sampler.bounds(0)[1:] == (0.0, 0.3)
    low, high = sampler.bounds(9)[1:]
    assert (low, high) == pytest.approx((0.7, 1.0))
    for b in range(10):
        _, low, high = sampler.bounds(b)
        chosen = DIFFS[sampler.batch(b)]
        assert ((chosen >= low - 1e-12) & (chosen <= high + 1e-12)).all()
    means = [DIFFS[sampler.batch(b)].mean() for b in range(10)]
    assert means[-1] > means[0] + 0.5


def test_stages_cap_difficulty():
    config = CurriculumConfig(kind="stages", stages=[Stage(0.3, 0.2), Stage(0.7, 0.6), Stage(1.0, 1.0)])
    sampler = make(config, total=11)
    assert [sampler.bounds(b)[0] for b in range(11)] == [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2]
    for b in range(11):
        assert DIFFS[sampler.batch(b)].max() <= sampler.bounds(b)[2] + 1e-12


def test_grouped_repeat_order_like_trl():
    sampler = make(CurriculumConfig(kind="window"), k=2, g=3, repeat=2, total=2)
    order = list(sampler)
    assert len(order) == len(sampler) == 2 * 2 * 3 * 2
    first = sampler.batch(0)
    expected = [int(i) for i in first for _ in range(3)] * 2  # each prompt G times, the batch repeat_count times
    assert order[:12] == expected


def test_deterministic_and_resumable():
    cfg = CurriculumConfig(kind="window")
    a, b = make(cfg, seed=5), make(cfg, seed=5)
    assert list(a) == list(b)
    assert [a.batch(i).tolist() for i in (7, 3)] == [b.batch(i).tolist() for i in (7, 3)]  # no hidden state
    assert list(make(cfg, seed=6)) != list(a)
    assert a.signature() == b.signature() != make(cfg, seed=6).signature()


def test_sparse_window_falls_back_to_nearest():
    diffs = np.array([0.0, 0.1, 0.85, 0.95, 1.0])
    sampler = make(CurriculumConfig(kind="window", window_width=0.2), k=2, total=3, diffs=diffs)
    chosen = set(sampler.batch(1).tolist())  # window [0.4, 0.6] is empty: nearest to 0.5 are 0.85 and 0.1
    assert chosen <= {1, 2}


def test_none_is_a_shuffled_pass_over_the_data():
    sampler = make(CurriculumConfig(kind="none"), k=4, total=10, diffs=np.zeros(8))
    first_epoch = np.concatenate([sampler.batch(0), sampler.batch(1)])
    assert sorted(first_epoch.tolist()) == list(range(8))


def test_state_records_position():
    sampler = make(CurriculumConfig(kind="window", window_width=0.3))
    state = sampler.state(batches_consumed=9)
    assert state["batches_consumed"] == 9 and state["window"] == [0.7, 1.0] and state["kind"] == "window"


def test_batch_arithmetic():
    assert total_generation_batches(10, grad_accum=2, steps_per_generation=2, num_iterations=1) == 10
    assert total_generation_batches(10, grad_accum=1, steps_per_generation=1, num_iterations=2) == 5
    assert batches_done(3, 2, 2, 1) == 3 and batches_done(0, 1, 1, 1) == 0


def test_answer_order_is_spearman_per_numeric_task():
    diffs = list(np.linspace(0, 1, 40)) * 3
    rising, falling, letters = list(range(40)), [1.0 / (i + 1) for i in range(40)], ["A", "B"] * 20
    tasks = ["count"] * 40 + ["size"] * 40 + ["direction"] * 40
    order = answer_order(diffs, rising + falling + letters, tasks)
    assert order == {"count": 1.0, "size": -1.0}  # choice letters are not numbers: no entry
    ties = answer_order(np.linspace(0, 1, 40), [1] * 20 + [2] * 20, ["count"] * 40)["count"]
    assert 0.86 < ties < 0.87  # average ranks: sqrt(3)/2 for one step over sorted difficulties
    assert answer_order([0.1] * 40, rising, ["count"] * 40) == {}  # no spread in difficulty
    assert answer_order(diffs[:10], rising[:10], ["count"] * 10) == {}  # too few to say


def test_synthetic_difficulty_orders_counts_and_rl_warns(tmp_path, caplog):
    """The generator scores crowded rooms as hard, so a window curriculum would feed small counts first."""
    import datasets

    from m2sdk.data.synth import SynthConfig, synthesize
    from m2train.rl import warn_answer_order

    config = SynthConfig(tmp_path, n=60, seed=7, width=112, height=84, objects=(3, 8), tasks=("object_count",))
    records = synthesize(config)
    table = datasets.Dataset.from_dict({"task": [r.task for r in records], "answer": [str(r.answer) for r in records]})
    with caplog.at_level("WARNING", logger="m2train.rl"):
        ordered = warn_answer_order(table, [r.difficulty for r in records])
    assert ordered["object_count"] >= 0.5
    assert "object_count" in caplog.text and "curriculum.kind: none" in caplog.text
    caplog.clear()
    shuffled = list(np.random.default_rng(0).permutation([r.difficulty for r in records]))
    with caplog.at_level("WARNING", logger="m2train.rl"):
        assert warn_answer_order(table, shuffled) == {}
    assert caplog.text == ""
