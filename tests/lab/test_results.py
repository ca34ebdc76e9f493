"""Storing results: pools resolve their members, positives set off control and case
reports exactly once, a batch is all or nothing, the same results twice change nothing."""

from datetime import timedelta

import pytest
from django.utils import timezone

from fangyi.cases.models import CaseReport
from fangyi.core import deadlines
from fangyi.core.models import Alert, Duty, Task
from fangyi.geo.models import Organisation
from fangyi.lab import services
from fangyi.lab.models import Examinee, Purpose, ResultImport, Sample
from fangyi.measures.models import Category


def stored(lab, rows, actor=None, **kwargs):
    return services.store_results(actor, lab, rows, **kwargs)


def test_negative_pool_makes_every_member_negative(lab, collect, result_row, free):
    people = free("grid_a1", 10)
    tube = collect(people, purpose=Purpose.MASS_SCREENING, pool_size=10)
    log = stored(lab, [result_row(tube)])
    assert log.outcome == ResultImport.Outcome.SAVED and log.stored == 1
    tube = Sample.objects.get(pk=tube.pk)
    assert {member.outcome for member in tube.examinees.all()} == {Examinee.Status.NEGATIVE}
    assert tube.examinees.count() == 10


def test_positive_pool_controls_members_and_asks_single_retests(
    users, lab, collect, result_row, free
):
    people = free("grid_a1", 5)
    tube = collect(people, purpose=Purpose.MASS_SCREENING, pool_size=5)
    log = stored(lab, [result_row(tube, "positive", ct_values={"ORF1ab": 31.2})])
    assert log.positives == 1
    for person in people:
        measure = person.measures.get(status__in=("planned", "active"))
        assert measure.category == Category.POOL_POSITIVE
    members = list(tube.examinees.all())
    assert {m.status for m in members} == {Examinee.Status.POOL_POSITIVE}
    assert (
        Task.objects.filter(duty=Duty.POOL_RETEST, status="open")
        .filter(object_id__in=[m.pk for m in members])
        .count()
        == 5
    )
    # One member's single tube: the re-test duty closes and their status follows it.
    retest = collect([people[0]], purpose=Purpose.POOL_RETEST, hours_ago=0)
    assert deadlines.tasks_of(members[0], Duty.POOL_RETEST).get().status == "done"
    stored(lab, [result_row(retest, "negative", hours_ago=0)])
    member = Examinee.objects.get(pk=members[0].pk)
    assert member.status == Examinee.Status.NEGATIVE and member.retest_id == retest.pk
    assert Examinee.objects.get(pk=members[1].pk).status == Examinee.Status.POOL_POSITIVE
    # No case card for a pool: a case needs a person's own positive.
    assert not CaseReport.objects.filter(person__in=people).exists()


def test_single_positive_opens_one_case_and_alerts_once_even_posted_twice(
    users, lab, collect, result_row, free
):
    person = free("grid_a1")[0]
    tube = collect([person])
    before = Alert.objects.count()
    rows = [result_row(tube, "positive", ct_values={"ORF1ab": 25.0, "N": 24.1})]
    first = stored(lab, rows)
    second = stored(lab, rows)
    assert (first.stored, first.positives) == (1, 1)
    assert (second.stored, second.unchanged, second.positives) == (0, 1, 0)
    case = CaseReport.objects.get(person=person)
    assert case.classification == "suspected" and case.status == CaseReport.Status.DRAFT
    assert Sample.objects.get(pk=tube.pk).case_id == case.pk
    report = deadlines.tasks_of(case, Duty.REPORT_CASE).get()
    assert report.due_at - report.started_at == timedelta(hours=2)
    new_alerts = Alert.objects.order_by("id")[before:]
    units = {a.organisation.type for a in new_alerts}
    assert Organisation.Type.HEALTH_COMMISSION in units
    assert tube.collecting_organisation.type in units
    assert len(new_alerts) == len(units)


def test_one_bad_row_commits_nothing_and_names_the_row(lab, collect, result_row, free):
    people = free("grid_a1", 3)
    tubes = [collect([p]) for p in people]
    rows = [result_row(t, line=n) for n, t in enumerate(tubes, start=2)]
    rows[1].barcode = "NOSUCH0001"
    log = stored(lab, rows)
    assert log.outcome == ResultImport.Outcome.REJECTED
    assert log.problems == [
        {
            "line": 3,
            "column": "barcode",
            "reason": "条码不存在（未登记采样）",
            "reason_en": "Barcode not found (sampling not registered)",
        }
    ]
    assert not Sample.objects.filter(pk__in=[t.pk for t in tubes], result__isnull=False).exists()


def test_a_batch_sent_in_several_chunks_stores_every_row(
    lab, collect, result_row, free, monkeypatch
):
    """The batch reaches PostgreSQL in chunks: none is lost or sent twice at their edges."""
    monkeypatch.setattr(services, "_COPY_CHUNK", 2)
    people = free("grid_a1", 5)
    tubes = [collect([p]) for p in people]
    rows = [
        result_row(t, "invalid" if n == 4 else "negative", line=n)
        for n, t in enumerate(tubes, start=2)
    ]
    log = stored(lab, rows)
    assert (log.outcome, log.stored, log.unchanged) == (ResultImport.Outcome.SAVED, 5, 0)
    results = dict(Sample.objects.filter(pk__in=[t.pk for t in tubes]).values_list("pk", "result"))
    assert [results[t.pk] for t in tubes] == [
        "negative",
        "negative",
        "invalid",
        "negative",
        "negative",
    ]
    assert stored(lab, rows).unchanged == 5


