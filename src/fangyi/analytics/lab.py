"""Laboratory testing: positivity rates and pooled (Dorfman) testing."""

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import norm


@dataclass(frozen=True)
class Proportion:
    """A proportion with its confidence interval (NaN where nothing was tested)."""

    rate: np.ndarray
    lower: np.ndarray
    upper: np.ndarray


@dataclass(frozen=True)
class PoolSize:
    """The pool size minimising the expected tests per person, and that expectation."""

    k: np.ndarray
    expected_tests: np.ndarray


def positivity_rate(positives: ArrayLike, tested: ArrayLike, level: float = 0.95) -> Proportion:
    """Positives / tested with the Wilson score interval (Wilson, JASA 1927;22:209-12;
    R `binom::binom.wilson`, `prop.test(correct = FALSE)`):
    (p̂ + z²/2n ± z √(p̂(1 - p̂)/n + z²/4n²)) / (1 + z²/n), z = Φ⁻¹((1 + level) / 2).
    Element-wise over arrays."""
    x = np.asarray(positives, dtype=float)
    n = np.asarray(tested, dtype=float)
    z = norm.isf((1 - level) / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(n > 0, x / n, np.nan)
        denominator = 1 + z**2 / n
        centre = (rate + z**2 / (2 * n)) / denominator
        half_width = z * np.sqrt(rate * (1 - rate) / n + z**2 / (4 * n**2)) / denominator
    # Clipped only against rounding: at 0 or n positives one end is exactly 0 or 1.
    return Proportion(
        rate=rate,
        lower=np.clip(centre - half_width, 0.0, 1.0),
        upper=np.clip(centre + half_width, 0.0, 1.0),
    )


def dorfman_expected_tests(k: ArrayLike, p: ArrayLike) -> np.ndarray:
    """Expected tests per person when pools of k samples are tested and the members of
    positive pools retested one by one (Dorfman, Ann Math Stat 1943;14:436-40), with
    prevalence p: E(k, p) = 1/k + 1 - (1 - p)^k for k ≥ 2; 1 for k = 1 (no pooling)."""
    size = np.asarray(k, dtype=float)
    prevalence = np.asarray(p, dtype=float)
    pooled = 1 / size + 1 - (1 - prevalence) ** size
    return np.where(size == 1, 1.0, pooled)


def optimal_pool_size(p: ArrayLike, max_k: int = 100) -> PoolSize:
    """The k in 1..max_k minimising `dorfman_expected_tests` at prevalence p (element-wise).
    Above p = 1 - 3^(-1/3) ≈ 0.3066 no pool beats testing everyone alone: k = 1."""
    prevalence = np.asarray(p, dtype=float)
    sizes = np.arange(1, max_k + 1)
    expected = dorfman_expected_tests(sizes, prevalence[..., None])
    best = np.argmin(expected, axis=-1)  # the smallest k among ties
    return PoolSize(k=sizes[best], expected_tests=np.min(expected, axis=-1))
