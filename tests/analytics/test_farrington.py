"""Farrington flexible against R `surveillance::farringtonFlexible` 1.20.3 on
`salmonella.agona` (REFERENCE_VECTORS.md)."""

from pathlib import Path

import numpy as np
import pytest

from fangyi.analytics import farrington_flexible, farrington_threshold

DATA = Path(__file__).parent / "data"
SALMONELLA = np.loadtxt(DATA / "salmonella.agona.txt", skiprows=1)[:, 1]
MONITORED = np.arange(281, 312)  # R's range 282:312

# week, observed, then upper bound and alarm for ctl1 (delta, 1 period), ctl2 (delta,
# 10 periods), ctl3 (nbPlugin) and ctl4 (muan).
REFERENCE = """
282 2  3.0226 0 3.6526 0 3 0 4 0
283 4  2.9318 1 3.6922 1 3 1 4 0
284 7  3.2608 1 4.1211 1 4 1 4 1
285 6  3.3717 1 4.5488 1 4 1 5 1
286 1  2.8100 0 4.8792 0 5 0 5 0
287 4  3.3738 1 5.2078 0 5 0 5 0
288 6  3.0991 1 5.4317 1 5 1 6 0
289 4  2.4767 1 5.5877 0 5 0 6 0
290 2  2.7834 0 6.5031 0 6 0 7 0
291 4  3.1125 1 7.1913 0 7 0 8 0
292 5  4.0831 1 6.9458 0 7 0 7 0
293 5  5.8417 0 7.6037 0 7 0 8 0
294 9  6.9687 1 7.9409 1 8 1 9 0
295 8  7.6666 1 7.9347 1 8 0 9 0
296 6  7.6282 0 8.5012 0 8 0 9 0
297 3  7.4775 0 8.4831 0 8 0 9 0
298 2  7.4224 0 8.6425 0 8 0 9 0
299 3  7.4851 0 8.6996 0 8 0 9 0
300 4  7.3115 0 8.4004 0 8 0 9 0
301 3  4.8925 0 8.0967 0 8 0 9 0
302 3  3.9356 0 7.5026 0 7 0 8 0
303 4  4.0252 0 7.4516 0 7 0 8 0
304 4  3.9519 1 7.0859 0 7 0 8 0
305 2  3.1730 0 6.1298 0 6 0 7 0
306 1  2.9605 0 5.9007 0 6 0 6 0
307 2  4.7165 0 5.6981 0 5 0 6 0
308 3  4.5179 0 5.5489 0 5 0 6 0
309 2  4.6155 0 5.4694 0 5 0 6 0
310 2  4.0229 0 5.3429 0 5 0 6 0
311 0  7.4559 0 5.5855 0 5 0 6 0
312 4 11.2526 0 6.1922 0 6 0 7 0
"""
TABLE = np.loadtxt(REFERENCE.strip().splitlines())
CTL1 = dict(b=4, w=3, weights_threshold=1, past_weeks_not_included=3, alpha=0.1)
CTL2 = dict(
    b=4, w=3, no_periods=10, weights_threshold=2.58, past_weeks_not_included=26,
    p_threshold_trend=1, alpha=0.1,
)  # fmt: skip
CONTROLS = {
    "ctl1": (CTL1, 2),
    "ctl2": (CTL2, 4),
    "ctl3": ({**CTL2, "threshold_method": "nbPlugin"}, 6),
    "ctl4": ({**CTL2, "threshold_method": "muan"}, 8),
}


def test_reference_table_is_the_data():
    assert np.array_equal(TABLE[:, 0] - 1, MONITORED)
    assert np.array_equal(TABLE[:, 1], SALMONELLA[MONITORED])


@pytest.mark.parametrize("name", CONTROLS)
def test_matches_r(name):
    control, column = CONTROLS[name]
    result = farrington_flexible(SALMONELLA, range=MONITORED, **control)
    np.testing.assert_allclose(result.upper[MONITORED], TABLE[:, column], atol=5e-5)
    assert np.array_equal(result.alarm[MONITORED], TABLE[:, column + 1] == 1)


