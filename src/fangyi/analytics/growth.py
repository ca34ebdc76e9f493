"""Epidemic growth: the doubling time of daily incidence."""

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import t as student_t

from fangyi.analytics._glm import fit_quasipoisson


@dataclass(frozen=True)
class DoublingTime:
    """Growth rate r per day with its confidence interval, and the doubling time in days
    with the interval it maps to (inf where r ≤ 0: the counts are not growing)."""

    growth_rate: float
    growth_lower: float
    growth_upper: float
    days: float
    lower: float
    upper: float


def doubling_time(counts: ArrayLike, level: float = 0.95) -> DoublingTime:
    """Doubling time of daily counts over the window given (e.g. the last 7 or 14 days).

    The exponential growth rate r comes from the log-linear quasi-Poisson regression
    log E(y_t) = a + r t (which, unlike least squares on log y, copes with zero counts),
    with a `level` confidence interval r ± t_(n-2) se(r), se scaled by the Pearson
    dispersion floored at 1. Doubling time = ln 2 / r, and its interval is
    [ln 2 / r_upper, ln 2 / r_lower]; a rate ≤ 0 maps to inf (no doubling). See Vynnycky &
    White, An Introduction to Infectious Disease Modelling (2010), §4.2.
    """
    y = np.asarray(counts, dtype=float)
    if y.ndim != 1 or len(y) < 3:
        raise ValueError("need a 1-D series of at least 3 days")
    days = np.arange(len(y), dtype=float)
    fit = fit_quasipoisson(np.column_stack([days, np.ones_like(days)]), y)
    if fit is None:
        nan = float("nan")
        return DoublingTime(nan, nan, nan, nan, nan, nan)
    rate = float(fit.coefficients[0])
    se = np.sqrt(max(fit.dispersion, 1.0) * fit.cov_unscaled[0, 0])
    margin = float(student_t.isf((1 - level) / 2, fit.df_residual) * se)
    return DoublingTime(
        growth_rate=rate,
        growth_lower=rate - margin,
        growth_upper=rate + margin,
        days=_doubling_days(rate),
        lower=_doubling_days(rate + margin),
        upper=_doubling_days(rate - margin),
    )


def _doubling_days(rate: float) -> float:
    return float(np.log(2) / rate) if rate > 0 else float("inf")
