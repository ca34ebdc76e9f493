"""The demo's arrivals (`fangyi.demo.travel`) on the session's demo county: built inside the
test's transaction and checked for what the travel pages and the demo users rely on."""

import pytest
from django.utils import timezone

from fangyi.core.models import Duty, Task
from fangyi.demo.travel import ARRIVALS, build_travel
from fangyi.travel.models import Arrival, DailyReport, HouseholdVisit, RiskArea, RiskFlag

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def summary(django_db_setup, django_db_blocker):
    """Built once for the module, rolled back at its end."""
    from django.db import transaction

    with django_db_blocker.unblock(), transaction.atomic():
        result = build_travel(3, now=timezone.now().replace(minute=0, second=0))
        yield result
        transaction.set_rollback(True)


def test_lists_flag_residents_and_keep_the_lifted_area(summary):
    assert summary.areas >= 14
    assert RiskArea.objects.filter(effective_to__isnull=False).count() == 2  # raised, lifted
    assert RiskFlag.objects.filter(status="open").exists()
    assert Task.objects.filter(duty=Duty.VERIFY_RISK_FLAGS).exists()


def test_arrivals_come_through_every_channel_and_are_classified(summary):
    arrivals = Arrival.objects.all()
    assert arrivals.count() == ARRIVALS  # a second report of the same arrival is merged
    channels = set(arrivals.values_list("channel", flat=True))
    assert channels == set(Arrival.Channel.values)
    assert arrivals.filter(reports=2).count() == summary.merged
    levels = set(arrivals.values_list("origin_level", flat=True))
    assert {"high", "medium", "low", ""} <= levels
    assert arrivals.filter(origin_level="medium", status=Arrival.Status.MEASURE).exists()


def test_the_canvass_round_is_about_half_done_and_reports_have_gaps(summary):
    visited = HouseholdVisit.objects.count()
    assert visited == summary.visits and visited > 0
    reports = DailyReport.objects.all()
    late = [r for r in reports if r.late]
    assert reports.filter(is_zero=True).exists()
    assert 0 < len(late) < reports.count() * 0.15
