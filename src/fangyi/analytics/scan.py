"""Prospective space-time permutation scan statistic (Kulldorff et al., PLoS Med
2005;2(3):e59), as SaTScan's space-time permutation model with a prospective analysis."""

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
from scipy.special import xlogy

EARTH_RADIUS_KM = 6367.0  # SaTScan's sphere
REPLICATIONS_PER_BATCH = 100  # bounds the memory of the vectorised Monte Carlo


@dataclass(frozen=True)
class Cluster:
    """A cylinder: the locations within `radius_km` of `center` over `start_date` to
    `end_date`. `statistic` is the log-likelihood ratio; the p-value compares it with the
    largest statistic of each Monte Carlo replication (as SaTScan does for secondary
    clusters too); the recurrence interval is 1 / p days (daily prospective analysis)."""

    center: Hashable
    locations: tuple[Hashable, ...]
    radius_km: float
    start_date: date
    end_date: date
    observed: int
    expected: float
    statistic: float
    p_value: float
    recurrence_interval_days: float


@dataclass(frozen=True)
class ScanResult:
    """The most likely cluster first, then secondary clusters sharing no location with a
    more likely one; and the maximum statistic of each replication."""

    clusters: tuple[Cluster, ...]
    simulated_statistics: np.ndarray


def space_time_permutation_scan(
    case_locations: Sequence[Hashable],
    case_dates: Sequence[date] | np.ndarray,
    coordinates: Mapping[Hashable, tuple[float, float]],
    max_radius_km: float,
    max_share: float = 0.5,
    max_days: int = 7,
    min_cases: int = 2,
    replications: int = 999,
    seed: int | None = None,
    study_start: date | None = None,
    study_end: date | None = None,
) -> ScanResult:
    """Scan for space-time clusters of cases ending on `study_end`, one entry per case.

    - Cylinders: centred on each location of `coordinates` (latitude, longitude in
      degrees); the circle grows location by location, by chord distance on a sphere of
      radius 6367 km, up to `max_radius_km` and while it holds at most `max_share` of all
      cases; the time window is the last 1..`max_days` days of the study period.
    - Expected counts (the permutation model): with C_z cases at location z, C_d on day d
      and C in all, μ_zd = C_z C_d / C; a cylinder's μ sums μ_zd over it.
    - Statistic for a cylinder with c ≥ `min_cases` cases and c > μ:
      LLR = c ln(c / μ) + (C - c) ln((C - c) / (C - μ)), else 0.
    - Clusters: the best cylinder of each centre, ranked by LLR; the most likely cluster
      and then each next one sharing no location with those before it (SaTScan's default
      "no geographical overlap").
    - p-value: (1 + #{replications whose largest LLR ≥ LLR}) / (replications + 1), the
      replications permuting the dates of the cases with `seed`.
    """
    locations = list(coordinates)
    index = {location: i for i, location in enumerate(locations)}
    try:
        case_location = np.array([index[location] for location in case_locations], dtype=int)
    except KeyError as unknown:
        raise ValueError(f"no coordinates for location {unknown}") from None
    dates = np.asarray(case_dates, dtype="datetime64[D]")
    end = np.datetime64(study_end, "D") if study_end is not None else dates.max()
    start = np.datetime64(study_start, "D") if study_start is not None else dates.min()
    in_study = (dates >= start) & (dates <= end)
    case_location = case_location[in_study]
    days_before_end = (end - dates[in_study]).astype(int)  # 0 on the last day
    cases = _Cases(case_location, days_before_end, len(locations), max_days, min_cases)
    if cases.total == 0:
        return ScanResult(clusters=(), simulated_statistics=np.zeros(replications))

    circles = _circles(
        np.array([coordinates[location] for location in locations], dtype=float),
        cases.per_location,
        max_radius_km,
        max_share * cases.total,
    )
    members = circles.members.astype(float)
    expected = cases.expected(members)
    observed = cases.observed(members, days_before_end[None, :])[0]
    statistics = cases.statistics(observed, expected)
    simulated = _simulate(cases, circles.members, replications, np.random.default_rng(seed))

    clusters = []
    taken: set[int] = set()
    for circle, window in _best_per_center(statistics, circles):
        if taken.intersection(circles.order[circle]):
            continue
        taken.update(circles.order[circle])
        statistic = float(statistics[circle, window])
        p_value = (1 + np.sum(simulated >= statistic)) / (replications + 1)
        clusters.append(
            Cluster(
                center=locations[circles.center[circle]],
                locations=tuple(locations[m] for m in circles.order[circle]),
                radius_km=float(circles.radius[circle]),
                start_date=(end - np.timedelta64(window, "D")).astype(date),
                end_date=end.astype(date),
                observed=int(observed[circle, window]),
                expected=float(expected[circle, window]),
                statistic=statistic,
                p_value=float(p_value),
                recurrence_interval_days=float(1 / p_value),
            )
        )
    return ScanResult(clusters=tuple(clusters), simulated_statistics=simulated)


