"""EARS against R `surveillance::earsC` and the textbook C3 (REFERENCE_VECTORS.md)."""

import numpy as np
import pytest

from fangyi.analytics import ears

Y = np.array([2, 3, 1, 4, 2, 3, 2, 5, 3, 2, 4, 3, 2, 3, 6, 4, 3, 2, 5, 9, 12, 4, 3, 2, 3, 4, 2, 15])
C1_UPPER = [
    5.4443, 7.0141, 7.0141, 6.5683, 6.5683, 6.4465, 6.5683, 6.4465, 7.5506, 7.7465, 7.5035,
    7.5506, 8.2434, 11.8967, 16.7724, 16.6930, 16.8328, 17.0819, 16.8328, 16.8089, 15.0963,
]  # fmt: skip


def days(mask: np.ndarray) -> list[int]:
    """1-based days, as the reference."""
    return list(np.flatnonzero(mask) + 1)


def test_c1_matches_r():
    result = ears(Y, "C1", alpha=0.001)
    assert np.all(np.isnan(result.upper[:7]))
    np.testing.assert_allclose(result.upper[7:], C1_UPPER, atol=5e-5)
    assert days(result.alarm) == [20, 21]


def test_c2_is_c1_shifted_by_the_guard_band():
    result = ears(Y, "C2", alpha=0.001)
    assert np.all(np.isnan(result.upper[:9]))
    np.testing.assert_allclose(result.upper[9:], C1_UPPER[:-2], atol=5e-5)
    assert days(result.alarm) == [20, 21]
    np.testing.assert_allclose(result.statistic[[19, 20]], [4.2663, 6.3141], atol=5e-5)


def test_c3_follows_its_definition():
    result = ears(Y, "C3", alpha=0.025)
    np.testing.assert_allclose(
        result.statistic[18:23], [0.1246, 3.3910, 8.7051, 8.5804, 5.3141], atol=5e-5
    )
    assert days(result.alarm) == [20, 21, 22, 23]
    assert np.all(np.isnan(result.upper[:11]))


def test_c3_upper_bound_is_the_count_that_reaches_z():
    result = ears(Y, "C3", alpha=0.025)
    with_bound = ~np.isnan(result.upper) & (result.upper > 0)
    assert np.array_equal(result.alarm[with_bound], (result.upper <= Y)[with_bound])


def test_default_alpha_is_rs_per_method():
    assert np.array_equal(ears(Y, "C3").upper, ears(Y, "C3", alpha=0.025).upper, equal_nan=True)
    assert np.array_equal(ears(Y, "C1").upper, ears(Y, "C1", alpha=0.001).upper, equal_nan=True)


def test_flat_baseline_alarms_on_any_case_unless_sigma_has_a_floor():
    counts = [0, 0, 0, 0, 0, 0, 0, 1]
    flat = ears(counts)
    assert flat.upper[7] == 0
    assert flat.alarm[7]
    floored = ears(counts, min_sigma=1)
    assert floored.upper[7] == pytest.approx(3.090232, abs=1e-6)
    assert not floored.alarm[7]


def test_flat_baseline_without_cases_is_quiet():
    result = ears([0] * 12, "C3")
    assert not result.alarm.any()
    assert result.statistic[11] == 0


def test_salm_newport_package_case():
    # Weeks 359..369 of R's salmNewport aggregated over Germany; R monitors 366..417.
    counts = [1, 1, 1, 3, 3, 1, 2, 1, 0, 3, 3]
    result = ears(counts, "C1", alpha=0.05)
    np.testing.assert_allclose(
        result.upper[7:], [3.278854, 3.278854, 3.436517, 3.855617], atol=1e-6
    )


def test_rejects_a_short_baseline():
    with pytest.raises(ValueError):
        ears(Y, baseline=2)
