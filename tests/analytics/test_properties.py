"""Properties of the detectors on generated series (derandomised: the same examples on
every run)."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from fangyi.analytics import (
    cusum,
    dorfman_expected_tests,
    ears,
    estimate_rt,
    farrington_flexible,
    fixed_threshold,
    moving_percentile,
    optimal_pool_size,
    positivity_rate,
)

EXAMPLES = settings(derandomize=True, database=None, deadline=None, max_examples=40)
FIRST_MONITORED = {"C1": 7, "C2": 9, "C3": 11}  # with the default 7-day baseline

counts_1d = arrays(np.int64, st.integers(12, 40), elements=st.integers(0, 30))
counts_2d = arrays(
    np.int64,
    st.tuples(st.integers(1, 4), st.integers(12, 40)),
    elements=st.integers(0, 30),
)
methods = st.sampled_from(["C1", "C2", "C3"])
alphas = st.tuples(st.floats(0.001, 0.2), st.floats(0.001, 0.2)).map(sorted)


@EXAMPLES
@given(counts_1d, methods, alphas)
def test_ears_shapes_gaps_and_smaller_alpha_higher_bound(counts, method, alpha_pair):
    strict, loose = (ears(counts, method, alpha=alpha) for alpha in alpha_pair)
    assert strict.upper.shape == strict.statistic.shape == strict.alarm.shape == counts.shape
    first = FIRST_MONITORED[method]
    assert np.all(np.isnan(strict.upper[:first]))
    assert not np.isnan(strict.upper[first:]).any()
    assert not np.isnan(strict.statistic[first:]).any()
    assert np.all(strict.upper[first:] >= loose.upper[first:])


@EXAMPLES
@given(counts_2d, methods)
def test_ears_many_series_equal_one_by_one(counts, method):
    together = ears(counts, method, min_sigma=0.5)
    for row, series in enumerate(counts):
        alone = ears(series, method, min_sigma=0.5)
        np.testing.assert_array_equal(together.upper[row], alone.upper)
        np.testing.assert_array_equal(together.alarm[row], alone.alarm)


# Monthly-like series keep the GLM fits few: 3 years back, windows of ±1.
FARRINGTON = dict(freq=12, b=3, w=1)
farrington_series = arrays(np.int64, st.integers(38, 42), elements=st.integers(1, 15))


@settings(EXAMPLES, max_examples=25)
@given(farrington_series, st.sampled_from(["delta", "nbPlugin", "muan"]), alphas)
def test_farrington_bounds_where_r_has_them_and_smaller_alpha_higher(counts, method, alpha_pair):
    strict, loose = (
        farrington_flexible(counts, threshold_method=method, alpha=alpha, **FARRINGTON)
        for alpha in alpha_pair
    )
    assert strict.upper.shape == strict.expected.shape == strict.alarm.shape == counts.shape
    monitored = np.arange(37, len(counts))
    assert np.all(np.isnan(strict.upper[:37]))
    enough_cases = np.array([counts[t - 3 : t + 1].sum() >= 5 for t in monitored])
    assert np.isfinite(strict.upper[monitored[enough_cases]]).all()
    assert np.isnan(strict.upper[monitored[~enough_cases]]).all()
    assert np.all(strict.upper[monitored] >= loose.upper[monitored] - 1e-12, where=enough_cases)


@settings(EXAMPLES, max_examples=10)
@given(arrays(np.int64, st.tuples(st.integers(2, 3), st.just(40)), elements=st.integers(1, 15)))
def test_farrington_many_series_equal_one_by_one(counts):
    together = farrington_flexible(counts, **FARRINGTON)
    for row, series in enumerate(counts):
        alone = farrington_flexible(series, **FARRINGTON)
        np.testing.assert_array_equal(together.upper[row], alone.upper)


@EXAMPLES
@given(counts_2d, st.sampled_from(["standard", "rossi", "anscombe"]))
def test_cusum_many_series_and_alarm_rule(counts, transform):
    together = cusum(counts, 5.0, transform=transform)
    assert together.statistic.shape == counts.shape
    assert np.all(together.statistic >= 0)
    assert np.array_equal(together.alarm, together.statistic >= 2.26)
    for row, series in enumerate(counts):
        np.testing.assert_array_equal(
            together.statistic[row], cusum(series, 5.0, transform=transform).statistic
        )


DAYS = np.arange(np.datetime64("2019-01-01"), np.datetime64("2022-02-15"))
daily_counts = arrays(np.int64, (2, len(DAYS)), elements=st.integers(0, 5))


@settings(EXAMPLES, max_examples=15)
@given(daily_counts, st.tuples(st.floats(50, 99), st.floats(50, 99)).map(sorted))
def test_moving_percentile_higher_percentile_higher_threshold(counts, percentiles):
    low, high = (moving_percentile(counts, DAYS, percentile=p) for p in percentiles)
    assert low.threshold.shape == counts.shape
    assert np.all(high.threshold >= low.threshold, where=~np.isnan(low.threshold))
    np.testing.assert_array_equal(
        low.threshold[1], moving_percentile(counts[1], DAYS, percentile=percentiles[0]).threshold
    )


@EXAMPLES
@given(counts_2d, st.integers(1, 10))
def test_fixed_threshold_shape(counts, threshold):
    result = fixed_threshold(counts, threshold)
    assert result.alarm.shape == counts.shape
    assert np.array_equal(result.alarm, counts >= threshold)


@EXAMPLES
@given(st.integers(0, 500), st.integers(0, 500))
def test_wilson_interval_holds_the_rate(positives, extra):
    result = positivity_rate(positives, positives + extra)
    if positives + extra:
        assert 0 <= result.lower <= result.rate <= result.upper <= 1


@EXAMPLES
@given(st.floats(1e-4, 0.9))
def test_optimal_pool_is_optimal(p):
    best = optimal_pool_size(p)
    assert best.expected_tests <= dorfman_expected_tests(np.arange(1, 101), p).min() + 1e-15
    assert (best.k == 1) == (p > 1 - 3 ** (-1 / 3))


@EXAMPLES
@given(arrays(np.int64, st.integers(10, 40), elements=st.integers(0, 50)))
def test_rt_quantiles_are_ordered(incidence):
    result = estimate_rt(incidence, si_mean=2.6, si_sd=1.5)
    assert len(result.mean) == len(incidence) - 7
    valid = ~np.isnan(result.mean)
    assert np.all(result.q025[valid] <= result.median[valid])
    assert np.all(result.median[valid] <= result.q975[valid])
