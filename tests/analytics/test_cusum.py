"""CUSUM against R `surveillance::algo.cusum` and `algo.glrpois` (REFERENCE_VECTORS.md;
the Rossi/Anscombe bounds and the GLR with estimated κ from R surveillance 1.20.3)."""

import numpy as np
import pytest

from fangyi.analytics import cusum, glr_poisson

X = np.array([3, 5, 4, 6, 2, 4, 5, 3, 4, 9, 10, 8, 12, 4, 5])
MONITORED = X[5:]  # R's range 6:15
M = X[:5].mean()  # R's default: the mean before the range


def days(mask: np.ndarray) -> list[int]:
    """1-based days of the whole series, as R."""
    return list(np.flatnonzero(mask) + 6)


def test_standard():
    result = cusum(MONITORED, M, k=1.04, h=2.26)
    np.testing.assert_allclose(
        result.statistic, [0, 0, 0, 0, 1.46, 3.42, 4.38, 7.34, 6.30, 5.76], atol=1e-9
    )
    np.testing.assert_array_equal(result.upper, [11, 11, 11, 11, 11, 8, 4, 2, 0, 0])
    assert days(result.alarm) == [11, 12, 13, 14, 15]


@pytest.mark.parametrize(
    ("transform", "statistic", "upper"),
    [
        (
            "rossi",
            [0, 0, 0, 0, 1.2100, 2.8323, 3.6207, 6.0448, 5.0048, 4.4509],
            [11.585190, 11.585190, 11.585190, 11.585190, 11.585190, 8.617660, 4.961299,
             3.371990, 0.057941, 1.060857],
        ),
        (
            "anscombe",
            [0, 0, 0, 0, 1.1112, 2.5973, 3.3195, 5.5197, 4.4797, 3.9209],
            [12.172756, 12.172756, 12.172756, 12.172756, 12.172756, 9.098645, 5.484824,
             3.961134, 0.530588, 1.890544],
        ),
    ],
)  # fmt: skip
def test_transforms(transform, statistic, upper):
    result = cusum(MONITORED, M, transform=transform)
    np.testing.assert_allclose(result.statistic, statistic, atol=5e-5)
    np.testing.assert_allclose(result.upper, upper, atol=5e-6)


def test_many_series_with_their_own_means():
    counts = np.vstack([MONITORED, MONITORED + 3])
    result = cusum(counts, [[M], [M + 3]])
    np.testing.assert_array_equal(result.statistic[0], cusum(MONITORED, M).statistic)
    np.testing.assert_array_equal(result.statistic[1], cusum(MONITORED + 3, M + 3).statistic)


def test_poisson_lr_cusum_restarts_after_alarm():
    result = glr_poisson(MONITORED, mu0=4, theta=np.log(2), c_arl=5)
    np.testing.assert_allclose(
        result.statistic, [0, 0, 0, 0, 2.2383, 5.1698, 1.5452, 5.8629, 0, 0], atol=5e-5
    )
    assert days(result.alarm) == [11, 13]


def test_poisson_glr_with_estimated_change():
    result = glr_poisson(MONITORED, mu0=4, theta=None, c_arl=5)
    np.testing.assert_allclose(
        result.statistic,
        [0, 0.115718, 0, 0, 2.298372, 5.434951, 1.545177, 6.325815, 0, 0.115718],
        atol=5e-7,
    )
    assert days(result.alarm) == [11, 13]
