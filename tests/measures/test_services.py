"""The rules of control measures, through the services every entry point uses."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from fangyi.core import deadlines
from fangyi.core.models import Alert, Duty, Task
from fangyi.core.timeliness import alerts_for, tasks_for
from fangyi.measures import services
from fangyi.measures.models import Category, Measure, MeasureTest, MeasureType, Policy, Room
from fangyi.measures.services import CheckEntry, MeasureRuleError


def place(actor, person, category=Category.CLOSE_CONTACT, **details):
    return services.place_under_control(actor, person, category=category, **details)


def negative_all(measure, *, kinds=None):
    for test in measure.tests.filter(result=""):
        if kinds and test.kind not in kinds:
            continue
        sampled = timezone.make_aware(
            timezone.datetime.combine(test.due_date, timezone.datetime.min.time())
        ) + timedelta(hours=9)
        services.record_test_result(
            None, test, result="negative", sampled_at=sampled, result_at=sampled
        )


def test_close_contact_course_is_14_days_centralised_then_14_home_with_tests(
    users, facility, residents
):
    person = residents("grid_a1", 1)[0]
    start = date(2026, 11, 1)
    measure = place(users["cdc_epi"], person, facility=facility, start_date=start)

    assert measure.type == MeasureType.CENTRALISED
    assert measure.planned_end == date(2026, 11, 15)
    assert measure.room.number == "101" and measure.room.status == Room.Status.OCCUPIED
    home = measure.later_phases.get()
    assert (home.type, home.status, home.start_date, home.planned_end) == (
        MeasureType.HOME_MONITORING,
        Measure.Status.PLANNED,
        date(2026, 11, 15),
        date(2026, 11, 29),
    )
    person_tests = measure.tests.filter(kind=MeasureTest.Kind.PERSON)
    assert [t.course_day for t in person_tests] == [1, 2, 3, 4, 5, 7, 10, 13, 14]
    assert person_tests.get(course_day=14).due_date == date(2026, 11, 14)
    # Person, object and environment samples are required for release from centralised.
    assert set(measure.tests.values_list("kind", flat=True)) == {"person", "object", "environment"}
    sampling = deadlines.tasks_of(person_tests.get(course_day=7), Duty.MEASURE_TEST).get()
    assert timezone.localtime(sampling.due_at).date() == date(2026, 11, 8)


def test_a_measure_keeps_the_policy_version_it_started_under(users, facility, residents):
    first, second = residents("grid_a1", 2)
    old = place(users["cdc_epi"], first, category=Category.RETURNEE)
    published = services.publish_policy(
        users["county_admin"],
        category=Category.RETURNEE,
        effective_from=timezone.localdate(),
        measure_type=MeasureType.HOME_MONITORING,
        days=7,
        test_every_days=3,
    )
    new = place(users["cdc_epi"], second, category=Category.RETURNEE)

    old.refresh_from_db()
    assert old.policy.version == 1 and old.days == 14
    assert new.policy == published and published.version == 2 and new.days == 7
    assert Policy.objects.in_force(Category.RETURNEE, timezone.localdate() - timedelta(days=1)) == (
        old.policy
    )


def test_a_second_isolating_measure_is_refused_with_the_first(users, facility, residents):
    person = residents("grid_a1", 1)[0]
    first = place(users["cdc_epi"], person, facility=facility)
    with pytest.raises(MeasureRuleError) as refused:
        place(users["cdc_epi"], person, category=Category.SECONDARY_CONTACT, facility=facility)
    assert refused.value.existing == first
    assert refused.value.code == "already_controlled"


def test_isolation_supersedes_home_monitoring(users, facility, residents):
    person = residents("grid_a1", 1)[0]
    monitoring = place(users["grid_a1"], person, category=Category.RETURNEE)
    isolation = place(users["cdc_epi"], person, facility=facility)
    monitoring.refresh_from_db()
    assert monitoring.status == Measure.Status.SUPERSEDED
    assert isolation.status == Measure.Status.ACTIVE


def test_centralised_needs_a_facility_and_a_full_facility_is_refused(users, facility, residents):
    people = residents("grid_a1", 13)
    with pytest.raises(MeasureRuleError) as refused:
        place(users["cdc_epi"], people[0])
    assert refused.value.field == "facility"
    Room.objects.filter(facility=facility, kind=Room.Kind.FAMILY).update(
        status=Room.Status.OUT_OF_SERVICE
    )
    for person in people[:10]:
        place(users["cdc_epi"], person, facility=facility)
    with pytest.raises(MeasureRuleError) as refused:
        place(users["cdc_epi"], people[10], facility=facility)
    assert refused.value.code == "facility_full"


def test_a_family_room_takes_as_many_as_it_has_beds(users, facility, residents):
    family = facility.rooms.get(number="301")
    people = residents("grid_a1", 4)
    for person in people[:3]:
        place(users["cdc_epi"], person, facility=facility, room=family)
    with pytest.raises(MeasureRuleError) as refused:
        place(users["cdc_epi"], people[3], facility=facility, room=family)
    assert refused.value.code == "room_full"


def test_abnormal_check_alerts_and_opens_one_fever_referral(users, facility, residents):
    person = residents("grid_a1", 1)[0]
    measure = place(users["cdc_epi"], person, facility=facility)
    now = timezone.now()
    services.record_checks(
        users["facility_staff"],
        [
            CheckEntry(measure, Decimal("37.3"), now),
            CheckEntry(measure, Decimal("36.5"), now, symptoms=["dry_cough"]),
        ],
        source="staff",
    )
    referral = deadlines.tasks_of(measure, Duty.REFER_FEVER).get()
    assert referral.due_at == now + timedelta(hours=2)
    assert Alert.objects.filter(task=referral).count() == 1
    # The county CDC epidemiologist and the facility's staff see it; the other street not.
    assert alerts_for(users["cdc_epi"]).filter(task=referral).exists()
    assert tasks_for(users["facility_staff"]).filter(pk=referral.pk).exists()
    assert not tasks_for(users["street_b"]).filter(pk=referral.pk).exists()
    assert not any(c.met for c in services.release_check(measure) if c.label.startswith("无未处置"))


def test_normal_check_raises_nothing(users, facility, residents):
    measure = place(users["cdc_epi"], residents("grid_a1", 1)[0], facility=facility)
    services.record_checks(
        None, [CheckEntry(measure, Decimal("37.2"), timezone.now())], source="staff"
    )
    assert not deadlines.tasks_of(measure, Duty.REFER_FEVER).exists()


def test_missed_checks_open_a_follow_up_for_the_responsible_unit(users, facility, residents):
    checked, missed = residents("grid_a1", 2)
    yesterday = timezone.localdate() - timedelta(days=1)
    start = yesterday - timedelta(days=1)
    done = place(users["grid_a1"], checked, category=Category.RETURNEE, start_date=start)
    short = place(users["grid_a1"], missed, category=Category.RETURNEE, start_date=start)
    noon = timezone.make_aware(timezone.datetime.combine(yesterday, timezone.datetime.min.time()))
    services.record_checks(
        None,
        [
            CheckEntry(done, Decimal("36.4"), noon + timedelta(hours=8)),
            CheckEntry(done, Decimal("36.6"), noon + timedelta(hours=18)),
            CheckEntry(short, Decimal("36.6"), noon + timedelta(hours=18)),
        ],
        source="staff",
    )
    assert services.open_missed_check_tasks(yesterday) >= 1
    assert services.open_missed_check_tasks(yesterday) == 0  # idempotent
    follow_up = deadlines.tasks_of(short, Duty.MISSED_CHECK).get()
    assert follow_up.responsible_organisation == short.responsible_organisation
    assert "漏测1次" in follow_up.subject_label
    assert not deadlines.tasks_of(done, Duty.MISSED_CHECK).exists()


def test_release_is_refused_while_a_required_test_is_missing(users, facility, residents):
    person = residents("grid_a1", 1)[0]
    start = timezone.localdate() - timedelta(days=14)
    measure = place(users["cdc_epi"], person, facility=facility, start_date=start)
    negative_all(measure, kinds={"person", "object"})

    with pytest.raises(MeasureRuleError) as refused:
        services.release(users["facility_staff"], measure)
    assert "物品、环境样本均阴性" in str(refused.value.message)

    negative_all(measure)
    home = services.release(users["facility_staff"], measure)
    measure.refresh_from_db()
    assert measure.status == Measure.Status.RELEASED and measure.ended_by == users["facility_staff"]
    assert measure.room.status == Room.Status.CLEANING
    assert home.status == Measure.Status.ACTIVE and home.start_date == timezone.localdate()
    assert home.type == MeasureType.HOME_MONITORING
    assert [t.course_day for t in home.tests.all()] == [16, 21, 28]
    assert services.set_room_status(None, measure.room, Room.Status.FREE).status == "free"


def test_an_occupied_room_cannot_be_taken_out_of_service(users, facility, residents):
    measure = place(users["cdc_epi"], residents("grid_a1", 1)[0], facility=facility)
    with pytest.raises(MeasureRuleError) as refused:
        services.set_room_status(None, measure.room, Room.Status.OUT_OF_SERVICE)
    assert refused.value.code == "room_occupied"


def test_release_before_the_end_is_refused(users, facility, residents):
    measure = place(users["cdc_epi"], residents("grid_a1", 1)[0], facility=facility)
    negative_all(measure)
    with pytest.raises(MeasureRuleError) as refused:
        services.release(None, measure)
    assert refused.value.code == "criteria_not_met"


def test_transfer_to_hospital_frees_the_room_and_cancels_the_course(users, facility, residents):
    measure = place(users["cdc_epi"], residents("grid_a1", 1)[0], facility=facility)
    services.end_measure(None, measure, Measure.Status.HOSPITAL, note="确诊转定点医院")
    measure.refresh_from_db()
    assert measure.room.occupants == 0 and measure.room.status == Room.Status.CLEANING
    assert measure.later_phases.get().status == Measure.Status.CANCELLED
    assert not Task.objects.open().filter(object_id__in=measure.tests.values("pk")).exists()


def test_a_positive_test_alerts_the_jurisdiction(users, facility, residents):
    measure = place(users["cdc_epi"], residents("grid_a1", 1)[0], facility=facility)
    test = measure.tests.first()
    services.record_test_result(None, test, result="positive", sampled_at=timezone.now())
    assert alerts_for(users["cdc_epi"]).filter(message__contains="核酸阳性").exists()
    criteria = {c.label: c.met for c in services.release_check(measure)}
    assert criteria["无阳性检测结果"] is False


def test_the_nightly_job_follows_up_yesterdays_missed_checks(users, residents):
    from fangyi.measures.tasks import follow_up_missed_checks

    start = timezone.localdate() - timedelta(days=3)
    measure = place(
        users["grid_a1"], residents("grid_a1", 1)[0], category="returnee", start_date=start
    )
    follow_up_missed_checks.call_local()
    assert deadlines.tasks_of(measure, Duty.MISSED_CHECK).filter(status="open").exists()
