"""The figures of the surveillance dashboards, as plain data (no HTTP): the epidemic curve
with Rt and the doubling time, laboratory positivity, each source's trends and the signals
by township and day.

Everything is scoped to the user's jurisdiction (cards through `CaseReport.visible_to`,
counts through `DailyCount.visible_to`, signals through `Signal.visible_to`) and computed
by a fixed handful of GROUP BY queries (by day, region, classification or topic), never a
query per day or per region. The methods are `fangyi.analytics`'.

Imported cases: the report card has no flag for a case infected elsewhere, so every case
counts as local in Rt (EpiEstim's convention still treats the cases of the series' first day
as imported).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
from django.db.models import Count, F, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils.translation import gettext_lazy as _

from fangyi.analytics import DoublingTime, doubling_time, estimate_rt, positivity_rate
from fangyi.cases.models import CaseReport
from fangyi.core.timeliness import day_bounds
from fangyi.diseases.models import Classification, Disease
from fangyi.geo.models import Region
from fangyi.surveillance.counts import township_ids
from fangyi.surveillance.models import (
    TOPIC_POSITIVE,
    TOPIC_TESTED,
    DailyCount,
    SerialInterval,
    Signal,
    Source,
)
from fangyi.surveillance.signals import TOPIC_LABELS

COUNTED = (CaseReport.Status.SUBMITTED, CaseReport.Status.REVIEWED)
DEFAULT_DAYS = 60  # the date range of the curve and of positivity, by default
DEFAULT_DISEASE_DAYS = 90  # the default disease: the most cases over this many days
TREND_DAYS = 90
MAP_DAYS = 30
TOP_TOPICS = 5
RT_WINDOW = 7  # weekly sliding windows
# Cases with onset this many days before the curve's first day feed the infection pressure
# of its first windows (a serial interval rarely reaches beyond).
RT_LEAD_DAYS = 28
# Cori et al. 2013: estimate once the cumulative incidence reaches 12 cases.
RT_MIN_CASES = 12
DOUBLING_DAYS = 14
OPEN_STATUSES = (Signal.Status.RAISED, Signal.Status.SUSPECTED, Signal.Status.INVESTIGATING)


class By:
    ONSET = "onset"
    REPORT = "report"
    CHOICES = [(ONSET, _("按发病日期")), (REPORT, _("按报告日期"))]


def days_between(start: date, end: date) -> list[date]:
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


def within(queryset: QuerySet, region: Region | None, field: str = "region") -> QuerySet:
    """Records of the region's subtree (all of them without a region)."""
    if region is None:
        return queryset
    return queryset.filter(**{f"{field}__path__startswith": region.path})


def townships(user) -> QuerySet:
    return Region.objects.visible_to(user).filter(level=Region.Level.TOWNSHIP).order_by("path")


def counted_cases(user, region: Region | None = None) -> QuerySet:
    """The cards that count: reported (submitted or reviewed), not deleted, not a duplicate."""
    cards = CaseReport.objects.visible_to(user).filter(
        status__in=COUNTED, duplicate_of__isnull=True
    )
    return within(cards, region)


def diseases_reported(user) -> QuerySet:
    """Diseases with a counted card in the jurisdiction (the choices of the curve)."""
    return Disease.objects.filter(pk__in=counted_cases(user).values("disease_id")).order_by("code")


def default_disease(user, today: date) -> Disease | None:
    """The disease with the most cases reported over the last 90 days (or ever)."""
    cards = counted_cases(user)
    start, _end = day_bounds(today - timedelta(days=DEFAULT_DISEASE_DAYS - 1), today)
    for scope in (cards.filter(diagnosed_at__gte=start), cards):
        top = scope.values("disease_id").annotate(n=Count("id")).order_by("-n", "disease_id")
        if first := top.first():
            return Disease.objects.get(pk=first["disease_id"])
    return None


