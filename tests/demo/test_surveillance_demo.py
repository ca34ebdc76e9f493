"""The demo's surveillance (`fangyi.demo.surveillance`) on the session's demo county: built
inside the test's transaction; the daily run must find the injected outbreak."""

from datetime import timedelta

import pytest
from django.utils import timezone

from fangyi.demo.surveillance import OUTBREAK_TOWNSHIP, build_surveillance, outbreak_signals
from fangyi.geo.models import Region
from fangyi.surveillance.models import (
    DailyCount,
    DetectorRun,
    PharmacySale,
    SchoolAbsence,
    Signal,
    Source,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def summary(django_db_setup, django_db_blocker):
    """Built once for the module, rolled back at its end."""
    from django.db import transaction

    with django_db_blocker.unblock(), transaction.atomic():
        yield build_surveillance(5, now=timezone.now().replace(minute=0, second=0))
        transaction.set_rollback(True)


def test_two_years_of_syndromic_history_per_township(summary):
    townships = Region.objects.filter(level=Region.Level.TOWNSHIP).count()
    history = DailyCount.objects.filter(imported=True, source=Source.FEVER_CLINIC, topic="fever")
    assert history.values("region").distinct().count() == townships
    days = history.dates("day", "day")
    assert (days.last() - days.first()).days >= 700
    # Winter peak: January's fever counts well above July's.
    january = sum(history.filter(day__month=1).values_list("count", flat=True))
    july = sum(history.filter(day__month=7).values_list("count", flat=True))
    assert january > 1.5 * july


def test_records_come_through_the_write_paths(summary):
    assert summary.sales == PharmacySale.objects.count() > 500
    assert PharmacySale.objects.filter(has_fever=True).exists()
    assert SchoolAbsence.objects.exists() and summary.visits > 300
    recent = DailyCount.objects.filter(imported=False, source=Source.PHARMACY)
    assert sum(recent.values_list("count", flat=True)) == PharmacySale.objects.count()


def test_the_daily_run_finds_the_injected_outbreak(summary):
    today = timezone.localdate()
    township = Region.objects.filter(level=Region.Level.TOWNSHIP).order_by("code")[
        OUTBREAK_TOWNSHIP
    ]
    found = outbreak_signals(township, today)
    assert summary.outbreak_signals == found.count() >= 2
    assert {s.source for s in found} >= {Source.SCHOOL_ABSENCE, Source.FEVER_CLINIC}
    waiting = found.filter(merged_into__isnull=True, status=Signal.Status.RAISED)
    assert waiting.exists()  # left for the duty epidemiologist to verify
    assert DetectorRun.objects.filter(day=today - timedelta(days=1), complete=True).exists()


def test_earlier_signals_were_answered_within_hours(summary):
    today = timezone.localdate()
    earlier = Signal.objects.primary().filter(day__lt=today - timedelta(days=1))
    assert earlier.exists()
    assert not earlier.filter(status=Signal.Status.RAISED).exists()
    for signal in earlier:
        assert signal.verified_at - signal.raised_at < timedelta(hours=10)
