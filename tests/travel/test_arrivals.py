"""Arrivals: classified by the rules in force into the right measure, however reported, and
the same arrival reported twice is one arrival."""

from datetime import timedelta

import pytest
from django.utils import timezone

from fangyi.core.models import Alert, Duty, Task
from fangyi.core.rules import RuleError
from fangyi.measures.models import Facility, MeasureType, Room
from fangyi.travel import services
from fangyi.travel.models import Arrival, RiskFlag

pytestmark = pytest.mark.django_db


def test_arrivals_are_classified_into_the_measure_of_their_origin(
    risk_list, grid, arrival_data, users
):
    high, _ = services.register_arrival(
        users["grid_a1"], arrival_data(grid, origin="武汉市江汉区花楼街道"), channel="grid"
    )
    medium, _ = services.register_arrival(
        None, arrival_data(grid, origin="湖南省长沙市岳麓区"), channel="self"
    )
    low, _ = services.register_arrival(
        None, arrival_data(grid, origin="江苏省南京市玄武区"), channel="self"
    )
    elsewhere, _ = services.register_arrival(
        None, arrival_data(grid, origin="云南省昆明市五华区"), channel="self"
    )
    assert (high.origin_level, high.measure.type) == ("high", MeasureType.CENTRALISED)
    assert high.measure.facility is not None and high.measure.room is not None
    assert high.measure.policy.category == "high_risk_arrival"  # the policy version is kept
    assert (medium.origin_level, medium.measure.type) == ("medium", MeasureType.HOME_MONITORING)
    assert medium.measure.address == medium.destination
    assert (low.origin_level, low.status, low.measure) == ("low", Arrival.Status.CHECK_ONLY, None)
    assert (elsewhere.origin_level, elsewhere.status) == ("", Arrival.Status.CHECK_ONLY)
    # The matches are kept as verified flags: a later list will not flag them again.
    assert RiskFlag.objects.get(person=high.person).status == RiskFlag.Status.VERIFIED


def test_the_same_arrival_reported_twice_is_merged(risk_list, grid, arrival_data, users):
    data = arrival_data(grid, origin="湖南省长沙市岳麓区")
    first, created = services.register_arrival(None, data, channel="self")
    data.transport_number = "G1234"
    data.person = None
    second, created_again = services.register_arrival(users["grid_a1"], data, channel="grid")
    assert created and not created_again
    assert second.pk == first.pk
    assert second.reports == 2 and second.channels == ["self", "grid"]
    assert second.transport_number == "G1234"
    assert Arrival.objects.filter(person=first.person).count() == 1


def test_a_missing_certificate_is_noted_when_the_rule_asks_for_one(risk_list, grid, arrival_data):
    now = timezone.now()
    stale = arrival_data(
        grid,
        origin="湖南省长沙市岳麓区",
        has_certificate=True,
        certificate_sampled_at=now - timedelta(days=5),
    )
    fresh = arrival_data(
        grid,
        origin="湖南省长沙市岳麓区",
        days_ago=0,
        has_certificate=True,
        certificate_sampled_at=now - timedelta(hours=20),
    )
    assert services.register_arrival(None, stale, channel="self")[0].certificate_missing
    assert not services.register_arrival(None, fresh, channel="self")[0].certificate_missing


def test_no_free_room_leaves_the_arrival_pending_with_a_task_for_the_street(
    risk_list, grid, arrival_data
):
    Room.objects.filter(facility__in=Facility.objects.all()).update(status=Room.Status.CLEANING)
    arrival, _ = services.register_arrival(None, arrival_data(grid), channel="self")
    assert arrival.status == Arrival.Status.PENDING and arrival.measure is None
    task = Task.objects.get(duty=Duty.PLACE_ARRIVAL, object_id=arrival.pk)
    assert task.responsible_organisation.type == "street_office"


def test_an_arrival_reported_ahead_is_placed_on_its_day(risk_list, grid, arrival_data, today):
    data = arrival_data(grid, origin="湖南省长沙市岳麓区", days_ago=0)
    data.arrival_date = today + timedelta(days=2)
    arrival, _ = services.register_arrival(None, data, channel="self")
    assert arrival.status == Arrival.Status.PENDING and arrival.origin_level == "medium"
    assert services.apply_due_arrivals(today) == 0
    assert services.apply_due_arrivals(today + timedelta(days=2)) == 1
    arrival.refresh_from_db()
    assert arrival.status == Arrival.Status.MEASURE


def test_impossible_dates_are_refused(grid, arrival_data, today):
    data = arrival_data(grid)
    data.departure_date = data.arrival_date + timedelta(days=1)
    with pytest.raises(RuleError):
        services.register_arrival(None, data, channel="self")
    assert not Arrival.objects.filter(destination=data.destination).exists()


def test_an_unwell_arrival_alerts_the_grid_at_once(grid, arrival_data):
    from decimal import Decimal

    data = arrival_data(grid, origin="云南省昆明市", temperature=Decimal("38.2"))
    services.register_arrival(None, data, channel="self")
    assert Alert.objects.filter(region=grid, message__contains="发热门诊").exists()