def daily_counts(cards: QuerySet, by: str, start: date, end: date) -> QuerySet:
    """(classification, day, n) rows of the cards by onset date or local report date."""
    if by == By.ONSET:
        cards = cards.filter(onset_date__gte=start, onset_date__lte=end)
        day = F("onset_date")
    else:
        since, until = day_bounds(start, end)
        cards = cards.filter(diagnosed_at__gte=since, diagnosed_at__lt=until)
        day = TruncDate("diagnosed_at")
    return cards.values("classification", day=day).annotate(n=Count("id")).order_by()


def onset_incidence(cards: QuerySet, start: date, end: date) -> np.ndarray:
    """Cases per day of onset, start..end."""
    incidence = np.zeros((end - start).days + 1)
    rows = (
        cards.filter(onset_date__gte=start, onset_date__lte=end)
        .values("onset_date")
        .annotate(n=Count("id"))
        .order_by()
    )
    for row in rows:
        incidence[(row["onset_date"] - start).days] = row["n"]
    return incidence


# ---- Rt and doubling time ----------------------------------------------------------------


@dataclass(frozen=True)
class RtPoint:
    """The Rt of the 7-day window ending on `t_end_day`: posterior mean and 95% CrI."""

    t_end_day: date
    mean: float
    q025: float
    q975: float


@dataclass(frozen=True)
class RtEstimate:
    serial_interval: SerialInterval
    points: list[RtPoint]

    @property
    def latest(self) -> RtPoint | None:
        return self.points[-1] if self.points else None


def rt_incidence(cards: QuerySet, start: date, end: date) -> tuple[date, np.ndarray]:
    """The onset incidence Rt is estimated on: from the first onset in the 28 days before
    `start` (or after) to `end`. Leading days without a case are dropped, since EpiEstim
    takes the first day's cases as the epidemic's seeds."""
    first = start - timedelta(days=RT_LEAD_DAYS)
    incidence = onset_incidence(cards, first, end)
    nonzero = np.flatnonzero(incidence)
    if not len(nonzero):
        return end, incidence[:0]
    return first + timedelta(days=int(nonzero[0])), incidence[nonzero[0] :]


def rt_estimate(cards: QuerySet, disease: Disease, start: date, end: date) -> RtEstimate | None:
    """Rt of the disease's cards over weekly sliding windows (Cori 2013, analytics.estimate_rt),
    for the windows ending start..end once 12 cases have been seen; None without a serial
    interval for the disease."""
    serial_interval = SerialInterval.objects.filter(disease=disease).first()
    if serial_interval is None:
        return None
    first_day, incidence = rt_incidence(cards.filter(disease=disease), start, end)
    points: list[RtPoint] = []
    if len(incidence) > RT_WINDOW:
        result = estimate_rt(
            incidence, serial_interval.mean_days, serial_interval.sd_days, window=RT_WINDOW
        )
        seen = np.cumsum(incidence)
        for t_end, mean, low, high in zip(
            result.t_end, result.mean, result.q025, result.q975, strict=True
        ):
            day = first_day + timedelta(days=int(t_end) - 1)
            if day >= start and np.isfinite(mean) and seen[t_end - 1] >= RT_MIN_CASES:
                points.append(RtPoint(day, float(mean), float(low), float(high)))
    return RtEstimate(serial_interval, points)


@dataclass(frozen=True)
class Doubling:
    """The doubling time of the last 14 days; `growing` False when the rate is not above 0
    (or cannot be estimated: `estimated` False)."""

    estimate: DoublingTime | None

    @property
    def estimated(self) -> bool:
        return self.estimate is not None and math.isfinite(self.estimate.growth_rate)

    @property
    def growing(self) -> bool:
        return self.estimated and self.estimate.growth_rate > 0

    @property
    def days(self) -> float:
        return self.estimate.days

    @property
    def lower(self) -> float:
        return self.estimate.lower

    @property
    def upper(self) -> float | None:
        """None where the interval reaches no growth (an unbounded doubling time)."""
        return self.estimate.upper if math.isfinite(self.estimate.upper) else None


