"""β(t): cosine from β_start to β_end over the run."""

from __future__ import annotations

import itertools
import math

import pytest

from m2train.kl import kl_beta


def test_endpoints_and_midpoint():
    assert kl_beta(0, 11, 0.01, 0.0) == pytest.approx(0.01)
    assert kl_beta(10, 11, 0.01, 0.0) == pytest.approx(0.0, abs=1e-15)
    assert kl_beta(5, 11, 0.01, 0.002) == pytest.approx((0.01 + 0.002) / 2)


def test_matches_the_formula_and_is_monotone():
    values = [kl_beta(t, 7, 0.02, 0.005) for t in range(7)]
    for t, value in enumerate(values):
        assert value == pytest.approx(0.005 + 0.015 * 0.5 * (1 + math.cos(math.pi * t / 6)))
    assert all(a > b for a, b in itertools.pairwise(values))


def test_increasing_schedule_and_clamping():
    assert kl_beta(0, 5, 0.01, 0.05) == pytest.approx(0.01)
    assert kl_beta(99, 5, 0.01, 0.05) == pytest.approx(0.05)  # past the end: stays at β_end


def test_constant_and_single_step():
    assert kl_beta(3, 10, 0.01, 0.0, schedule="constant") == 0.01
    assert kl_beta(0, 1, 0.01, 0.0) == 0.01
