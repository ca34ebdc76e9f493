"""Rt against R `EpiEstim::estimate_R(method = "parametric_si")` 2.2-4 on Flu2009."""

import numpy as np
import pytest

from fangyi.analytics import discretise_si, estimate_rt

FLU2009 = [1, 1, 0, 2, 5, 3, 3, 3, 6, 2, 5, 9, 13, 12, 13, 11, 12, 6, 6, 6, 3, 1, 0, 2, 0, 0, 0,
           0, 2, 0, 2, 0]  # fmt: skip


def test_discretised_serial_interval():
    np.testing.assert_allclose(
        discretise_si(10, 2.6, 1.5),
        [0, 0.2331721, 0.3585794, 0.1981108, 0.1033427, 0.0529052, 0.0268215, 0.0135162,
         0.0067834, 0.0033944, 0.0016947],
        atol=5e-8,
    )  # fmt: skip
    np.testing.assert_array_equal(discretise_si([2, 3], 2.6, 1.5), discretise_si(10, 2.6, 1.5)[2:4])


@pytest.mark.parametrize(
    ("row", "window", "expected"),
    [
        (0, (2, 8), (1.7357977, 0.40913143, 1.02874370, 1.7037612, 2.6247813)),
        (1, (3, 9), (1.7491678, 0.36472669, 1.10882231, 1.7238839, 2.5331192)),
        (-1, (26, 32), (0.9975352, 0.44611130, 0.32389696, 0.9318792, 2.0432690)),
    ],
)
def test_weekly_windows(row, window, expected):
    result = estimate_rt(FLU2009, si_mean=2.6, si_sd=1.5)
    assert (result.t_start[row], result.t_end[row]) == window
    found = [getattr(result, name)[row] for name in ("mean", "std", "q025", "median", "q975")]
    np.testing.assert_allclose(found, expected, rtol=1e-7)


def test_default_windows_are_epiestims():
    result = estimate_rt(FLU2009, si_mean=2.6, si_sd=1.5)
    np.testing.assert_array_equal(result.t_start, np.arange(2, 27))
    np.testing.assert_array_equal(result.t_end, np.arange(8, 33))


def test_day_one_cases_count_as_imported():
    as_local = estimate_rt(FLU2009, si_mean=2.6, si_sd=1.5)
    imported = np.zeros(len(FLU2009))
    imported[0] = FLU2009[0]
    local = np.array(FLU2009, dtype=float)
    local[0] = 0
    explicit = estimate_rt(local, si_mean=2.6, si_sd=1.5, imported=imported)
    np.testing.assert_array_equal(as_local.mean, explicit.mean)


def test_windows_before_the_mean_serial_interval_are_nan():
    result = estimate_rt(FLU2009, si_mean=2.6, si_sd=1.5, t_start=[2, 2], t_end=[2, 4])
    assert np.isnan(result.mean[0])
    assert not np.isnan(result.mean[1])


def test_rejects_windows_from_day_one():
    with pytest.raises(ValueError):
        estimate_rt(FLU2009, si_mean=2.6, si_sd=1.5, t_start=[1], t_end=[7])