def doubling(totals: list[int]) -> Doubling:
    recent = totals[-DOUBLING_DAYS:]
    if len(recent) < DOUBLING_DAYS or not sum(recent):
        return Doubling(None)
    return Doubling(doubling_time(recent))


# ---- Epidemic curve ----------------------------------------------------------------------


@dataclass(frozen=True)
class EpiCurve:
    disease: Disease
    region: Region | None
    by: str
    start: date
    end: date
    days: list[date]
    # classification → cases per day (only classifications with a case), in the order of
    # Classification.
    series: dict[str, list[int]]
    without_onset: int  # cards of the period (by report date) with no onset date
    rt: RtEstimate | None
    doubling: Doubling

    @property
    def totals(self) -> list[int]:
        return daily_totals(self.series, len(self.days))

    @property
    def total(self) -> int:
        return sum(self.totals)

    def rows(self) -> list[tuple[date, list[int], int]]:
        """(day, cases per classification, total) for each day."""
        columns = list(zip(*self.series.values(), strict=True)) or [()] * len(self.days)
        return list(zip(self.days, map(list, columns), self.totals, strict=True))

    def chart(self) -> dict:
        labels = dict(Classification.choices)
        rt = self.rt.points if self.rt else []
        return {
            "days": [day.isoformat() for day in self.days],
            "series": [
                {"name": str(labels[kind]), "data": data} for kind, data in self.series.items()
            ],
            "rt": {
                "days": [p.t_end_day.isoformat() for p in rt],
                "mean": [round(p.mean, 3) for p in rt],
                "lower": [round(p.q025, 3) for p in rt],
                "upper": [round(p.q975, 3) for p in rt],
            },
        }


def daily_totals(series: dict[str, list[int]], days: int) -> list[int]:
    return [sum(day) for day in zip(*series.values(), strict=True)] or [0] * days


def epicurve(
    user,
    disease: Disease,
    *,
    start: date,
    end: date,
    by: str = By.ONSET,
    region: Region | None = None,
) -> EpiCurve:
    cards = counted_cases(user, region).filter(disease=disease)
    days = days_between(start, end)
    cells = defaultdict(lambda: [0] * len(days))
    for row in daily_counts(cards, by, start, end):
        cells[row["classification"]][(row["day"] - start).days] += row["n"]
    series = {kind: cells[kind] for kind in Classification.values if kind in cells}
    since, until = day_bounds(start, end)
    without_onset = cards.filter(
        onset_date__isnull=True, diagnosed_at__gte=since, diagnosed_at__lt=until
    ).count()
    return EpiCurve(
        disease=disease,
        region=region,
        by=by,
        start=start,
        end=end,
        days=days,
        series=series,
        without_onset=without_onset,
        rt=rt_estimate(cards, disease, start, end),
        doubling=doubling(daily_totals(series, len(days))),
    )


# ---- Laboratory positivity ---------------------------------------------------------------


@dataclass(frozen=True)
class Rate:
    """Positives among tested with the Wilson 95% interval (None where nothing was tested)."""

    tested: int
    positive: int
    rate: float | None
    lower: float | None
    upper: float | None

    @classmethod
    def of(cls, positive: int, tested: int) -> Rate:
        if not tested:
            return cls(tested, positive, None, None, None)
        found = positivity_rate(positive, tested)
        return cls(tested, positive, float(found.rate), float(found.lower), float(found.upper))

    def percent(self) -> tuple[float, float, float] | None:
        """(rate, lower, upper) in percent, for display."""
        if self.rate is None:
            return None
        return tuple(round(100 * value, 2) for value in (self.rate, self.lower, self.upper))


@dataclass(frozen=True)
class TownshipRate:
    region_id: int
    name: str
    period: Rate
    last_week: Rate


