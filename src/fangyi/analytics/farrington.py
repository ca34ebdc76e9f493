"""Improved Farrington algorithm (Farrington et al., JRSS A 1996;159:547-63; Noufaily et al.,
Stat Med 2013;32:1206-22), as R `surveillance::farringtonFlexible` for series indexed by
week number (`epochAsDate = FALSE`)."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import nbinom, norm, poisson

from fangyi.analytics._glm import QuasiPoissonFit, fit_quasipoisson
from fangyi.analytics._series import as_rows, like_input

PowerTransform = Literal["2/3", "1/2", "none"]
ThresholdMethod = Literal["delta", "nbPlugin", "muan"]
EXPONENTS = {"none": 1.0, "1/2": 1 / 2, "2/3": 2 / 3}
TREND_COLUMN = 0  # the trend comes first in the design matrix


@dataclass(frozen=True)
class FarringtonResult:
    """Per time point: expected count, upper threshold and alarm; NaN / False outside the
    monitored range and where fewer than limit54 cases were reported."""

    expected: np.ndarray
    upper: np.ndarray
    alarm: np.ndarray


@dataclass(frozen=True)
class Threshold:
    lower: float
    upper: float
    prob: float  # P(Y ≥ y) under the predictive distribution
    score: float  # exceedance score (y - fit) / (upper - fit); an alarm needs score > 1


def farrington_threshold(
    fit: float,
    se_fit: float,
    phi: float,
    y: float,
    alpha: float = 0.05,
    method: ThresholdMethod = "delta",
    powertrans: PowerTransform = "2/3",
) -> Threshold:
    """Prediction interval for the current count, as R's `algo.farrington.threshold.*`.

    - "delta" (Farrington 1996): `fit` = μ0 and `se_fit` its standard error on the count
      scale. With exponent e of the power transformation, τ = φ + se_fit² / μ0 and
      sd(Y^e - μ0^e) = sqrt(τ μ0) for e = 1, sqrt(τ / 4) for e = 1/2,
      sqrt(4/9 μ0^(1/3) τ) for e = 2/3; bounds (μ0^e ∓ z_(1-α) sd)^(1/e) (lower end 0
      when the transformed bound is negative) and prob = P(N(μ0^e, sd) ≥ y^e).
    - "nbPlugin" and "muan" (Noufaily 2013): `fit` = η0 and `se_fit` its standard error on
      the log scale. The mean is μ = exp(η0) (nbPlugin) or exp(η0 + z_(1-α) se_fit)
      (muan, the upper (1-α) quantile of μ); bounds are the α and 1-α quantiles of a
      negative binomial with mean μ and variance φ μ (Poisson if φ = 1), prob = P(Y ≥ y).

    The score divides by the distance between the upper bound and `fit` on the scale `fit`
    is given on, as R does (so for nbPlugin and muan it mixes counts and logs).
    """
    z = norm.isf(alpha)
    if method == "delta":
        exponent = EXPONENTS[powertrans]
        tau = phi + se_fit**2 / fit
        spread = {"none": fit * tau, "1/2": tau / 4, "2/3": 4 / 9 * fit ** (1 / 3) * tau}
        sd = np.sqrt(spread[powertrans])
        centre = fit**exponent
        lower = max(0.0, centre - z * sd) ** (1 / exponent)
        upper = (centre + z * sd) ** (1 / exponent)
        prob = norm.sf(y**exponent, loc=centre, scale=sd)
    else:
        mu = np.exp(fit if method == "nbPlugin" else fit + z * se_fit)
        if not np.isfinite(mu):
            return Threshold(np.nan, np.nan, np.nan, np.nan)
        # Negative binomial with mean μ and variance φ μ; Poisson when φ = 1.
        distribution = nbinom(mu / (phi - 1), 1 / phi) if phi > 1 else poisson(mu)
        lower = max(0.0, distribution.ppf(alpha))
        upper = distribution.ppf(1 - alpha)
        prob = distribution.sf(y - 1)
    return Threshold(
        lower=float(lower),
        upper=float(upper),
        prob=float(prob),
        score=float((y - fit) / (upper - fit)),
    )


def farrington_flexible(
    counts: ArrayLike,
    freq: int = 52,
    b: int = 5,
    w: int = 3,
    reweight: bool = True,
    weights_threshold: float = 2.58,
    trend: bool = True,
    p_threshold_trend: float = 0.05,
    alpha: float = 0.05,
    limit54: tuple[int, int] = (5, 4),
    powertrans: PowerTransform = "2/3",
    no_periods: int = 1,
    past_weeks_not_included: int | None = None,
    threshold_method: ThresholdMethod = "delta",
    population: ArrayLike | None = None,
    range: Sequence[int] | None = None,
) -> FarringtonResult:
    """Farrington flexible on one series (1-D) or many (2-D, one per row; fitted one by one).

    For each monitored week t (0-based positions in `range`; default every week from
    b·freq + w on, as R) a quasi-Poisson GLM log μ = α [+ β t] [+ period factor]
    [+ log population] is fitted to the weeks t - j·freq - w .. t - j·freq + w for
    j = 1..b (reference weeks t - j·freq, as R's non-date series) plus the current window
    t - w .. t; the `past_weeks_not_included` latest weeks (default w, as R) are left out.
    With `no_periods` p > 1 the weeks between consecutive windows are split into p - 1
    blocks of (nearly) equal length and the windows form period p: a factor in the model.

    - Trend: kept only if its t-test p-value < `p_threshold_trend`, b ≥ 3 and the predicted
      count does not exceed the largest count in the fitting data; otherwise refitted
      without it.
    - Reweighting: Anscombe residuals s_i = 3/2 (y^(2/3) μ^(-1/6) - μ^(1/2)) /
      sqrt(φ (1 - h_ii)) of the unweighted fit; weights γ s_i⁻² where s_i >
      `weights_threshold` and γ elsewhere, γ normalising them to sum to n; then refit.
    - φ = max(1, Pearson χ² / (n - k)) of the final fit, used in the thresholds. As R, the
      standard error of the prediction and the trend test use another, unfloored
      dispersion: Pearson χ² / (n - k) without reweighting, Σ ω ((y - μ) / μ)² / (n - k)
      with it (see `_fit`).
    - Upper bound, expected count and alarm from `farrington_threshold`; alarm when the
      score > 1 and the count is not 0, and only when at least limit54[0] cases were
      reported in the last limit54[1] weeks (the current week included); otherwise the
      upper bound and expected count are NaN.
    """
    if past_weeks_not_included is None:
        past_weeks_not_included = w
    settings = _Settings(
        freq=freq,
        b=b,
        w=w,
        reweight=reweight,
        weights_threshold=weights_threshold,
        trend=trend,
        p_threshold_trend=p_threshold_trend,
        alpha=alpha,
        limit54=limit54,
        powertrans=powertrans,
        no_periods=no_periods,
        past_weeks_not_included=past_weeks_not_included,
        threshold_method=threshold_method,
    )
    rows, one_dimensional = as_rows(counts)
    points = np.arange(b * freq + w, rows.shape[1]) if range is None else np.asarray(range)
    if points.size and points.min() < b * freq + w:
        raise ValueError("the oldest reference window starts before the series: decrease b")
    populations = (
        np.broadcast_to(np.asarray(population, dtype=float), rows.shape)
        if population is not None
        else [None] * len(rows)
    )
    results = [
        _monitor(series, series_population, points, settings)
        for series, series_population in zip(rows, populations, strict=True)
    ]
    expected, upper, alarm = (
        like_input(np.stack(column), one_dimensional) for column in zip(*results, strict=True)
    )
    return FarringtonResult(expected=expected, upper=upper, alarm=alarm)


@dataclass(frozen=True)
class _Settings:
    freq: int
    b: int
    w: int
    reweight: bool
    weights_threshold: float
    trend: bool
    p_threshold_trend: float
    alpha: float
    limit54: tuple[int, int]
    powertrans: PowerTransform
    no_periods: int
    past_weeks_not_included: int
    threshold_method: ThresholdMethod


def _monitor(
    series: np.ndarray, population: np.ndarray | None, points: np.ndarray, s: _Settings
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    expected = np.full(series.shape, np.nan)
    upper = np.full(series.shape, np.nan)
    alarm = np.zeros(series.shape, dtype=bool)
    for t in points:
        recent_cases, recent_weeks = s.limit54
        if not np.sum(series[t - recent_weeks + 1 : t + 1]) >= recent_cases:
            continue
        prediction = _predict(series, population, t, s)
        if prediction is None:
            continue
        fit, se_fit, phi = prediction
        threshold = farrington_threshold(
            fit, se_fit, phi, series[t], s.alpha, s.threshold_method, s.powertrans
        )
        if np.isnan(threshold.upper):
            continue
        upper[t] = threshold.upper
        expected[t] = fit if s.threshold_method == "delta" else np.exp(fit)
        alarm[t] = threshold.score > 1 and series[t] != 0
    return expected, upper, alarm


def _predict(
    series: np.ndarray, population: np.ndarray | None, t: int, s: _Settings
) -> tuple[float, float, float] | None:
    """Prediction for week t and its standard error (on the count scale for "delta", the
    log scale otherwise) and the floored dispersion φ; None if no model converges."""
    periods = _periods(t, s)
    used = np.flatnonzero(~np.isnan(periods) & ~np.isnan(series[: t + 1]))
    data = _Data(
        y=series[used],
        week=used.astype(float),
        period=periods[used],
        log_population=None if population is None else np.log(population[used]),
    )
    log_population_now = 0.0 if population is None else float(np.log(population[t]))

    model = _fit(data, t, s, with_trend=True) if s.trend else None
    if model is not None:
        eta, _ = model.fit.predict_link(model.x_new, log_population_now, model.se_dispersion)
        # Farrington's three conditions for keeping a trend.
        keep = (
            s.b >= 3
            and model.fit.p_value(TREND_COLUMN, model.se_dispersion) < s.p_threshold_trend
            and np.exp(eta) <= data.y.max()
        )
        model = model if keep else None
    if model is None:
        model = _fit(data, t, s, with_trend=False)
    if model is None:
        return None
    eta, se_eta = model.fit.predict_link(model.x_new, log_population_now, model.se_dispersion)
    if s.threshold_method == "delta":
        mu = np.exp(eta)
        return mu, se_eta * mu, model.phi
    return eta, se_eta, model.phi


@dataclass(frozen=True)
class _Data:
    y: np.ndarray
    week: np.ndarray
    period: np.ndarray
    log_population: np.ndarray | None


@dataclass(frozen=True)
class _Model:
    fit: QuasiPoissonFit
    phi: float  # dispersion floored at 1, for the thresholds
    se_dispersion: float  # R's dispersion for standard errors and the trend test
    x_new: np.ndarray  # design row of the current week


def _fit(data: _Data, t: int, s: _Settings, with_trend: bool) -> _Model | None:
    levels = np.unique(data.period)
    if s.no_periods not in levels:
        return None
    # One indicator per period present instead of intercept + contrasts: the same model.
    x = (data.period[:, None] == levels[None, :]).astype(float)
    x_new = (levels == s.no_periods).astype(float)
    if with_trend:
        x = np.column_stack([data.week, x])
        x_new = np.concatenate([[t], x_new])
    fit = fit_quasipoisson(x, data.y, offset=data.log_population)
    if fit is None:
        return None
    if not s.reweight:
        return _Model(fit, max(fit.dispersion, 1.0), fit.dispersion, x_new)
    weights = _anscombe_weights(data.y, fit, max(fit.dispersion, 1.0), s.weights_threshold)
    fit = fit_quasipoisson(x, data.y, weights, data.log_population)
    if fit is None:
        return None
    # R stores the prior weights ω in the model's `weights` slot, where `summary.glm` expects
    # the working weights ω μ, so the dispersion behind R's standard errors and trend test
    # is Σ ω ((y - μ) / μ)² / (n - k), not floored at 1. Reproduced to match R.
    se_dispersion = np.sum(weights * ((data.y - fit.fitted) / fit.fitted) ** 2) / fit.df_residual
    return _Model(fit, max(fit.dispersion, 1.0), float(se_dispersion), x_new)


def _anscombe_weights(
    y: np.ndarray, fit: QuasiPoissonFit, phi: float, threshold: float
) -> np.ndarray:
    mu = fit.fitted
    residuals = 1.5 * (y ** (2 / 3) * mu ** (-1 / 6) - mu**0.5) / np.sqrt(phi * (1 - fit.hat))
    # Weight s⁻² where the residual exceeds the threshold, 1 elsewhere, then normalise.
    high = residuals > threshold
    inverse_square = np.ones_like(residuals)
    inverse_square[high] = residuals[high] ** -2.0
    return inverse_square * len(y) / inverse_square.sum()


def _periods(t: int, s: _Settings) -> np.ndarray:
    """Period of each week 0..t in the model (NaN: not used): `no_periods` for the current
    and reference windows, 1..no_periods - 1 for the blocks between them."""
    p, w = s.no_periods, s.w
    periods = np.full(t + 1, np.nan)
    periods[t - w : t + 1] = p
    references = t - s.freq * np.arange(s.b + 1)
    for later, reference in zip(references[:-1], references[1:], strict=True):
        periods[reference - w : reference + w + 1] = p
        if p > 1:
            gap_start, gap_end = reference + w + 1, later - w
            if gap_end - gap_start < p - 1:
                raise ValueError("no_periods is too large for the gap between windows")
            lengths = np.full(p - 1, (gap_end - gap_start) // (p - 1))
            lengths[: (gap_end - gap_start) % (p - 1)] += 1  # the first blocks take the rest
            periods[gap_start:gap_end] = np.repeat(np.arange(1, p), lengths)
    periods[max(0, t - s.past_weeks_not_included) :] = np.nan
    return periods
