"""Positivity rates, pooled testing and doubling time."""

import numpy as np
import pytest

from fangyi.analytics import (
    dorfman_expected_tests,
    doubling_time,
    optimal_pool_size,
    positivity_rate,
)


@pytest.mark.parametrize(
    ("p", "k", "expected_tests"),
    [(0.001, 32, 0.0628), (0.01, 11, 0.19557), (0.05, 5, 0.4262), (0.1, 4, 0.5939)],
)
def test_optimal_pool_size(p, k, expected_tests):
    best = optimal_pool_size(p)
    assert best.k == k
    assert best.expected_tests == pytest.approx(expected_tests, abs=5e-5)


def test_pools_of_ten():
    np.testing.assert_allclose(
        dorfman_expected_tests(10, [0.001, 0.01]), [0.1100, 0.19562], atol=5e-5
    )


def test_pooling_never_helps_above_about_thirty_percent():
    assert optimal_pool_size(0.3066).k == 3
    assert optimal_pool_size(0.3067).k == 1
    assert optimal_pool_size(0.5).expected_tests == 1


def test_wilson_interval():
    # R: prop.test(5, 100, correct = FALSE)$conf.int
    result = positivity_rate(5, 100)
    assert result.rate == 0.05
    assert (result.lower, result.upper) == pytest.approx((0.02154368, 0.11175047), abs=1e-8)


def test_positivity_rate_over_arrays_and_nothing_tested():
    result = positivity_rate([0, 10, 3], [0, 10, 12])
    assert np.isnan(result.rate[0])
    assert result.rate[1] == 1
    assert result.upper[1] == pytest.approx(1)
    assert result.lower[2] < 0.25 < result.upper[2]


def test_doubling_time_of_exact_doubling():
    result = doubling_time(10 * 2 ** (np.arange(7) / 3))
    assert result.days == pytest.approx(3, rel=1e-6)
    assert result.lower <= result.days <= result.upper


def test_doubling_time_of_a_falling_curve_is_infinite():
    result = doubling_time([20, 16, 13, 10, 8, 6, 5])
    assert result.growth_rate < 0
    assert result.days == np.inf
    assert result.upper == np.inf


def test_doubling_time_copes_with_zero_counts():
    result = doubling_time([0, 0, 1, 0, 2, 3, 6])
    assert result.growth_rate > 0
    assert np.isfinite(result.days)
