"""Daily counts per source × topic × township: what the detectors and trend charts read.

A count is never incremented in place: `refresh(source, days)` recomputes the given days of
a source from its records (one GROUP BY per source) and replaces them, so corrections,
deletions and re-posted batches leave the right figure. The writers of this module's own
sources refresh the days a batch touched; the records of the cases, measures and lab
modules are refreshed over a trailing window (`TRAILING_DAYS`) by the hourly job and before
every detector run, so late results and corrected cards reach the counts too.

The unit is the township (the record's region, or the township above it; a record placed at
the county itself counts for the county): the smallest unit the detectors watch (CIDARS
computes per county; the county series are the sums of its townships'). Finer places are
the business of the case and sample records themselves.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from django.db import transaction
from django.db.models import Count, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from fangyi.core.timeliness import day_bounds
from fangyi.geo.models import PATH_SEPARATOR, Region
from fangyi.surveillance.models import (
    TOPIC_ABNORMAL,
    TOPIC_POSITIVE,
    TOPIC_TESTED,
    TOPIC_VISITS,
    DailyCount,
    FeverClinicVisit,
    PharmacySale,
    SchoolAbsence,
    Source,
)

# Days recomputed for the sources of other modules: a card reviewed, a result imported or a
# reading corrected within this many days reaches the counts.
TRAILING_DAYS = 14
OWN_SOURCES = (Source.PHARMACY, Source.FEVER_CLINIC, Source.SCHOOL_ABSENCE)
TOWNSHIP_DEPTH = 2  # county/township/


def township_ids() -> Callable[[int], int]:
    """region id → id of its township (itself if above or at one). One query."""
    rows = list(Region.objects.values_list("id", "path"))
    by_path = {path: pk for pk, path in rows}
    of = {}
    for pk, path in rows:
        codes = path.rstrip(PATH_SEPARATOR).split(PATH_SEPARATOR)[:TOWNSHIP_DEPTH]
        of[pk] = by_path[PATH_SEPARATOR.join(codes) + PATH_SEPARATOR]
    return of.__getitem__


def township_of(region: Region) -> Region:
    codes = region.path.rstrip(PATH_SEPARATOR).split(PATH_SEPARATOR)
    if len(codes) <= TOWNSHIP_DEPTH:
        return region
    return Region.objects.get(path=PATH_SEPARATOR.join(codes[:TOWNSHIP_DEPTH]) + PATH_SEPARATOR)


# (topic, region id, day, count) rows of one source over a set of days.
Rows = Iterable[tuple[str, int, date, int]]


def _grouped(queryset: QuerySet, topic, day_field: str = "day", measure=None) -> Rows:
    """Group a queryset by region and day; `topic` is a fixed topic or a field name
    given as ("field", name)."""
    day = day_field if day_field == "day" else "_day"
    if day_field != "day":
        queryset = queryset.annotate(_day=TruncDate(day_field))
    keys = ["region_id", day] + ([topic[1]] if isinstance(topic, tuple) else [])
    rows = queryset.values(*keys).annotate(n=measure or Count("id")).order_by()
    for row in rows:
        name = row[topic[1]] if isinstance(topic, tuple) else topic
        yield name, row["region_id"], row[day], row["n"]


def _pharmacy(days: list[date]) -> Rows:
    return _grouped(PharmacySale.objects.filter(day__in=days), ("field", "drug_category"))


def _fever_clinic(days: list[date]) -> Rows:
    visits = FeverClinicVisit.objects.filter(day__in=days)
    yield from _grouped(visits, TOPIC_VISITS)
    # A visit counts once in each of its syndromes (a JSON list: expanded in Python, a
    # day's visits of a county being thousands at most).
    tally: Counter = Counter()
    for region_id, day, syndromes in visits.values_list("region_id", "day", "syndromes"):
        for syndrome in syndromes:
            tally[syndrome, region_id, day] += 1
    for (syndrome, region_id, day), n in tally.items():
        yield syndrome, region_id, day, n


def _school_absence(days: list[date]) -> Rows:
    return _grouped(
        SchoolAbsence.objects.filter(day__in=days), ("field", "syndrome"), measure=Sum("absent")
    )


def _cases(days: list[date]) -> Rows:
    """Reported cards (submitted or reviewed, not deleted) by the local day of diagnosis:
    the day the case became known, which is what a prospective detector can see."""
    from fangyi.cases.models import CaseReport

    start, end = day_bounds(min(days), max(days))
    cards = CaseReport.objects.filter(
        status__in=(CaseReport.Status.SUBMITTED, CaseReport.Status.REVIEWED),
        diagnosed_at__gte=start,
        diagnosed_at__lt=end,
        duplicate_of__isnull=True,
    )
    return _grouped(cards, ("field", "disease__code"), day_field="diagnosed_at")


def _monitoring(days: list[date]) -> Rows:
    """People under control with an abnormal reading that day (each counted once)."""
    from fangyi.measures.models import HealthCheck

    checks = HealthCheck.objects.filter(abnormal=True, day__in=days)
    return _grouped(checks, TOPIC_ABNORMAL, measure=Count("measure_id", distinct=True))


def _environment(days: list[date]) -> Rows:
    from fangyi.lab.models import Result, Sample

    start, end = day_bounds(min(days), max(days))
    positives = Sample.objects.filter(
        place__isnull=False, result=Result.POSITIVE, collected_at__gte=start, collected_at__lt=end
    )
    return _grouped(positives, TOPIC_POSITIVE, day_field="collected_at")


def _lab(days: list[date]) -> Rows:
    """Tubes of persons resulted (negative or positive), and the positive ones, by the day
    of collection: the positivity of what was sampled that day."""
    from fangyi.lab.models import Result, Sample

    start, end = day_bounds(min(days), max(days))
    tubes = Sample.objects.filter(
        place__isnull=True,
        result__in=(Result.NEGATIVE, Result.POSITIVE),
        collected_at__gte=start,
        collected_at__lt=end,
    )
    yield from _grouped(tubes, TOPIC_TESTED, day_field="collected_at")
    yield from _grouped(tubes.filter(result=Result.POSITIVE), TOPIC_POSITIVE, "collected_at")


COUNTERS: dict[str, Callable[[list[date]], Rows]] = {
    Source.PHARMACY: _pharmacy,
    Source.FEVER_CLINIC: _fever_clinic,
    Source.SCHOOL_ABSENCE: _school_absence,
    Source.CASES: _cases,
    Source.MONITORING: _monitoring,
    Source.ENVIRONMENT: _environment,
    Source.LAB: _lab,
}


@transaction.atomic
def refresh(source: str, days: Iterable[date], township: Callable[[int], int] | None = None) -> int:
    """Recompute the counts of `source` on `days` from its records; returns the number of
    count rows written. Days outside the records' range simply end with no rows.
    `township` (from `township_ids`) saves reloading the regions when refreshing many."""
    wanted = set(days)
    if not wanted:
        return 0
    days = sorted(wanted)
    township = township or township_ids()
    totals: Counter = Counter()
    for topic, region_id, day, n in COUNTERS[source](days):
        if day in wanted and n:
            totals[topic, township(region_id), day] += n
    DailyCount.objects.filter(source=source, day__in=days, imported=False).delete()
    DailyCount.objects.bulk_create(
        DailyCount(source=source, topic=topic, region_id=region_id, day=day, count=n)
        for (topic, region_id, day), n in totals.items()
    )
    return len(totals)


def refresh_recent(today: date | None = None, *, days: int = TRAILING_DAYS) -> int:
    """Refresh every source over the trailing window ending today."""
    today = today or timezone.localdate()
    window = [today - timedelta(days=n) for n in range(days)]
    township = township_ids()
    return sum(refresh(source, window, township) for source in Source.values)


# ---- History from before the system ---------------------------------------------------


@dataclass(frozen=True)
class HistoryRow:
    source: str
    topic: str
    region_id: int
    day: date
    count: int


@transaction.atomic
def import_history(rows: list[HistoryRow]) -> tuple[int, int]:
    """Store imported daily counts (`imported=True`): a (source, topic, region, day) already
    imported gets the file's count, so importing the same file again changes nothing.
    Returns (created, updated). Two queries and two bulk writes, whatever the size."""
    if not rows:
        return 0, 0
    days = [row.day for row in rows]
    existing = {
        (c.source, c.topic, c.region_id, c.day): c
        for c in DailyCount.objects.filter(
            imported=True,
            source__in={row.source for row in rows},
            region_id__in={row.region_id for row in rows},
            day__gte=min(days),
            day__lte=max(days),
        )
    }
    fresh, changed = [], []
    for row in rows:
        count = existing.get((row.source, row.topic, row.region_id, row.day))
        if count is None:
            fresh.append(
                DailyCount(
                    source=row.source,
                    topic=row.topic,
                    region_id=row.region_id,
                    day=row.day,
                    count=row.count,
                    imported=True,
                )
            )
        elif count.count != row.count:
            count.count = row.count
            changed.append(count)
    DailyCount.objects.bulk_create(fresh, batch_size=2000)
    DailyCount.objects.bulk_update(changed, ["count"], batch_size=2000)
    return len(fresh), len(changed)