@dataclass(frozen=True)
class Positivity:
    region: Region | None
    start: date
    end: date
    days: list[date]
    daily: list[Rate]
    period: Rate
    last_week: Rate  # the 7 days ending on `end`
    townships: list[TownshipRate]

    def chart(self) -> dict:
        def percent(values):
            return [None if v is None else round(100 * v, 2) for v in values]

        return {
            "days": [day.isoformat() for day in self.days],
            "tested": [r.tested for r in self.daily],
            "positive": [r.positive for r in self.daily],
            "rate": percent(r.rate for r in self.daily),
            "lower": percent(r.lower for r in self.daily),
            "upper": percent(r.upper for r in self.daily),
        }


def lab_counts(user, region: Region | None, start: date, end: date) -> QuerySet:
    counts = DailyCount.objects.visible_to(user).filter(
        source=Source.LAB, topic__in=(TOPIC_TESTED, TOPIC_POSITIVE), day__gte=start, day__lte=end
    )
    return within(counts, region)


def positivity(user, *, start: date, end: date, region: Region | None = None) -> Positivity:
    """Daily positivity of the samples collected start..end (the lab source's counts), with
    totals of the period and of its last 7 days, overall and per township."""
    counts = lab_counts(user, region, start, end)
    days = days_between(start, end)
    tested, positive = [0] * len(days), [0] * len(days)
    for row in counts.values("day", "topic").annotate(n=Sum("count")).order_by():
        target = tested if row["topic"] == TOPIC_TESTED else positive
        target[(row["day"] - start).days] += row["n"]
    week = Q(day__gt=end - timedelta(days=7))
    per_region = (
        counts.values("region_id", "region__name", "region__path")
        .annotate(
            tested=Sum("count", filter=Q(topic=TOPIC_TESTED)),
            positive=Sum("count", filter=Q(topic=TOPIC_POSITIVE)),
            week_tested=Sum("count", filter=Q(topic=TOPIC_TESTED) & week),
            week_positive=Sum("count", filter=Q(topic=TOPIC_POSITIVE) & week),
        )
        .order_by("region__path")
    )
    rows = [
        TownshipRate(
            row["region_id"],
            row["region__name"],
            Rate.of(row["positive"] or 0, row["tested"] or 0),
            Rate.of(row["week_positive"] or 0, row["week_tested"] or 0),
        )
        for row in per_region
    ]
    return Positivity(
        region=region,
        start=start,
        end=end,
        days=days,
        daily=[Rate.of(p, t) for p, t in zip(positive, tested, strict=True)],
        period=Rate.of(sum(positive), sum(tested)),
        last_week=Rate.of(sum(positive[-7:]), sum(tested[-7:])),
        townships=rows,
    )


# ---- Per-source trends -------------------------------------------------------------------


def topic_labels(source: str, topics) -> dict[str, str]:
    """Labels of a source's topics (one query for the disease names of the case source)."""
    topics = set(topics)
    if source == Source.CASES:
        names = dict(Disease.objects.filter(code__in=topics).values_list("code", "name"))
        return {topic: names.get(topic, topic) for topic in topics}
    return {topic: str(TOPIC_LABELS.get(topic, topic)) for topic in topics}


@dataclass(frozen=True)
class SourceTrend:
    source: str
    label: str
    topics: list[tuple[str, str, list[int]]]  # (topic, label, count per day), top 5
    signal_days: list[tuple[date, str]]  # (day, topic label) of the source's signals

    @property
    def total(self) -> int:
        return sum(sum(data) for _topic, _label, data in self.topics)


@dataclass(frozen=True)
class Trends:
    region: Region | None
    start: date
    end: date
    days: list[date]
    sources: list[SourceTrend]

    def chart(self) -> dict:
        return {
            "days": [day.isoformat() for day in self.days],
            "sources": [
                {
                    "id": trend.source,
                    "series": [
                        {"name": label, "data": data} for _topic, label, data in trend.topics
                    ],
                    "signals": [[day.isoformat(), label] for day, label in trend.signal_days],
                }
                for trend in self.sources
            ],
        }


