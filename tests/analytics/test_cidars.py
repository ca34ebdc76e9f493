"""CIDARS moving percentile and fixed threshold models."""

from datetime import date, timedelta

import numpy as np
import pytest

from fangyi.analytics import fixed_threshold, moving_percentile

DAYS = np.arange(np.datetime64("2020-01-01"), np.datetime64("2024-03-02"))
COUNTS = np.random.default_rng(7).poisson(2, (2, len(DAYS)))


def seven_day_count(series: np.ndarray, day: date) -> int:
    end = int((np.datetime64(day) - DAYS[0]).astype(int))
    return int(series[end - 6 : end + 1].sum())


def reference_baseline(series: np.ndarray, day: date) -> list[int]:
    """The 15 seven-day counts: the same period and the 2 before and 2 after it, in each of
    the 3 previous years."""
    values = []
    for years in (1, 2, 3):
        try:
            same_date = day.replace(year=day.year - years)
        except ValueError:
            same_date = day.replace(year=day.year - years, day=28)
        for weeks in (-2, -1, 0, 1, 2):
            values.append(seven_day_count(series, same_date + timedelta(weeks=weeks)))
    return values


@pytest.mark.parametrize("day", [date(2024, 3, 1), date(2024, 2, 29), date(2023, 1, 24)])
def test_threshold_is_the_percentile_of_fifteen_periods(day):
    result = moving_percentile(COUNTS, DAYS, percentile=80)
    column = int((np.datetime64(day) - DAYS[0]).astype(int))
    for row in range(2):
        baseline = reference_baseline(COUNTS[row], day)
        assert result.threshold[row, column] == np.percentile(baseline, 80)
        assert result.count[row, column] == seven_day_count(COUNTS[row], day)


def test_no_threshold_without_three_years_of_history():
    result = moving_percentile(COUNTS[0], DAYS)
    first = int(np.flatnonzero(~np.isnan(result.threshold))[0])
    # The earliest baseline window starts 3 years, 2 weeks and 6 days back: on 2020-01-01.
    assert DAYS[first] == np.datetime64("2023-01-21")
    assert not result.alarm[:first].any()


def test_alarm_only_when_the_count_exceeds_the_threshold():
    flat = np.ones(len(DAYS))
    flat[-1] = 2  # the last 7-day count is 8 against a flat baseline of 7
    result = moving_percentile(flat, DAYS, percentile=90)
    assert result.threshold[-2] == 7
    assert not result.alarm[-2]
    assert result.alarm[-1]


def test_many_series_equal_one_by_one():
    both = moving_percentile(COUNTS, DAYS, percentile=90, interpolation="higher")
    second = moving_percentile(COUNTS[1], DAYS, percentile=90, interpolation="higher")
    np.testing.assert_array_equal(both.threshold[1], second.threshold)


def test_rejects_gaps_in_the_dates():
    with pytest.raises(ValueError):
        moving_percentile(COUNTS[0][:-1], np.delete(DAYS, 10))


def test_single_case_alarm():
    result = fixed_threshold([[0, 1, 3], [0, 0, 0]])
    np.testing.assert_array_equal(result.alarm, [[False, True, True], [False, False, False]])
    assert not fixed_threshold([1, 2], threshold=3).alarm.any()