def test_result_before_collection_conflict_and_repeat_are_rejected(lab, collect, result_row, free):
    people = free("grid_a1", 3)
    tubes = [collect([p], hours_ago=3) for p in people]
    stored(lab, [result_row(tubes[0], "negative")])
    rows = [
        result_row(tubes[0], "positive", line=2),  # conflicts with the stored negative
        result_row(tubes[1], line=3, hours_ago=5),  # before collection
        result_row(tubes[2], line=4),
        result_row(tubes[2], line=5),  # the same barcode again in the file
    ]
    log = stored(lab, rows)
    reasons = {(p["line"], p["column"]) for p in log.problems}
    assert reasons == {(2, "result"), (3, "result_at"), (5, "barcode")}
    assert Sample.objects.get(pk=tubes[0].pk).result == "negative"
    assert Sample.objects.get(pk=tubes[2].pk).result is None


def test_invalid_tube_asks_for_a_new_sample(lab, collect, result_row, free):
    tube = collect(free("grid_a1"))
    stored(lab, [result_row(tube, "invalid")])
    task = deadlines.tasks_of(tube, Duty.RESAMPLE).get()
    assert task.responsible_organisation_id == tube.collecting_organisation_id
    assert tube.examinees.get().status == Examinee.Status.INVALID


def test_late_tubes_get_a_duty_once_and_it_closes_with_the_result(lab, collect, result_row, free):
    tube = collect(free("grid_a1"), purpose=Purpose.FEVER_CLINIC, hours_ago=8)
    assert tube.due_at == tube.collected_at + timedelta(hours=6)
    assert services.open_late_result_tasks() >= 1
    assert services.open_late_result_tasks() == 0
    task = deadlines.tasks_of(tube, Duty.RESULT_SAMPLE).get()
    assert task.status == "open" and task.due_at == tube.due_at
    stored(lab, [result_row(tube, hours_ago=0)])
    task.refresh_from_db()
    assert task.status == Task.Status.DONE


def test_environmental_positive_alerts_on_the_place(users, lab, new_barcode):
    from fangyi.geo.models import Place

    place = Place.objects.filter(type=Place.Type.MARKET).first()
    tube = services.collect_sample(
        users["cdc_epi"],
        barcode=new_barcode("E"),
        purpose=Purpose.ENVIRONMENTAL,
        place=place,
        object_description="冷冻海鲜摊位 12 号 案板",
        collected_at=timezone.now() - timedelta(hours=2),
    )
    before = Alert.objects.count()
    log = stored(lab, [services.ResultRow(1, tube.barcode, "positive", timezone.now())])
    assert log.positives == 1
    messages = list(Alert.objects.order_by("id")[before:].values_list("message", flat=True))
    assert messages and all(place.name in m for m in messages)


def test_barcode_used_twice_is_refused(collect, free):
    people = free("grid_a1", 2)
    tube = collect([people[0]])
    with pytest.raises(services.LabRuleError) as refused:
        collect([people[1]], barcode=tube.barcode.lower())
    assert refused.value.code == "barcode_used"


def test_pool_accepts_members_one_by_one_up_to_its_size(users, collect, free):
    people = free("grid_a1", 6)
    tube = collect(people[:1], purpose=Purpose.MASS_SCREENING, pool_size=5)
    for person in people[1:5]:
        services.add_to_tube(users["clinician"], tube, person)
    with pytest.raises(services.LabRuleError) as full:
        services.add_to_tube(users["clinician"], tube, people[5])
    assert full.value.code == "tube_full"
    with pytest.raises(services.LabRuleError) as twice:
        services.add_to_tube(users["clinician"], tube, people[0])
    assert twice.value.code in ("tube_full", "already_in_tube")
    assert list(tube.examinees.values_list("position", flat=True)) == [1, 2, 3, 4, 5]


def test_a_controlled_persons_tube_fills_the_test_of_that_day(
    users, lab, collect, result_row, free
):
    from fangyi.measures import services as measures

    person = free("grid_a1")[0]
    measure = measures.place_under_control(
        users["grid_a1"],
        person,
        category=Category.RETURNEE,  # tested every 7 days: day 7 is today
        start_date=timezone.localdate() - timedelta(days=6),
    )
    today = measure.tests.filter(due_date=timezone.localdate()).first()
    assert today is not None and today.result == ""
    # Collected now, not an hour ago: just after local midnight that would be yesterday's test.
    tube = collect([person], purpose=Purpose.CLOSE_CONTACT, hours_ago=0)
    stored(lab, [result_row(tube, hours_ago=0)])
    today.refresh_from_db()
    assert today.result == "negative" and today.sampled_at == tube.collected_at


def test_the_positive_reaches_the_sending_unit_and_the_health_administration(
    users, lab, collect, result_row, free
):
    from fangyi.core.timeliness import alerts_for

    tube = collect(free("grid_a1"))
    stored(lab, [result_row(tube, "positive")])
    for username in ("clinician", "commander"):  # the hospital; the health commission
        messages = alerts_for(users[username]).values_list("message", flat=True)
        assert any(tube.barcode in m for m in messages), username
    assert not any(
        tube.barcode in m for m in alerts_for(users["street_b"]).values_list("message", flat=True)
    )


def test_the_alert_badge_counts_the_new_positive_without_reloading_the_page(
    client_for, lab, collect, result_row, free
):
    client = client_for("commander")
    before = client.get("/tasks/alerts/badge/").content.decode()
    stored(lab, [result_row(collect(free("grid_a1")), "positive")])
    after = client.get("/tasks/alerts/badge/").content.decode()

    def count(html):
        import re

        found = re.search(r"<mark>(\d+)</mark>", html)
        return int(found.group(1)) if found else 0

    assert count(after) == count(before) + 1
