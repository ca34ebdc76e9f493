"""EARS C1, C2 and C3 (Hutwagner et al., J Urban Health 2003;80(Suppl 1):i89-96; Fricker et
al., Stat Med 2008;27:3407-29), as R `surveillance::earsC`."""

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import ArrayLike
from scipy.stats import norm

from fangyi.analytics._series import as_rows, like_input

GUARD_DAYS = {"C1": 0, "C2": 2, "C3": 2}
DEFAULT_ALPHA = {"C1": 0.001, "C2": 0.001, "C3": 0.025}


@dataclass(frozen=True)
class EarsResult:
    """Per time point: the upper bound, the statistic (C1/C2: standardised count; C3: the
    C3 sum) and the alarm; NaN / False inside the baseline."""

    upper: np.ndarray
    statistic: np.ndarray
    alarm: np.ndarray


def ears(
    counts: ArrayLike,
    method: Literal["C1", "C2", "C3"] = "C1",
    baseline: int = 7,
    alpha: float | None = None,
    min_sigma: float = 0.0,
) -> EarsResult:
    """EARS aberration detection on a series (1-D) or on many series (2-D, one per row).

    With the baseline mean m(t) and sample standard deviation s(t) (n - 1 denominator) of
    the `baseline` counts before day t (C1: t-b..t-1; C2 and C3 leave a guard band of two
    days: t-b-2..t-3), σ(t) = max(s(t), min_sigma) and z = Φ⁻¹(1 - alpha):

    - C1, C2: statistic C(t) = (y(t) - m(t)) / σ(t), upper bound U(t) = m(t) + z σ(t), alarm
      when y(t) > U(t) (R `earsC`). A count equal to a constant baseline scores 0.
    - C3: C3(t) = Σ_{i=t-2..t} max(0, C2(i) - 1), alarm when C3(t) ≥ z. U(t) is the
      count that makes C3(t) reach z given the two previous days,
      m(t) + σ(t) (1 + z - L1 - L2) with L_j = max(0, C2(t-j) - 1), or 0 when L1 + L2
      already reach z. R's `earsC` differs: its bound y(t) + σ(t) (z - L1 - L2) leaves out
      the current day's own term, a known defect that is not reproduced here.

    `alpha` defaults to R's: 0.001 for C1 and C2, 0.025 for C3.
    """
    if baseline < 3:
        raise ValueError("the baseline needs at least 3 days")
    if min_sigma < 0:
        raise ValueError("min_sigma must not be negative")
    z = norm.isf(DEFAULT_ALPHA[method] if alpha is None else alpha)
    rows, one_dimensional = as_rows(counts)
    mean, sigma = _baseline_moments(rows, baseline, GUARD_DAYS[method], min_sigma)
    standardised = _standardise(rows, mean, sigma)

    if method == "C3":
        excess = np.maximum(0.0, standardised - 1.0)
        previous_two = _lag(excess, 1) + _lag(excess, 2)
        statistic = previous_two + excess
        # σ = 0 with an infinite C2 the day before gives 0·∞, which `where` discards.
        with np.errstate(invalid="ignore"):
            upper = np.where(z > previous_two, mean + sigma * (1.0 + z - previous_two), 0.0)
        upper[np.isnan(previous_two)] = np.nan
        alarm = statistic >= z
    else:
        statistic = standardised
        upper = mean + z * sigma
        alarm = rows > upper
    return EarsResult(
        upper=like_input(upper, one_dimensional),
        statistic=like_input(statistic, one_dimensional),
        alarm=like_input(alarm, one_dimensional),
    )


def _baseline_moments(
    rows: np.ndarray, baseline: int, guard: int, min_sigma: float
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and floored standard deviation of each day's baseline, NaN where it is short."""
    first = baseline + guard  # first day with a full baseline
    usable = rows.shape[1] - first
    mean = np.full(rows.shape, np.nan)
    sigma = np.full(rows.shape, np.nan)
    if usable > 0:
        windows = sliding_window_view(rows, baseline, axis=1)
        mean[:, first:] = windows[:, :usable].mean(axis=2)
        sigma[:, first:] = np.maximum(windows[:, :usable].std(axis=2, ddof=1), min_sigma)
    return mean, sigma


def _standardise(rows: np.ndarray, mean: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    excess = rows - mean
    with np.errstate(divide="ignore", invalid="ignore"):
        standardised = excess / sigma
    # A flat baseline (σ = 0) gives ±inf for any departure; no departure is no signal.
    standardised[excess == 0] = 0.0
    return standardised


def _lag(rows: np.ndarray, days: int) -> np.ndarray:
    lagged = np.full(rows.shape, np.nan)
    lagged[:, days:] = rows[:, :-days]
    return lagged