def trends(user, *, end: date, region: Region | None = None, days: int = TREND_DAYS) -> Trends:
    """Each source's daily counts over the last 90 days for its 5 largest topics, and the
    days its primary signals were raised."""
    start = end - timedelta(days=days - 1)
    all_days = days_between(start, end)
    counts = within(
        DailyCount.objects.visible_to(user).filter(day__gte=start, day__lte=end), region
    )
    series: dict[str, dict[str, list[int]]] = defaultdict(dict)
    rows = counts.values("source", "topic", "day").annotate(n=Sum("count")).order_by()
    for row in rows:
        data = series[row["source"]].setdefault(row["topic"], [0] * len(all_days))
        data[(row["day"] - start).days] += row["n"]
    signals = within(
        Signal.objects.visible_to(user).primary().filter(day__gte=start, day__lte=end), region
    )
    marks: dict[str, set[tuple[date, str]]] = defaultdict(set)
    for source, day, label in signals.values_list("source", "day", "topic_label"):
        marks[source].add((day, label))
    result = []
    for source, source_label in Source.choices:
        top = sorted(series[source].items(), key=lambda item: (-sum(item[1]), item[0]))
        top = top[:TOP_TOPICS]
        labels = topic_labels(source, [topic for topic, _data in top])
        result.append(
            SourceTrend(
                source=source,
                label=str(source_label),
                topics=[(topic, labels[topic], data) for topic, data in top],
                signal_days=sorted(marks[source]),
            )
        )
    return Trends(region, start, end, all_days, result)


# ---- Signals by township and day ---------------------------------------------------------


@dataclass
class RegionSignals:
    region: Region
    open: int = 0
    dismissed: int = 0
    confirmed: int = 0

    @property
    def total(self) -> int:
        return self.open + self.dismissed + self.confirmed


@dataclass(frozen=True)
class SignalMap:
    start: date
    end: date
    days: list[date]
    rows: list[RegionSignals]  # the townships (and the county, for county-level signals)
    cells: dict[tuple[int, date], int] = field(default_factory=dict)  # (region id, day) → n

    def chart(self) -> dict:
        index = {row.region.pk: y for y, row in enumerate(self.rows)}
        return {
            "days": [day.isoformat() for day in self.days],
            "regions": [row.region.name for row in self.rows],
            "region_ids": [row.region.pk for row in self.rows],
            "cells": [
                [(day - self.start).days, index[region_id], n]
                for (region_id, day), n in sorted(self.cells.items())
            ],
        }


def signal_map(user, *, end: date, days: int = MAP_DAYS) -> SignalMap:
    """Primary signals per township and day over the last 30 days, and per township the
    signals of the period still open, dismissed and confirmed (suspected and under
    investigation count as open)."""
    start = end - timedelta(days=days - 1)
    signals = Signal.objects.visible_to(user).primary().filter(day__gte=start, day__lte=end)
    township_of = township_ids()
    rows = {region.pk: RegionSignals(region) for region in townships(user)}
    per_cell = signals.values("region_id", "day", "status").annotate(n=Count("id")).order_by()
    cells: dict[tuple[int, date], int] = defaultdict(int)
    found = list(per_cell)
    others = {township_of(row["region_id"]) for row in found} - set(rows)
    for region in Region.objects.filter(pk__in=others).order_by("path"):
        rows[region.pk] = RegionSignals(region)
    for row in found:
        region_id = township_of(row["region_id"])
        cells[region_id, row["day"]] += row["n"]
        if row["status"] in OPEN_STATUSES:
            rows[region_id].open += row["n"]
        elif row["status"] == Signal.Status.DISMISSED:
            rows[region_id].dismissed += row["n"]
        else:
            rows[region_id].confirmed += row["n"]
    ordered = sorted(rows.values(), key=lambda row: row.region.path)
    return SignalMap(start, end, days_between(start, end), ordered, dict(cells))
