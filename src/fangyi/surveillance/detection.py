"""The daily detector run: every active rule over its series, alarms stored as signals.

For a day D each rule reads its source's daily counts over the history its method needs,
as one matrix (one row per topic × township, or per topic for the county, summed over its
townships), calls the `fangyi.analytics` method once on the whole matrix and keeps the
alarms of D's column. A new alarm becomes a signal sent to the duty epidemiologist; an
alarm on a series that already had an open (or confirmed) signal within the rule's
`merge_days` is stored merged into that one, without a new alert (the alert-fatigue guard).
A signal already stored for the same rule, topic, region and day is left alone, so running
the same day again changes nothing but the run's counters.

Method parameters (`DetectorRule.params`, defaults below):
- fixed_threshold: threshold (1) on D's count.
- moving_percentile: percentile (80), years (3), periods_around (2), window_days (7),
  interpolation ("linear") on the daily counts.
- ears_c1/c2/c3: alpha (0.001), baseline (7), min_sigma (0.0).
- cusum: k (1.04), h (2.26), transform ("standard"), baseline_days (28): the in-control
  mean m is the mean of the `baseline_days` days before the chart's 14 days; the chart
  starts 14 days before D.
- farrington: weekly sums of the 7-day blocks ending on D; b (2), w (3), alpha (0.05),
  reweight, trend, … as `farrington_flexible`; alarms on the week ending on D.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from fangyi import analytics
from fangyi.geo.models import Region
from fangyi.surveillance import counts
from fangyi.surveillance.models import (
    DailyCount,
    DetectorRule,
    DetectorRun,
    Method,
    RegionLevel,
)

CHART_DAYS = 14  # CUSUM: the days the chart runs over before alarming on D


@dataclass(frozen=True)
class Alarm:
    topic: str
    region_id: int
    observed: float
    threshold: float | None


def history_days(rule: DetectorRule) -> int:
    """Days of counts (D included) the rule's method needs."""
    p = rule.params
    match rule.method:
        case Method.FIXED_THRESHOLD:
            return 1
        case Method.MOVING_PERCENTILE:
            years, around, window = (
                p.get("years", 3),
                p.get("periods_around", 2),
                p.get("window_days", 7),
            )
            return years * 366 + (around + 1) * window + window
        case Method.EARS_C1 | Method.EARS_C2 | Method.EARS_C3:
            return p.get("baseline", 7) + 5
        case Method.CUSUM:
            return p.get("baseline_days", 28) + CHART_DAYS
        case Method.FARRINGTON:
            return 7 * (p.get("b", 2) * 52 + p.get("w", 3) + 1)
    raise ValueError(rule.method)


def _series(rule: DetectorRule, day: date, topics: Iterable[str] | None):
    """(keys, matrix, dates): one row per (topic, region id) with counts on consecutive
    dates ending on `day`; series without a count in the window are left out (no method
    alarms on zeros only)."""
    length = history_days(rule)
    start = day - timedelta(days=length - 1)
    rows = DailyCount.objects.filter(source=rule.source, day__gte=start, day__lte=day)
    if topics is not None:
        rows = rows.filter(topic__in=list(topics))
    county = rule.level == RegionLevel.COUNTY
    data = list(rows.values_list("topic", "region__path", "region_id", "day", "count"))
    if county:
        top = dict(Region.objects.filter(parent__isnull=True).values_list("path", "id"))
    keys: dict[tuple[str, int], int] = {}
    cells = []
    for topic, path, region_id, when, n in data:
        if county:
            region_id = top[path.split("/", 1)[0] + "/"]
        row = keys.setdefault((topic, region_id), len(keys))
        cells.append((row, (when - start).days, n))
    matrix = np.zeros((len(keys), length))
    if cells:
        r, c, n = np.array(cells).T
        np.add.at(matrix, (r.astype(int), c.astype(int)), n)
    dates = np.arange(np.datetime64(start), np.datetime64(day + timedelta(days=1)))
    return list(keys), matrix, dates


