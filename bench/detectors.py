"""Benchmark: the aberration detectors over 5,000 daily series, next to R `surveillance` on the
same data in the same run, and the space-time permutation scan.

    make bench NAME=detectors
    BENCH_SERIES=500 make bench NAME=detectors       # quick check at a smaller scale

The benchmark uses no database (under `make bench`, bench/run.py still creates the one in
DATABASE_URL if missing and sets Django up first; `uv run --frozen python -m bench.detectors`
runs it alone). R with `surveillance` is needed for the comparison
(`apt-get install -y r-base-core r-cran-surveillance`).

Data (seed 2026). `BENCH_SERIES` daily series of 5 years (1,826 days): Poisson counts around a
level drawn log-uniformly between 2 and 50 a day, with a yearly cycle (amplitude up to ±50%), a
log-linear trend (up to ±10% a year), a weekend dip in half of them, and in one series out of
ten one or two injected outbreaks (two weeks, peaking at 1 to 3 times the level). Weekly series
are the sums of the first 260 whole weeks.

Detectors, timed one by one on all series at once (2-D arrays, one series per row):
- EARS C1, C2, C3 (`ears`, baseline 7 days, R's default alpha) over every day (R's default
  range: from the first day with a full baseline);
- CUSUM (`cusum`, standardised, k = 1.04, h = 2.26, R's defaults) over the last year, with a
  seasonal in-control mean m(t) for each series and day: the mean count over the 7 days
  centred on the same day 1, 2 and 3 years before (computed inside the timed call, on both
  sides; R runs `algo.cusum` series by series, as its sts wrapper `cusum()` would, without
  the wrapper's `sts[, k]`, which copies the series × series neighbourhood matrix each time:
  0.9 s a series at 5,000 series);
- Farrington flexible (`farrington_flexible`) on the weekly series with freq 52, b = 3 (5 years
  of weeks leave no room for R's default b = 5 before the last year), w = 3 and R's other
  defaults, over the last 52 weeks;
- CIDARS moving percentile (`moving_percentile`, P80, 3 years × 5 periods of 7 days) over
  every day it can: Python only, R has no equivalent.
`detectors_seconds` is the sum of the six runs (C1, C2, C3, CUSUM, Farrington, moving
percentile).

R. `Rscript bench/detectors_r/run.R` reads the same counts (binary files in a temporary
directory) and runs `earsC` (C1, C2, C3), `algo.cusum` (on each series) and
`farringtonFlexible` with the same parameters, timing the `surveillance` calls only. R's EARS
and Farrington loop over the series in R and take about 0.13 s (C1, C2 and C3) and 0.3 s a
series, so they run on the first `BENCH_R_EARS_SERIES` (default 1,000) and
`BENCH_R_FARRINGTON_SERIES` (default 200) series and their times are scaled linearly to all
series (R's cost per series does not depend on how many there are); CUSUM runs on all of them.
`r_seconds` is R's time for all series, `speedup_vs_r` = `r_seconds` / Python's time for the
same methods (EARS, CUSUM, Farrington: the moving percentile left out).

Equality, on every series R ran: the largest absolute difference of the upper bounds and the
share of (series, time point) cells whose alarm agrees. EARS C3 is compared on R's convention:
Python's C3 upper bound deliberately differs from R's (R leaves out the current day's term,
see `fangyi.analytics.ears`), so R's bound y + σ (z - L1 - L2) is rebuilt from Python's C2
statistics and compared; the agreement of Python's own (textbook) C3 alarms with R's is printed
apart.

Scan. 200 locations scattered over 30 km × 30 km, 365 days of cases (about 3,000, proportional
to a per-location weight, with a yearly cycle) and an injected cluster: 24 cases over the last
4 days at the locations within 2.5 km of one location. `space_time_permutation_scan` with 999
replications, radius up to 5 km, windows up to 7 days: `scan_seconds`, and whether the most
likely cluster is the injected one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy.stats import norm

SEED = 2026
SERIES = int(os.environ.get("BENCH_SERIES", "5000"))
R_EARS_SERIES = min(SERIES, int(os.environ.get("BENCH_R_EARS_SERIES", "1000")))
R_CUSUM_SERIES = SERIES
R_FARRINGTON_SERIES = min(SERIES, int(os.environ.get("BENCH_R_FARRINGTON_SERIES", "200")))
FIRST_DAY = date(2021, 1, 1)
DAYS = 1826  # 2021-01-01 .. 2025-12-31
WEEKS = DAYS // 7  # 260 whole weeks

BASELINE = 7  # EARS
CUSUM_FROM = DAYS - 365  # 0-based first day of the CUSUM range: the last 365 days
CUSUM_YEARS = 3  # years of the seasonal in-control mean
CUSUM_K, CUSUM_H = 1.04, 2.26
FARRINGTON_B, FARRINGTON_W = 3, 3
FARRINGTON_FROM = WEEKS - 52  # 0-based first week of the range: the last 52 weeks

SCAN_LOCATIONS = 200
SCAN_DAYS = 365
SCAN_CASES = 3000
SCAN_SIDE_KM = 30.0
SCAN_CLUSTER_RADIUS_KM = 2.5
SCAN_CLUSTER_DAYS = 4
SCAN_CLUSTER_CASES = 24
SCAN_MAX_RADIUS_KM = 5.0
SCAN_MAX_DAYS = 7
SCAN_REPLICATIONS = 999

R_SCRIPT = Path(__file__).resolve().parent / "detectors_r" / "run.R"
R_METHODS = ("ears_C1", "ears_C2", "ears_C3", "cusum", "farrington")
R_NA_INTEGER = np.iinfo(np.int32).min


def main() -> None:
    rscript = shutil.which("Rscript")
    if rscript is None:
        raise SystemExit(
            "detectors needs R with surveillance: apt-get install -y r-base-core "
            "r-cran-surveillance"
        )
    started = time.perf_counter()
    daily, outbreaks = generate_series(SERIES)
    weekly = daily[:, : WEEKS * 7].reshape(SERIES, WEEKS, 7).sum(axis=2)
    print(
        f"{SERIES} daily series × {DAYS} days ({daily.sum():,} cases, {outbreaks} injected "
        f"outbreaks), {WEEKS} weeks: {time.perf_counter() - started:.1f} s",
        flush=True,
    )

    python = run_python(daily, weekly)
    with tempfile.TemporaryDirectory(prefix="fangyi-bench-detectors-") as tmp:
        data_dir, out_dir = Path(tmp, "data"), Path(tmp, "out")
        data_dir.mkdir()
        out_dir.mkdir()
        write_inputs(data_dir, daily, weekly)
        subprocess.run([rscript, str(R_SCRIPT), str(data_dir), str(out_dir)], check=True)
        r_timings = read_r_timings(out_dir / "timings.txt")
        comparisons = compare(daily, python, out_dir)
    scan = run_scan()

    # Times: R's scaled to all series; Python's for the methods R has.
    r_seconds = {
        method: elapsed * SERIES / series for method, (series, elapsed, _) in r_timings.items()
    }
    py_seconds = {
        "ears": sum(python.seconds[f"ears_{m}"] for m in ("C1", "C2", "C3")),
        "cusum": python.seconds["cusum"],
        "farrington": python.seconds["farrington"],
    }
    r_grouped = {
        "ears": sum(r_seconds[f"ears_{m}"] for m in ("C1", "C2", "C3")),
        "cusum": r_seconds["cusum"],
        "farrington": r_seconds["farrington"],
    }
    print()
    print(f"{'method':<12} {'python s':>10} {'R s':>10} {'R series':>9} {'speedup':>8}")
    for method in ("ears_C1", "ears_C2", "ears_C3", "cusum", "farrington"):
        series = r_timings[method][0]
        print(
            f"{method:<12} {python.seconds[method]:>10.2f} {r_seconds[method]:>10.2f} "
            f"{series:>9} {r_seconds[method] / python.seconds[method]:>7.1f}×"
        )
    print(f"{'moving_pct':<12} {python.seconds['moving_percentile']:>10.2f} {'(no R)':>10}")
    scaled = [m for m, (series, _, _) in r_timings.items() if series < SERIES]
    if scaled:
        print(f"R times of {', '.join(scaled)} scaled linearly from the series R ran to {SERIES}")
    r_cpu = sum(cpu * SERIES / series for series, _, cpu in r_timings.values())
    print(f"R cpu (user + system, scaled): {r_cpu:.2f} s; Python cpu: {python.cpu_seconds:.2f} s")
    print()
    for line in comparisons.report:
        print(line)
    print()
    for line in scan.report:
        print(line)

    detectors_seconds = sum(python.seconds.values())
    same_methods = sum(py_seconds.values())
    total_r = sum(r_grouped.values())
    print()
    for name, value, unit in comparisons.results:
        print(f"RESULT {name} {value} {unit}")
    for method in ("ears", "cusum", "farrington"):
        print(f"RESULT speedup_vs_r_{method} {r_grouped[method] / py_seconds[method]:.1f} x")
    print(f"RESULT python_seconds_same_methods {same_methods:.2f} s")
    print(f"RESULT scan_injected_cluster_found {int(scan.found)} bool")
    print(f"RESULT scan_p_value {scan.p_value:.3f} p")
    print(f"RESULT detectors_seconds {detectors_seconds:.2f} s")
    print(f"RESULT r_seconds {total_r:.2f} s")
    print(f"RESULT speedup_vs_r {total_r / same_methods:.1f} x")
    print(f"RESULT scan_seconds {scan.seconds:.2f} s")


# --- data --------------------------------------------------------------------------------------


def generate_series(series: int) -> tuple[np.ndarray, int]:
    """Daily counts (series × DAYS, int32) and the number of injected outbreaks."""
    rng = np.random.default_rng(SEED)
    day = np.arange(DAYS)
    level = np.exp(rng.uniform(np.log(2), np.log(50), series))
    amplitude = rng.uniform(0, 0.5, series)
    phase = rng.uniform(0, 2 * np.pi, series)
    trend = rng.uniform(-0.1, 0.1, series) / 365.25  # log-change a day
    weekend_dip = np.where(rng.random(series) < 0.5, 0.7, 1.0)
    weekday = (np.datetime64(FIRST_DAY, "D") + day).astype("datetime64[D]").view("int64")
    is_weekend = (weekday + 3) % 7 >= 5  # 1970-01-01 was a Thursday
    log_mean = (
        np.log(level)[:, None]
        + amplitude[:, None] * np.sin(2 * np.pi * day[None, :] / 365.25 + phase[:, None])
        + trend[:, None] * (day[None, :] - DAYS / 2)
    )
    mean = np.exp(log_mean) * np.where(is_weekend[None, :], weekend_dip[:, None], 1.0)

    outbreaks = 0
    shape = 1 - np.abs(np.linspace(-1, 1, 16)[1:-1])  # 14 days, peak in the middle
    for row in np.flatnonzero(rng.random(series) < 0.1):
        for _ in range(rng.integers(1, 3)):
            start = rng.integers(400, DAYS - len(shape))
            mean[row, start : start + len(shape)] += level[row] * rng.uniform(1, 3) * shape
            outbreaks += 1
    return rng.poisson(mean).astype(np.int32), outbreaks


def write_inputs(data_dir: Path, daily: np.ndarray, weekly: np.ndarray) -> None:
    daily.astype("<i4").tofile(data_dir / "daily.bin")
    weekly.astype("<i4").tofile(data_dir / "weekly.bin")
    params = {
        "series": SERIES,
        "days": DAYS,
        "weeks": WEEKS,
        "ears_series": R_EARS_SERIES,
        "cusum_series": R_CUSUM_SERIES,
        "farrington_series": R_FARRINGTON_SERIES,
        "baseline": BASELINE,
        "cusum_from": CUSUM_FROM + 1,  # R counts from 1
        "cusum_years": CUSUM_YEARS,
        "cusum_k": CUSUM_K,
        "cusum_h": CUSUM_H,
        "farrington_b": FARRINGTON_B,
        "farrington_w": FARRINGTON_W,
        "farrington_from": FARRINGTON_FROM + 1,
    }
    (data_dir / "params.txt").write_text("".join(f"{k} {v}\n" for k, v in params.items()))


# --- Python ------------------------------------------------------------------------------------


@dataclass
class PythonRun:
    results: dict[str, object]
    seconds: dict[str, float]
    cpu_seconds: float


def run_python(daily: np.ndarray, weekly: np.ndarray) -> PythonRun:
    from fangyi.analytics import cusum, ears, farrington_flexible, moving_percentile

    dates = np.datetime64(FIRST_DAY, "D") + np.arange(DAYS)
    jobs: dict[str, Callable[[], object]] = {
        "ears_C1": lambda: ears(daily, "C1", baseline=BASELINE),
        "ears_C2": lambda: ears(daily, "C2", baseline=BASELINE),
        "ears_C3": lambda: ears(daily, "C3", baseline=BASELINE),
        "cusum": lambda: cusum(daily[:, CUSUM_FROM:], seasonal_mean(daily), k=CUSUM_K, h=CUSUM_H),
        "moving_percentile": lambda: moving_percentile(daily, dates, percentile=80),
        "farrington": lambda: farrington_flexible(
            weekly,
            freq=52,
            b=FARRINGTON_B,
            w=FARRINGTON_W,
            range=np.arange(FARRINGTON_FROM, WEEKS),
        ),
    }
    results, seconds = {}, {}
    cpu_started = time.process_time()
    for name, job in jobs.items():
        started = time.perf_counter()
        results[name] = job()
        seconds[name] = time.perf_counter() - started
        print(f"python {name:<17} {len(daily)} series  {seconds[name]:8.2f} s", flush=True)
    return PythonRun(results, seconds, time.process_time() - cpu_started)


def seasonal_mean(daily: np.ndarray) -> np.ndarray:
    """CUSUM's in-control mean m(t) over the range: the mean count over the 7 days centred on
    the same day 1..CUSUM_YEARS years (of 365 days) before (summed in R's order)."""
    days = np.arange(CUSUM_FROM, DAYS)
    total = np.zeros((len(daily), len(days)))
    for year in range(1, CUSUM_YEARS + 1):
        for shift in range(-3, 4):
            total = total + daily[:, days - 365 * year + shift]
    return total / (7 * CUSUM_YEARS)


# --- R and the comparison ----------------------------------------------------------------------


def read_r_timings(path: Path) -> dict[str, tuple[int, float, float]]:
    timings = {}
    for line in path.read_text().splitlines():
        method, series, elapsed, cpu = line.split()
        timings[method] = (int(series), float(elapsed), float(cpu))
    return timings


def read_r_result(out_dir: Path, method: str, series: int) -> tuple[np.ndarray, np.ndarray]:
    """R's upper bounds and alarms (series × range; alarm NA as -1)."""
    upper = np.fromfile(out_dir / f"{method}_upper.bin", dtype="<f8").reshape(series, -1)
    alarm = np.fromfile(out_dir / f"{method}_alarm.bin", dtype="<i4").reshape(series, -1)
    return upper, np.where(alarm == R_NA_INTEGER, -1, alarm)


@dataclass
class Comparison:
    report: list[str]
    results: list[tuple[str, str, str]]


def compare(daily: np.ndarray, python: PythonRun, out_dir: Path) -> Comparison:
    report, results = ["Python against R (cells: series × time points of the range):"], []

    def line(label: str, series: int, py_upper, py_alarm, r_upper, r_alarm) -> tuple[float, float]:
        both = np.isfinite(py_upper) & np.isfinite(r_upper)
        nan_mismatch = int(np.sum(np.isfinite(py_upper) != np.isfinite(r_upper)))
        diff = float(np.max(np.abs(py_upper[both] - r_upper[both]), initial=0.0))
        r_na = int(np.sum(r_alarm < 0))
        agree = np.sum(py_alarm == (r_alarm == 1)) / py_alarm.size * 100
        report.append(
            f"  {label:<26} {series:>5} series  max |Δ upper| {diff:.3g}  "
            f"(NaN on one side only: {nan_mismatch})  alarms agree {agree:.4f}% "
            f"({int(np.sum(py_alarm != (r_alarm == 1)))} cells differ, R NA: {r_na}; "
            f"alarms R {int(np.sum(r_alarm == 1))}, Python {int(np.sum(py_alarm))})"
        )
        return diff, agree

    # EARS C1 and C2: the bounds and alarms as they are.
    n = R_EARS_SERIES
    ears_diffs, ears_agree = [], []
    for method, first in (("C1", BASELINE), ("C2", BASELINE + 2)):
        result = python.results[f"ears_{method}"]
        r_upper, r_alarm = read_r_result(out_dir, f"ears_{method}", n)
        diff, agree = line(
            f"EARS {method}",
            n,
            result.upper[:n, first:],
            result.alarm[:n, first:],
            r_upper,
            r_alarm,
        )
        ears_diffs.append(diff)
        ears_agree.append(agree)

    # EARS C3: R's bound max(0, y + σ (z - L1 - L2)) rebuilt from Python's C2 statistics.
    first = BASELINE + 4
    y = daily[:n].astype(float)
    c2 = python.results["ears_C2"].statistic[:n]
    excess = np.maximum(0.0, c2 - 1.0)
    previous_two = np.full(y.shape, np.nan)
    sigma = np.full(y.shape, np.nan)
    sigma[:, BASELINE + 2 :] = sliding_window_view(y, BASELINE, axis=1)[:, :-3].std(axis=2, ddof=1)
    # R's C2 of a count equal to a flat baseline is 0 / 0 = NaN (Python's is 0, by design).
    zero_over_zero = (sigma == 0) & (c2 == 0)
    excess[zero_over_zero] = np.nan
    previous_two[:, 2:] = excess[:, 1:-1] + excess[:, :-2]
    z = norm.isf(0.025)
    with np.errstate(invalid="ignore"):
        r_convention = np.maximum(0.0, y + sigma * (z - previous_two))
    r_upper, r_alarm = read_r_result(out_dir, "ears_C3", n)
    diff, agree = line(
        "EARS C3 (R's bound)",
        n,
        r_convention[:, first:],
        (y > r_convention)[:, first:],
        r_upper,
        r_alarm,
    )
    ears_diffs.append(diff)
    ears_agree.append(agree)
    report.append(
        f"    (R's C2 is 0 / 0 = NaN on {int(zero_over_zero[:, first - 2 :].sum())} days whose "
        "count equals a flat baseline, where Python's is 0: R's C3 bound is NaN after them)"
    )
    c3 = python.results["ears_C3"]
    _, textbook_agree = line(
        "EARS C3 (Python's own)", n, c3.upper[:n, first:], c3.alarm[:n, first:], r_upper, r_alarm
    )
    results.append(("max_abs_diff_ears", f"{max(ears_diffs):.3g}", "cases"))
    results.append(("alarm_agreement_ears", f"{min(ears_agree):.4f}", "%"))
    results.append(("alarm_agreement_ears_c3_textbook", f"{textbook_agree:.4f}", "%"))

    n = R_CUSUM_SERIES
    result = python.results["cusum"]
    r_upper, r_alarm = read_r_result(out_dir, "cusum", n)
    diff, agree = line("CUSUM", n, result.upper[:n], result.alarm[:n], r_upper, r_alarm)
    results.append(("max_abs_diff_cusum", f"{diff:.3g}", "cases"))
    results.append(("alarm_agreement_cusum", f"{agree:.4f}", "%"))

    n = R_FARRINGTON_SERIES
    result = python.results["farrington"]
    r_upper, r_alarm = read_r_result(out_dir, "farrington", n)
    diff, agree = line(
        "Farrington flexible",
        n,
        result.upper[:n, FARRINGTON_FROM:],
        result.alarm[:n, FARRINGTON_FROM:],
        r_upper,
        r_alarm,
    )
    results.append(("max_abs_diff_farrington", f"{diff:.3g}", "cases"))
    results.append(("alarm_agreement_farrington", f"{agree:.4f}", "%"))
    return Comparison(report, results)


# --- scan --------------------------------------------------------------------------------------


@dataclass
class ScanRun:
    seconds: float
    p_value: float
    found: bool  # the most likely cluster is the injected one, with p ≤ 0.05
    report: list[str]


def run_scan() -> ScanRun:
    from fangyi.analytics import space_time_permutation_scan

    rng = np.random.default_rng(SEED + 1)
    # Locations on a 30 km square around a city centre (km east / north), then degrees.
    east, north = rng.uniform(-SCAN_SIDE_KM / 2, SCAN_SIDE_KM / 2, (2, SCAN_LOCATIONS))
    centre_lat, centre_lon = 30.25, 120.15
    lat = centre_lat + north / 111.2
    lon = centre_lon + east / (111.2 * np.cos(np.radians(centre_lat)))
    names = [f"L{i:03d}" for i in range(SCAN_LOCATIONS)]
    coordinates = {name: (lat[i], lon[i]) for i, name in enumerate(names)}

    weight = rng.lognormal(0, 0.7, SCAN_LOCATIONS)
    day = np.arange(SCAN_DAYS)
    daily_rate = SCAN_CASES / SCAN_DAYS * (1 + 0.3 * np.sin(2 * np.pi * day / SCAN_DAYS))
    cells = rng.poisson(np.outer(weight / weight.sum(), daily_rate))  # locations × days
    location, when = np.nonzero(cells)
    repeats = cells[location, when]
    case_location, case_day = np.repeat(location, repeats), np.repeat(when, repeats)

    centre = int(rng.integers(SCAN_LOCATIONS))
    distance = np.hypot(east - east[centre], north - north[centre])
    injected = np.flatnonzero(distance <= SCAN_CLUSTER_RADIUS_KM)
    extra_location = rng.choice(injected, SCAN_CLUSTER_CASES)
    extra_day = SCAN_DAYS - 1 - rng.integers(0, SCAN_CLUSTER_DAYS, SCAN_CLUSTER_CASES)
    case_location = np.concatenate([case_location, extra_location])
    case_day = np.concatenate([case_day, extra_day])
    first = np.datetime64(date(2025, 1, 1), "D")
    locations = [names[i] for i in case_location]
    dates = first + case_day

    started = time.perf_counter()
    result = space_time_permutation_scan(
        locations,
        dates,
        coordinates,
        max_radius_km=SCAN_MAX_RADIUS_KM,
        max_days=SCAN_MAX_DAYS,
        replications=SCAN_REPLICATIONS,
        seed=SEED,
    )
    seconds = time.perf_counter() - started

    end = date(2025, 1, 1) + timedelta(days=SCAN_DAYS - 1)
    injected_names = {names[i] for i in injected}
    report = [
        f"scan: {SCAN_LOCATIONS} locations, {SCAN_DAYS} days, {len(locations)} cases, "
        f"{SCAN_REPLICATIONS} replications: {seconds:.2f} s; injected: {SCAN_CLUSTER_CASES} "
        f"cases at {len(injected)} locations within {SCAN_CLUSTER_RADIUS_KM} km of "
        f"{names[centre]}, {end - timedelta(days=SCAN_CLUSTER_DAYS - 1)} .. {end}"
    ]
    if not result.clusters:
        report.append("  no cluster found")
        return ScanRun(seconds, float("nan"), False, report)
    best = result.clusters[0]
    shared = len(injected_names.intersection(best.locations))
    found = (
        best.center in injected_names and shared >= len(injected_names) / 2 and best.p_value <= 0.05
    )
    report.append(
        f"  most likely cluster: centre {best.center}, {len(best.locations)} locations "
        f"({shared} of the {len(injected_names)} injected), radius {best.radius_km:.2f} km, "
        f"{best.start_date} .. {best.end_date}, observed {best.observed}, expected "
        f"{best.expected:.2f}, LLR {best.statistic:.2f}, p = {best.p_value:.3f}: "
        f"{'the injected cluster' if found else 'NOT the injected cluster'}"
    )
    for other in result.clusters[1:3]:
        report.append(
            f"  next: centre {other.center}, {len(other.locations)} locations, "
            f"observed {other.observed}, expected {other.expected:.2f}, p = {other.p_value:.3f}"
        )
    return ScanRun(seconds, best.p_value, found, report)


if __name__ == "__main__":
    main()