def test_defaults_match_r():
    weeks = np.arange(307, 312)
    result = farrington_flexible(SALMONELLA, range=weeks)
    np.testing.assert_allclose(
        result.upper[weeks], [7.7027, 7.4071, 5.9159, 6.1037, 10.6689], atol=5e-5
    )


def test_expected_counts_match_r():
    # R's sts@control$expected for ctl1 and ctl2 (first weeks), printed with 15 digits.
    ctl1 = farrington_flexible(SALMONELLA, range=MONITORED, **CTL1)
    np.testing.assert_allclose(
        ctl1.expected[281:285], [1.262188394642456, 1.209435532004315, 1.428137326053813,
                                 1.496387192445494], rtol=1e-9,
    )  # fmt: skip
    ctl3 = farrington_flexible(SALMONELLA, range=MONITORED, **CONTROLS["ctl3"][0])
    np.testing.assert_allclose(
        ctl3.expected[281:284], [1.38093930177467, 1.43726985006287, 1.72389855106217],
        rtol=1e-9,
    )  # fmt: skip


def test_whole_default_range_matches_r():
    # R: farringtonFlexible(salm, control = list(b = 3, w = 2, noPeriods = 3,
    # pastWeeksNotIncluded = 10)) over its default range 159:312; NA where fewer than
    # 5 cases in 4 weeks.
    reference = np.genfromtxt(DATA / "farrington_b3_w2_p3_r.txt", skip_header=3)
    result = farrington_flexible(SALMONELLA, b=3, w=2, no_periods=3, past_weeks_not_included=10)
    weeks = reference[:, 0].astype(int) - 1
    assert np.all(np.isnan(result.upper[: weeks[0]]))
    np.testing.assert_allclose(result.upper[weeks], reference[:, 1], rtol=1e-9)
    assert np.array_equal(result.alarm[weeks], reference[:, 2] == 1)


@pytest.mark.parametrize(
    ("powertrans", "expected"),
    [
        ("none", (1.3073128, 8.6926872, 0.0907246, 0.8124165)),
        ("1/2", (1.9891097, 9.3744842, 0.1189986, 0.6857951)),
        ("2/3", (1.8084477, 9.1154825, 0.1094727, 0.7289546)),
    ],
)
def test_delta_threshold(powertrans, expected):
    threshold = farrington_threshold(5, 0.2, 1, 8, alpha=0.05, powertrans=powertrans)
    found = (threshold.lower, threshold.upper, threshold.prob, threshold.score)
    np.testing.assert_allclose(found, expected, atol=1e-6)


@pytest.mark.parametrize(
    ("method", "phi", "expected"),
    [
        ("muan", 1.5, (8, 24, 0.8597797, 0.4193982)),
        ("muan", 1.0, (9, 22, 0.9093099, 0.4605347)),
        ("nbPlugin", 1.5, (1, 10, 0.03763657, 1.11918153)),
        ("nbPlugin", 1.0, (2, 9, 0.01369527, 1.27061541)),
    ],
)
def test_noufaily_threshold(method, phi, expected):
    threshold = farrington_threshold(np.log(5), np.log(2), phi, 11, alpha=0.05, method=method)
    found = (threshold.lower, threshold.upper, threshold.prob, threshold.score)
    np.testing.assert_allclose(found, expected, atol=1e-6)


def test_constant_population_offset_changes_nothing():
    plain = farrington_flexible(SALMONELLA, range=MONITORED, **CTL2)
    with_population = farrington_flexible(SALMONELLA, range=MONITORED, population=1e4, **CTL2)
    np.testing.assert_allclose(with_population.upper, plain.upper, rtol=1e-9)


def test_many_series_at_once():
    series = np.vstack([SALMONELLA, SALMONELLA[::-1]])
    both = farrington_flexible(series, range=MONITORED, **CTL1)
    second = farrington_flexible(SALMONELLA[::-1], range=MONITORED, **CTL1)
    assert both.upper.shape == series.shape
    np.testing.assert_array_equal(both.upper[1], second.upper)
    np.testing.assert_array_equal(both.alarm[1], second.alarm)


def test_rejects_weeks_without_enough_history():
    with pytest.raises(ValueError):
        farrington_flexible(SALMONELLA, range=[100])