def evaluate(rule: DetectorRule, matrix: np.ndarray, dates: np.ndarray):
    """(observed, threshold, alarm) of the last day for each row of the matrix."""
    p = rule.params
    match rule.method:
        case Method.FIXED_THRESHOLD:
            result = analytics.fixed_threshold(matrix, p.get("threshold", 1))
            return result.count[:, -1], result.threshold[:, -1], result.alarm[:, -1]
        case Method.MOVING_PERCENTILE:
            result = analytics.moving_percentile(
                matrix,
                dates,
                percentile=p.get("percentile", 80),
                years=p.get("years", 3),
                periods_around=p.get("periods_around", 2),
                window_days=p.get("window_days", 7),
                interpolation=p.get("interpolation", "linear"),
            )
            return result.count[:, -1], result.threshold[:, -1], result.alarm[:, -1]
        case Method.EARS_C1 | Method.EARS_C2 | Method.EARS_C3:
            result = analytics.ears(
                matrix,
                method=rule.method[-2:].upper(),
                baseline=p.get("baseline", 7),
                alpha=p.get("alpha", 0.001),
                min_sigma=p.get("min_sigma", 0.0),
            )
            return matrix[:, -1], result.upper[:, -1], result.alarm[:, -1]
        case Method.CUSUM:
            chart = matrix[:, -CHART_DAYS:]
            mean = matrix[:, :-CHART_DAYS].mean(axis=1, keepdims=True)
            mean = np.maximum(mean, 0.5)  # a series silent before has m > 0 all the same
            result = analytics.cusum(
                chart,
                mean,
                k=p.get("k", 1.04),
                h=p.get("h", 2.26),
                transform=p.get("transform", "standard"),
            )
            return chart[:, -1], result.upper[:, -1], result.alarm[:, -1]
        case Method.FARRINGTON:
            weeks = matrix.reshape(len(matrix), -1, 7).sum(axis=2)
            options = {k: v for k, v in p.items() if k not in ("freq", "range")}
            options.setdefault("b", 2)
            result = analytics.farrington_flexible(
                weeks, freq=52, range=[weeks.shape[1] - 1], **options
            )
            return weeks[:, -1], result.upper[:, -1], result.alarm[:, -1]
    raise ValueError(rule.method)


def detect(
    rule: DetectorRule, day: date, topics: Iterable[str] | None = None
) -> tuple[int, list[Alarm]]:
    """(number of series watched, alarms on `day`) of one rule."""
    keys, matrix, dates = _series(rule, day, topics)
    if not keys:
        return 0, []
    observed, threshold, alarm = evaluate(rule, matrix, dates)
    return len(keys), [
        Alarm(
            topic,
            region_id,
            float(observed[i]),
            None if np.isnan(threshold[i]) else float(threshold[i]),
        )
        for i, (topic, region_id) in enumerate(keys)
        if alarm[i]
    ]


def rule_topics(rules: list[DetectorRule]) -> dict[int, list[str] | None]:
    """The topics each rule watches: its own, or (blank topic) those of its source and
    level that no other rule of the source and level names, None meaning all. A topic named
    only by inactive rules is watched by none: switching its rule off switches it off."""
    named: dict[tuple[str, str], set[str]] = {}
    for rule in rules:
        if rule.topic:
            named.setdefault((rule.source, rule.level), set()).add(rule.topic)
    topics = {}
    for rule in rules:
        if rule.topic:
            topics[rule.pk] = [rule.topic]
        else:
            excluded = named.get((rule.source, rule.level), set())
            topics[rule.pk] = _all_topics_but(rule.source, excluded)
    return topics


def _all_topics_but(source: str, excluded: set[str]) -> list[str] | None:
    if not excluded:
        return None
    every = DailyCount.objects.filter(source=source).values_list("topic", flat=True).distinct()
    return [topic for topic in every if topic not in excluded]


def run_day(
    day: date | None = None,
    *,
    user=None,
    now: datetime | None = None,
    single_case_only: bool = False,
    refresh: bool = True,
) -> DetectorRun:
    """Refresh the counts (unless the caller just did) and run every active rule (or only
    the single-case ones) on `day` (default: today). Idempotent."""
    from fangyi.surveillance import signals

    now = now or timezone.now()
    day = day or timezone.localdate(now)
    clock = time.perf_counter()
    if refresh:
        counts.refresh_recent(day)
    every_rule = list(DetectorRule.objects.all())
    topics = rule_topics(every_rule)
    rules = [
        rule for rule in every_rule if rule.is_active and (rule.single_case or not single_case_only)
    ]
    detected = [(rule, *detect(rule, day, topics[rule.pk])) for rule in rules]
    found = [(rule, alarms) for rule, _, alarms in detected]
    with transaction.atomic():
        run, _created = DetectorRun.objects.select_for_update().get_or_create(
            day=day, defaults={"started_at": now}
        )
        run.started_at = now
        run.runs += 1
        run.complete = run.complete or not single_case_only
        run.triggered_by = user
        run.series = sum(series for _, series, _ in detected)
        run.alarms = sum(len(alarms) for _, alarms in found)
        new, merged = signals.store(run, found, now=now)
        run.new_signals += new
        run.merged += merged
        run.finished_at = timezone.now()
        run.seconds = round(time.perf_counter() - clock, 3)
        run.save()
    return run


def run_if_due(now: datetime | None = None) -> None:
    """The hourly job. The counts of the trailing days are refreshed and the single-case
    rules run on today (a plague case must be answered within 2 hours, not tomorrow); from
    the run hour on, yesterday — the last complete day — gets its full run once."""
    now = now or timezone.now()
    local = timezone.localtime(now)
    today = local.date()
    counts.refresh_recent(today)  # the window ending today covers yesterday too
    run_day(today, now=now, single_case_only=True, refresh=False)
    yesterday = today - timedelta(days=1)
    if (
        local.hour >= settings.SURVEILLANCE_RUN_HOUR
        and not DetectorRun.objects.filter(day=yesterday, complete=True).exists()
    ):
        run_day(yesterday, now=now, refresh=False)
