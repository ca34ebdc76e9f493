"""CUSUM charts for counts: the standardised CUSUM of R `surveillance::algo.cusum` (Rossi et
al., Stat Med 1999;18:2111-22) and the Poisson likelihood-ratio / GLR CUSUM of R
`surveillance::algo.glrpois` (Höhle & Paul, CSDA 2008;52:4357-68)."""

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from fangyi.analytics._series import as_rows, like_input

Transform = Literal["standard", "rossi", "anscombe"]


@dataclass(frozen=True)
class CusumResult:
    """Per time point: the CUSUM statistic, the smallest count that would raise an alarm
    and the alarm."""

    statistic: np.ndarray
    upper: np.ndarray
    alarm: np.ndarray


@dataclass(frozen=True)
class GlrResult:
    """Per time point: the (G)LR statistic, restarting at 0 after each alarm, and the alarm."""

    statistic: np.ndarray
    alarm: np.ndarray


def cusum(
    counts: ArrayLike,
    m: ArrayLike,
    k: float = 1.04,
    h: float = 2.26,
    transform: Transform = "standard",
) -> CusumResult:
    """One-sided CUSUM of standardised counts, as R `algo.cusum` (which does not restart
    after an alarm), on a series (1-D) or many (2-D, one per row).

    With in-control mean m (scalar, or broadcastable to `counts`: per series or per time
    point), the count x(t) is standardised to z(t):

    - "standard": (x - m) / √m
    - "rossi": (x - 3m + 2√(x m)) / (2√m) (Rossi et al. 1999)
    - "anscombe": 3/2 (x^(2/3) - m^(2/3)) / m^(1/6)

    S(t) = max(0, S(t-1) + z(t) - k), S(0) = 0; alarm when S(t) ≥ h. The upper bound is
    the count x that brings S(t) to h, i.e. z(x) = h + k - S(t-1), floored at 0 (and
    rounded up for "standard", as R).
    """
    rows, one_dimensional = as_rows(counts)
    mean = np.broadcast_to(np.asarray(m, dtype=float), rows.shape)
    standardised = _standardise(rows, mean, transform)

    statistic = np.empty(rows.shape)
    previous = np.zeros(rows.shape)  # S(t-1)
    running = np.zeros(rows.shape[0])
    for t in range(rows.shape[1]):
        previous[:, t] = running
        running = np.maximum(0.0, running + standardised[:, t] - k)
        statistic[:, t] = running

    upper = np.maximum(0.0, _count_reaching(h + k - previous, mean, transform))
    return CusumResult(
        statistic=like_input(statistic, one_dimensional),
        upper=like_input(upper, one_dimensional),
        alarm=like_input(statistic >= h, one_dimensional),
    )


def _standardise(x: np.ndarray, m: np.ndarray, transform: Transform) -> np.ndarray:
    if transform == "standard":
        return (x - m) / np.sqrt(m)
    if transform == "rossi":
        return (x - 3 * m + 2 * np.sqrt(x * m)) / (2 * np.sqrt(m))
    if transform == "anscombe":
        return 1.5 * (x ** (2 / 3) - m ** (2 / 3)) / m ** (1 / 6)
    raise ValueError(f"unknown transform {transform!r}")


def _count_reaching(target: np.ndarray, m: np.ndarray, transform: Transform) -> np.ndarray:
    """The count x whose standardised value is `target` (the inverse of `_standardise`);
    0 where no count is small enough to stay below it."""
    if transform == "standard":
        return np.ceil(m + np.sqrt(m) * target)
    if transform == "rossi":
        # Solve u² + 2√m u - (3m + 2√m target) = 0 for u = √x ≥ 0.
        root = -np.sqrt(m) + np.sqrt(np.maximum(0.0, 4 * m + 2 * np.sqrt(m) * target))
        return np.maximum(0.0, root) ** 2
    base = m ** (2 / 3) + 2 / 3 * m ** (1 / 6) * target
    return np.maximum(0.0, base) ** 1.5


def glr_poisson(
    counts: ArrayLike,
    mu0: ArrayLike,
    theta: float | None = None,
    c_arl: float = 5.0,
) -> GlrResult:
    """Poisson CUSUM for a change in the mean from μ0(t) to μ0(t)·e^κ, as R `algo.glrpois`
    (`change = "intercept"`, `ret = "value"`), restarting after each alarm.

    - `theta` given (κ = theta, e.g. log 2 to detect a doubling): the likelihood-ratio
      CUSUM S(t) = max(0, S(t-1) + κ x(t) + (1 - e^κ) μ0(t)), alarm when S(t) > c_arl.
    - `theta` None: the generalised likelihood ratio
      GLR(n) = max_{1≤k≤n} [κ̂ X + (1 - e^κ̂) M], X = Σ_{t=k..n} x(t),
      M = Σ_{t=k..n} μ0(t), κ̂ = max(0, log(X / M)) (increases only, R's default),
      alarm when GLR(n) ≥ c_arl.

    After an alarm at n the chart starts afresh at n + 1. Accepts a series (1-D) or many
    (2-D, one per row); μ0 is a scalar or broadcastable to `counts`.
    """
    rows, one_dimensional = as_rows(counts)
    mean = np.broadcast_to(np.asarray(mu0, dtype=float), rows.shape)
    statistic = np.zeros(rows.shape)
    alarm = np.zeros(rows.shape, dtype=bool)
    for series, series_mean, series_statistic, series_alarm in zip(
        rows, mean, statistic, alarm, strict=True
    ):
        start = 0  # first time point since the last restart
        for n in range(len(series)):
            if theta is None:
                value = _glr(series[start : n + 1], series_mean[start : n + 1])
                raised = value >= c_arl
            else:
                previous = series_statistic[n - 1] if n > start else 0.0
                increment = theta * series[n] + (1 - np.exp(theta)) * series_mean[n]
                value = max(0.0, previous + increment)
                raised = value > c_arl
            series_statistic[n] = value
            if raised:
                series_alarm[n] = True
                start = n + 1
    return GlrResult(
        statistic=like_input(statistic, one_dimensional),
        alarm=like_input(alarm, one_dimensional),
    )


def _glr(x: np.ndarray, mu0: np.ndarray) -> float:
    """max over change points k of the Poisson log-likelihood ratio of x[k:] (κ̂ fitted)."""
    observed = np.cumsum(x[::-1])
    expected = np.cumsum(mu0[::-1])
    with np.errstate(divide="ignore"):
        kappa = np.maximum(0.0, np.log(observed / expected))
    return float(np.max(kappa * observed + (1 - np.exp(kappa)) * expected))
