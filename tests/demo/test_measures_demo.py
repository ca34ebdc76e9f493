"""The demo's control measures (`fangyi.demo.measures`) on the session's demo county, with a
small outbreak under them: built inside the test's transaction and checked for what the
pages and the demo users rely on."""

from collections import Counter
from datetime import datetime, time, timedelta

import pytest
from django.utils import timezone

from fangyi.core.models import Alert, Duty, Task
from fangyi.demo.measures import build_measures
from fangyi.demo.outbreak import build_outbreak
from fangyi.measures import services
from fangyi.measures.models import (
    Category,
    Facility,
    HealthCheck,
    Measure,
    MeasureTest,
    MeasureType,
    Room,
)
from fangyi.people.models import Person

SEED = 11
Status = Measure.Status


@pytest.fixture
def demo(users):
    """The outbreak and the measures as `fangyi demo` builds them, at 16:00 today."""
    now = timezone.make_aware(datetime.combine(timezone.localdate(), time(16)))
    build_outbreak(SEED, cases=40, cluster_cases=10, contacts=100, now=now)
    return build_measures(SEED, now=now), now


def test_demo_measures_are_consistent(demo):
    summary, now = demo
    today = timezone.localdate(now)
    measures = {m.pk: m for m in Measure.objects.select_related("policy", "course_start")}
    active = [m for m in measures.values() if m.status == Status.ACTIVE]

    # About a tenth of the county, one measure in force per person.
    assert 0.05 < len(active) / Person.objects.count() <= 0.12
    assert len({m.person_id for m in active}) == len(active) == summary.active
    # Contacts of the outbreak placed under their policy, the others by category.
    contacts = [m for m in measures.values() if m.contact_id and m.phase == 1]
    assert len(contacts) == summary.from_contacts > 0
    assert {m.category for m in contacts} <= {Category.CLOSE_CONTACT, Category.SECONDARY_CONTACT}
    assert Counter(m.category for m in measures.values()).keys() >= {
        Category.RETURNEE,
        Category.MEDIUM_RISK_ARRIVAL,
        Category.HIGH_RISK_ARRIVAL,
    }

    for m in measures.values():
        days = m.policy.days if m.phase == 1 else m.policy.then_days
        assert m.planned_end == m.start_date + timedelta(days=days)
        assert m.created_at <= now and (m.ended_at is None or m.ended_at <= now)
        if m.phase == 2 and m.status == Status.ACTIVE:
            # A home phase runs once the centralised one was released, from that day.
            assert m.course_start.status == Status.RELEASED
            assert m.start_date == timezone.localdate(m.course_start.ended_at)
        if m.status == Status.RELEASED:
            on = timezone.localdate(m.ended_at)
            assert all(c.met for c in services.release_check(m, on)), m

    # Rooms hold exactly the measures served in them.
    in_rooms = Counter(m.room_id for m in active if m.room_id)
    for room in Room.objects.all():
        assert room.occupants == in_rooms[room.pk] <= room.beds
        assert (room.status == Room.Status.OCCUPIED) == (room.occupants > 0)
    assert sum(in_rooms.values()) == summary.centralised > 0

    # Readings only while a phase ran, on its local day, in its region.
    for check in HealthCheck.objects.all():
        m = measures[check.measure_id]
        began = m.course_start.ended_at if m.course_start_id else m.created_at
        assert began <= check.checked_at <= (m.ended_at or now)
        assert m.start_date <= check.day == timezone.localdate(check.checked_at) <= today
        assert check.region_id == m.region_id

    # Each abnormal reading alerted the responsible unit with a fever-referral duty.
    abnormal = HealthCheck.objects.filter(abnormal=True)
    assert abnormal.count() == summary.abnormal >= 3
    referrals = Task.objects.filter(duty=Duty.REFER_FEVER)
    assert set(referrals.values_list("object_id", flat=True)) == set(
        abnormal.values_list("measure_id", flat=True)
    )
    assert referrals.filter(status=Task.Status.OPEN).exists()
    assert referrals.filter(status=Task.Status.DONE).exists()
    for task in referrals:
        alert = Alert.objects.get(task=task, message__startswith="健康监测异常")
        assert alert.organisation_id == measures[task.object_id].responsible_organisation_id

    # Tests due before today were sampled and negative, but for a few.
    past = MeasureTest.objects.filter(due_date__lt=today)
    assert past.filter(result=MeasureTest.Result.NEGATIVE).count() >= 0.95 * past.count()
    assert not MeasureTest.objects.filter(due_date__gte=today).exclude(result="").exists()

    ended = Counter(m.status for m in measures.values())
    assert ended[Status.TRANSFERRED] and ended[Status.ABSCONDED] and ended[Status.HOSPITAL]
    assert ended[Status.TRANSFERRED] + ended[Status.ABSCONDED] + ended[Status.HOSPITAL] == (
        summary.ended_otherwise
    )


def test_every_demo_user_has_measures_to_see(demo, users):
    for username in ("grid_a1", "grid_b1"):
        at_home = Measure.objects.visible_to(users[username]).active()
        assert at_home.filter(type=MeasureType.HOME_MONITORING).count() >= 3, username
    staff = users["facility_staff"]
    facility = Facility.objects.visible_to(staff).get(organisation=staff.organisation)
    floor_2 = Measure.objects.visible_to(staff).active().filter(facility=facility, room__floor=2)
    assert floor_2.count() >= 5
    assert floor_2.filter(checks__abnormal=True).exists()
    # The cluster is in street_a's township: its contacts are under control there.
    street = Measure.objects.visible_to(users["street_a"])
    assert street.filter(contact__isnull=False, status=Status.ACTIVE).exists()
    assert Alert.objects.visible_to(users["grid_a1"]).filter(task__duty=Duty.REFER_FEVER).exists()
