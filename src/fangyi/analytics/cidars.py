"""The temporal models of China's Infectious Disease Automated-alert and Response System
(CIDARS; Yang W et al., WPSAR 2011;2(1):10-5; Zhang H et al., 中华预防医学杂志
2014;48(4):265-9): the fixed-threshold (single case) model and the moving percentile model."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from fangyi.analytics._series import as_rows, like_input

Interpolation = Literal["linear", "lower", "higher", "nearest", "midpoint"]


@dataclass(frozen=True)
class ThresholdResult:
    """Per day: the count compared (the day's count, or the 7-day count for the moving
    percentile), the threshold (NaN where no baseline is available) and the alarm."""

    count: np.ndarray
    threshold: np.ndarray
    alarm: np.ndarray


def fixed_threshold(counts: ArrayLike, threshold: float = 1) -> ThresholdResult:
    """Alarm when count ≥ threshold: CIDARS signals a single case of plague, cholera, SARS,
    polio, human highly pathogenic avian influenza, pulmonary anthrax or pneumonia of
    unknown cause (threshold 1). Accepts a series (1-D) or many (2-D, one per row)."""
    rows, one_dimensional = as_rows(counts)
    limit = np.full(rows.shape, float(threshold))
    return ThresholdResult(
        count=like_input(rows, one_dimensional),
        threshold=like_input(limit, one_dimensional),
        alarm=like_input(rows >= limit, one_dimensional),
    )


def moving_percentile(
    daily_counts: ArrayLike,
    dates: Sequence[date] | np.ndarray,
    percentile: float = 80,
    years: int = 3,
    periods_around: int = 2,
    window_days: int = 7,
    interpolation: Interpolation = "linear",
) -> ThresholdResult:
    """CIDARS moving percentile model on daily counts (1-D, or 2-D with one series per row)
    over consecutive `dates`.

    For day t the current count is the sum over the last `window_days` days (t - 6 .. t).
    Its baseline is the count over the same period in each of the previous `years` years
    (the window ending on the same calendar date, 28 February for 29 February) and over
    the `periods_around` adjacent periods before and after it: with the defaults
    3 × 5 = 15 seven-day counts. The threshold is their `percentile`-th percentile (NumPy
    `percentile` with `interpolation`, "linear" being R's and Excel's default), P80 or
    P90 depending on the disease (chosen by the caller). Alarm when the current count
    *exceeds* the threshold (>), as CIDARS signals counts above the percentile; a day whose
    baseline reaches before the first date has a NaN threshold and no alarm.
    """
    rows, one_dimensional = as_rows(daily_counts)
    days = np.asarray(dates, dtype="datetime64[D]")
    if days.shape != (rows.shape[1],):
        raise ValueError("dates must give one date per column of daily_counts")
    if np.any(np.diff(days) != np.timedelta64(1, "D")):
        raise ValueError("dates must be consecutive days")

    cumulative = np.concatenate([np.zeros((len(rows), 1)), np.cumsum(rows, axis=1)], axis=1)
    ends = np.arange(rows.shape[1])
    window_count = np.full(rows.shape, np.nan)  # count over the window ending on each day
    full = ends >= window_days - 1
    window_count[:, full] = (
        cumulative[:, ends[full] + 1] - cumulative[:, ends[full] + 1 - window_days]
    )

    baseline_ends = _baseline_ends(days, years, periods_around, window_days)  # (days, values)
    available = np.all(baseline_ends >= window_days - 1, axis=1)
    threshold = np.full(rows.shape, np.nan)
    if available.any():
        baseline = window_count[:, baseline_ends[available]]  # (series, days, values)
        threshold[:, available] = np.percentile(baseline, percentile, axis=2, method=interpolation)
    return ThresholdResult(
        count=like_input(window_count, one_dimensional),
        threshold=like_input(threshold, one_dimensional),
        alarm=like_input(window_count > threshold, one_dimensional),
    )


def _baseline_ends(
    days: np.ndarray, years: int, periods_around: int, window_days: int
) -> np.ndarray:
    """Column index of the last day of every baseline window of every day (negative when it
    falls before the series)."""
    shifts = window_days * np.arange(-periods_around, periods_around + 1)
    ends = []
    for year in range(1, years + 1):
        same_date = np.array([_years_earlier(day, year) for day in days.astype(date)])
        lag = (days - same_date.astype("datetime64[D]")).astype(int)
        ends.append(np.arange(len(days))[:, None] - lag[:, None] + shifts[None, :])
    return np.concatenate(ends, axis=1)


def _years_earlier(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a year without one
        return day.replace(year=day.year - years, day=28)