@dataclass(frozen=True)
class _Circles:
    members: np.ndarray  # (circles, locations) bool
    center: np.ndarray  # location index of each circle's centre
    radius: np.ndarray  # km to the farthest member
    order: list[np.ndarray]  # members by distance from the centre


def _circles(
    lat_lon: np.ndarray, cases_per_location: np.ndarray, max_radius_km: float, max_cases: float
) -> _Circles:
    lat, lon = np.radians(lat_lon).T
    points = EARTH_RADIUS_KM * np.column_stack(
        [np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)]
    )
    distance = np.linalg.norm(points[:, None, :] - points[None, :, :], axis=2)  # chord
    members, center, radius, order = [], [], [], []
    for i, row in enumerate(distance):
        nearest = np.argsort(row, kind="stable")
        reach = row[nearest]
        cumulative_cases = np.cumsum(cases_per_location[nearest])
        # A circle takes in every location at the same distance: it ends where the next
        # location is farther.
        ends = np.flatnonzero(np.append(reach[1:] > reach[:-1], True))
        ends = ends[(reach[ends] <= max_radius_km) & (cumulative_cases[ends] <= max_cases)]
        for last in ends:
            inside = np.zeros(len(row), dtype=bool)
            inside[nearest[: last + 1]] = True
            members.append(inside)
            center.append(i)
            radius.append(reach[last])
            order.append(nearest[: last + 1])
    return _Circles(
        members=np.array(members).reshape(-1, len(distance)),
        center=np.array(center, dtype=int),
        radius=np.array(radius),
        order=order,
    )


@dataclass(frozen=True)
class _Cases:
    location: np.ndarray  # location index of each case
    days_before_end: np.ndarray
    locations: int
    max_days: int
    min_cases: int

    @property
    def total(self) -> int:
        return len(self.location)

    @property
    def per_location(self) -> np.ndarray:
        return np.bincount(self.location, minlength=self.locations)

    def expected(self, members: np.ndarray) -> np.ndarray:
        """μ of each circle (rows) over the last 1..max_days days (columns)."""
        in_last_days = np.array(
            [np.sum(self.days_before_end < days) for days in range(1, self.max_days + 1)]
        )
        return np.outer(members @ self.per_location, in_last_days) / self.total

    def observed(self, members: np.ndarray, days_before_end: np.ndarray) -> np.ndarray:
        """Cases of each circle over the last 1..max_days days, for each row of dates
        (replications × cases): (replications, circles, days)."""
        replications = len(days_before_end)
        recent = days_before_end < self.max_days
        cell = (
            np.arange(replications)[:, None] * self.locations + self.location[None, :]
        ) * self.max_days + days_before_end
        counts = np.bincount(
            cell[recent], minlength=replications * self.locations * self.max_days
        ).reshape(replications, self.locations, self.max_days)
        return members @ np.cumsum(counts, axis=2).astype(float)

    def statistics(self, observed: np.ndarray, expected: np.ndarray) -> np.ndarray:
        """Log-likelihood ratio of each cylinder; 0 unless it has more cases than expected
        and at least min_cases."""
        total = self.total
        scored = (observed > expected) & (observed >= self.min_cases)
        with np.errstate(divide="ignore", invalid="ignore"):
            llr = xlogy(observed, observed / expected) + xlogy(
                total - observed, (total - observed) / (total - expected)
            )
        return np.where(scored, llr, 0.0)


def _simulate(
    cases: _Cases, members: np.ndarray, replications: int, rng: np.random.Generator
) -> np.ndarray:
    """Largest statistic of each replication, the dates of the cases randomly permuted."""
    # Circles that cannot reach min_cases never score; identical circles count once.
    can_score = members @ cases.per_location >= cases.min_cases
    useful = np.unique(members[can_score], axis=0).astype(float)
    expected = cases.expected(useful)
    maxima = np.zeros(replications)
    for first in range(0, replications, REPLICATIONS_PER_BATCH):
        batch = slice(first, min(first + REPLICATIONS_PER_BATCH, replications))
        shuffled = rng.permuted(
            np.tile(cases.days_before_end, (batch.stop - batch.start, 1)), axis=1
        )
        observed = cases.observed(useful, shuffled)
        maxima[batch] = cases.statistics(observed, expected).max(axis=(1, 2), initial=0.0)
    return maxima


def _best_per_center(statistics: np.ndarray, circles: _Circles) -> list[tuple[int, int]]:
    """(circle, days - 1) of each centre's highest-scoring cylinder, best first. Ties go to
    the smaller circle and then the shorter window, so that a circle padded with
    locations without cases ranks after the bare one (SaTScan reports the bare one)."""
    best = []
    for i in np.unique(circles.center):
        rows = np.flatnonzero(circles.center == i)  # by growing radius
        row, window = np.unravel_index(np.argmax(statistics[rows]), statistics[rows].shape)
        if statistics[rows[row], window] > 0:
            best.append((int(rows[row]), int(window)))
    return sorted(best, key=lambda cylinder: (-statistics[cylinder], circles.radius[cylinder[0]]))
