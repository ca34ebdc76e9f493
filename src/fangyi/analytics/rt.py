"""The instantaneous reproduction number Rt (Cori et al., Am J Epidemiol 2013;178:1505-12),
as R `EpiEstim::estimate_R(method = "parametric_si")`."""

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import gamma


@dataclass(frozen=True)
class RtResult:
    """One row per time window; days are 1-based as in EpiEstim."""

    t_start: np.ndarray
    t_end: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    q025: np.ndarray
    median: np.ndarray
    q975: np.ndarray


def discretise_si(k: int | ArrayLike, mean: float, sd: float) -> np.ndarray:
    """Discretised serial interval w_k for k = 0..k (an int) or the given k, as
    `EpiEstim::discr_si` (Cori 2013, web appendix 11).

    The serial interval minus 1 is gamma distributed with shape a = ((mean - 1) / sd)² and
    scale s = sd² / (mean - 1); with F_a its CDF of shape a,
    w_k = k F_a(k) + (k - 2) F_a(k - 2) - 2 (k - 1) F_a(k - 1)
          + a s (2 F_{a+1}(k - 1) - F_{a+1}(k - 2) - F_{a+1}(k)), floored at 0.
    """
    if mean <= 1 or sd <= 0:
        raise ValueError("the serial interval needs mean > 1 and sd > 0")
    days = np.arange(k + 1) if np.ndim(k) == 0 else np.asarray(k, dtype=float)
    if np.any(days < 0):
        raise ValueError("k must not be negative")
    shape, scale = ((mean - 1) / sd) ** 2, sd**2 / (mean - 1)

    def cdf(x: np.ndarray, a: float) -> np.ndarray:
        return gamma.cdf(x, a, scale=scale)

    w = (
        days * cdf(days, shape)
        + (days - 2) * cdf(days - 2, shape)
        - 2 * (days - 1) * cdf(days - 1, shape)
        + shape
        * scale
        * (2 * cdf(days - 1, shape + 1) - cdf(days - 2, shape + 1) - cdf(days, shape + 1))
    )
    return np.maximum(0.0, w)


def estimate_rt(
    incidence: ArrayLike,
    si_mean: float,
    si_sd: float,
    window: int = 7,
    prior_shape: float = 1.0,
    prior_scale: float = 5.0,
    imported: ArrayLike | None = None,
    t_start: ArrayLike | None = None,
    t_end: ArrayLike | None = None,
) -> RtResult:
    """Rt over sliding windows from daily local `incidence` (and `imported` cases).

    As EpiEstim, all cases of day 1 count as imported. With the discretised serial
    interval w (`discretise_si`) and all cases I = local + imported, the infection
    pressure is Λ_t = Σ_{s≥1} w_s I_{t-s}. Over a window [t_start, t_end] the posterior of
    R is gamma with shape `prior_shape` + Σ local_t and scale
    1 / (1 / `prior_scale` + Σ Λ_t); the result gives its mean, standard deviation,
    2.5 %, 50 % and 97.5 % quantiles. Windows default to every `window` days, starting on
    day 2; windows ending before the mean of the discretised serial interval are NaN.
    """
    local = np.asarray(incidence, dtype=float).copy()
    arrivals = np.zeros_like(local) if imported is None else np.asarray(imported, dtype=float)
    arrivals = arrivals.copy()
    arrivals[0] += local[0]
    local[0] = 0.0
    days = len(local)
    if t_start is None or t_end is None:
        starts = np.arange(2, days - window + 2)
        ends = starts + window - 1
    else:
        starts, ends = np.asarray(t_start), np.asarray(t_end)
    if np.any(starts < 2) or np.any(ends > days) or np.any(starts > ends):
        raise ValueError("windows must satisfy 2 ≤ t_start ≤ t_end ≤ number of days")

    si = discretise_si(days - 1, si_mean, si_sd)
    pressure = np.convolve(local + arrivals, si)[:days]  # Λ_t at 0-based t
    local_sum = np.cumsum(np.concatenate([[0.0], local]))
    pressure_sum = np.cumsum(np.concatenate([[0.0], pressure]))
    shape = prior_shape + local_sum[ends] - local_sum[starts - 1]
    scale = 1 / (1 / prior_scale + pressure_sum[ends] - pressure_sum[starts - 1])
    too_early = ends <= np.sum(np.arange(days) * si)
    shape[too_early] = np.nan
    scale[too_early] = np.nan

    posterior = gamma(shape, scale=scale)
    return RtResult(
        t_start=starts,
        t_end=ends,
        mean=shape * scale,
        std=np.sqrt(shape) * scale,
        q025=posterior.ppf(0.025),
        median=posterior.ppf(0.5),
        q975=posterior.ppf(0.975),
    )
