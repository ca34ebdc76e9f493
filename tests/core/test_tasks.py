"""Deadline tasks: the overdue job, my tasks, alerts, timeliness per unit, the demo outbreak."""

import importlib.util
import io
from datetime import date, datetime, timedelta

import pytest
from django.db import connection, transaction
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from openpyxl import load_workbook

from fangyi.cases.models import CaseReport
from fangyi.core import deadlines
from fangyi.core.context_processors import open_alerts
from fangyi.core.models import AccessLog, Alert, Duty, Task
from fangyi.core.tasks import mark_overdue
from fangyi.core.timeliness import task_sections, tasks_for, timeliness_table
from fangyi.demo.outbreak import build_outbreak, generation_sizes
from fangyi.geo.models import Organisation
from fangyi.people.models import Person
from fangyi.tracing.models import CaseLink, Cluster, Contact
from tests.builders import report_case

SHANGHAI = timezone.get_default_timezone()


def persons_of(user, count: int) -> list[Person]:
    return list(Person.objects.visible_to(user).select_related("grid").order_by("id")[:count])


def control_task(person: Person, *, started_at: datetime, organisation=None) -> Task:
    """A contact-control task (12 h) about a person of the world."""
    return deadlines.open_task(
        Duty.CONTROL_CONTACT,
        person,
        region=person.grid,
        started_at=started_at,
        organisation=organisation,
        label=f"{person.name}（密接）",
    )


# --- The overdue job -------------------------------------------------------------------


def test_overdue_job_alerts_each_newly_overdue_task_once(users):
    late, on_time, done = persons_of(users["grid_a1"], 3)
    now = timezone.now()
    late_task = control_task(late, started_at=now - timedelta(hours=13))
    control_task(on_time, started_at=now - timedelta(hours=1))
    control_task(done, started_at=now - timedelta(hours=20))
    deadlines.close_task(done, Duty.CONTROL_CONTACT, done_at=now - timedelta(hours=10))

    mark_overdue()
    assert list(Alert.objects.values_list("task", flat=True)) == [late_task.pk]
    alert = Alert.objects.get()
    assert alert.region == late.grid and "密接管控超时" in alert.message
    mark_overdue()
    assert Alert.objects.count() == 1

    # Twelve hours on, the second task is overdue too: one more alert, none repeated.
    assert deadlines.alert_overdue(now + timedelta(hours=12)) == 1
    assert Alert.objects.filter(task=late_task).count() == 1


# --- My tasks --------------------------------------------------------------------------


def test_grid_worker_sees_own_grid_tasks_and_not_the_other_grid(users, client_for):
    mine = persons_of(users["grid_a1"], 1)[0]
    theirs = persons_of(users["grid_b1"], 1)[0]
    now = timezone.now()
    control_task(mine, started_at=now - timedelta(hours=14))
    control_task(theirs, started_at=now - timedelta(hours=14))

    assert [t.object_id for t in tasks_for(users["grid_a1"])] == [mine.pk]
    assert [t.object_id for t in tasks_for(users["street_a"])] == [mine.pk]
    assert [t.object_id for t in tasks_for(users["grid_b1"])] == [theirs.pk]
    assert {t.object_id for t in tasks_for(users["cdc_epi"])} == {mine.pk, theirs.pk}
    # Contact control is not the reviewer's or the clinician's work.
    assert not tasks_for(users["cdc_reviewer"]).exists()
    assert not tasks_for(users["clinician"]).exists()

    content = client_for("grid_a1").get("/tasks/").content.decode()
    assert mine.name in content and theirs.name not in content
    assert "超时" in content


def test_case_tasks_go_to_the_reporter_the_reviewer_and_the_epidemiologist(users, client_for):
    person = persons_of(users["street_b"], 1)[0]
    draft = report_case(users["clinician"], person, "influenza", submit=False)
    other = persons_of(users["street_a"], 1)[0]
    submitted = report_case(users["clinician"], other, "covid19")

    duties = {
        name: {(t.duty, t.object_id) for t in tasks_for(users[name])}
        for name in ["clinician", "cdc_reviewer", "cdc_epi", "grid_a1", "street_a"]
    }
    assert duties["clinician"] == {(Duty.REPORT_CASE, draft.pk)}
    assert duties["cdc_reviewer"] == {(Duty.REVIEW_CASE, submitted.pk)}
    assert duties["cdc_epi"] == {(Duty.INVESTIGATE_CASE, submitted.pk)}
    assert duties["street_a"] == set() and duties["grid_a1"] == set()

    response = client_for("cdc_reviewer").get("/tasks/")
    assert f'href="/cases/{submitted.pk}/"' in response.content.decode()
    (soon,) = [s for s in response.context["sections"] if s.key == "later"]
    assert [t.object_id for t in soon.tasks] == [submitted.pk]


def test_a_unit_sees_the_tasks_of_the_unit(users):
    person = persons_of(users["grid_a1"], 1)[0]
    committee = users["grid_a1"].organisation
    task = control_task(person, started_at=timezone.now(), organisation=committee)
    task.responsible_user = users["street_a"]  # named someone else: the unit still sees it
    task.save(update_fields=["responsible_user"])
    assert list(tasks_for(users["grid_a1"])) == [task]
    assert list(tasks_for(users["street_a"])) == [task]
    assert not tasks_for(users["cdc_epi"]).exists()


def test_a_duty_without_a_rule_goes_to_every_jurisdiction_role(users, monkeypatch):
    from fangyi.core import timeliness

    rules = {k: v for k, v in timeliness.UNASSIGNED_DUTY_ROLES.items() if k != Duty.CONTROL_CONTACT}
    monkeypatch.setattr(timeliness, "UNASSIGNED_DUTY_ROLES", rules)
    person = persons_of(users["grid_a1"], 1)[0]
    task = control_task(person, started_at=timezone.now())
    for name in ["cdc_reviewer", "cdc_epi", "street_a", "grid_a1"]:
        assert list(tasks_for(users[name])) == [task]
    for name in ["clinician", "lab_staff", "commander", "street_b"]:
        assert not tasks_for(users[name]).exists()


def test_sections_split_overdue_soon_and_later(users):
    a, b, c = persons_of(users["grid_a1"], 3)
    now = timezone.now()
    control_task(a, started_at=now - timedelta(hours=15))
    control_task(b, started_at=now - timedelta(hours=11))
    control_task(c, started_at=now)
    sections = {s.key: s for s in task_sections(users["grid_a1"], now=now)}
    assert [t.object_id for t in sections["overdue"].tasks] == [a.pk]
    assert [t.object_id for t in sections["soon"].tasks] == [b.pk]
    assert [t.object_id for t in sections["later"].tasks] == [c.pk]
    assert sections["overdue"].tasks[0].time_text == "超时 3\xa0小时"
    assert sections["soon"].tasks[0].time_text == "剩余 1\xa0小时"


def test_my_tasks_queries_do_not_grow_with_rows(users, client_for, django_assert_max_num_queries):
    persons = persons_of(users["street_a"], 24)
    now = timezone.now()
    client = client_for("cdc_epi")

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/tasks/").status_code == 200
        return len(captured)

    report_case(users["clinician"], persons[0], "covid19")
    control_task(persons[1], started_at=now - timedelta(hours=20))
    control_task(persons[2], started_at=now - timedelta(hours=11))
    control_task(persons[3], started_at=now)
    few = queries()
    for index, person in enumerate(persons[4:12]):
        report_case(
            users["clinician"], person, "covid19", diagnosed_at=now - timedelta(hours=index)
        )
    for index, person in enumerate(persons[12:]):
        control_task(person, started_at=now - timedelta(hours=index * 2))
    assert len(tasks_for(users["cdc_epi"])) == 1 + 3 + 8 + 12
    assert queries() == few
    with django_assert_max_num_queries(12):
        client.get("/tasks/")


# --- Alerts ----------------------------------------------------------------------------


def test_alerts_are_listed_for_their_jurisdiction_and_marked_read(users, client_for):
    mine = persons_of(users["grid_a1"], 1)[0]
    theirs = persons_of(users["grid_b1"], 1)[0]
    now = timezone.now()
    control_task(mine, started_at=now - timedelta(hours=13))
    control_task(theirs, started_at=now - timedelta(hours=13))
    deadlines.alert_overdue(now)
    my_alert = Alert.objects.get(task__object_id=mine.pk)
    their_alert = Alert.objects.get(task__object_id=theirs.pk)

    client = client_for("grid_a1")
    response = client.get("/tasks/alerts/")
    assert [a.pk for a in response.context["page"]] == [my_alert.pk]
    assert response.context["open_alerts"] == 1
    assert "<mark>1</mark>" in response.content.decode()

    assert client.post(f"/tasks/alerts/{their_alert.pk}/read/").status_code == 404
    assert client.post(f"/tasks/alerts/{my_alert.pk}/read/").status_code == 302
    my_alert.refresh_from_db()
    their_alert.refresh_from_db()
    assert my_alert.read_at is not None and their_alert.read_at is None
    assert client.get("/tasks/alerts/").context["open_alerts"] == 0
    assert [a.pk for a in client.get("/tasks/alerts/", {"show": "all"}).context["page"]] == [
        my_alert.pk
    ]

    client_for("grid_b1").post("/tasks/alerts/read/")
    their_alert.refresh_from_db()
    assert their_alert.read_at is not None


def test_unaddressed_alert_without_task_reaches_the_whole_jurisdiction(users):
    region = users["grid_a1"].region
    Alert.objects.create(region=region, message="体温异常")
    counts = {
        name: open_alerts(request_of(users[name]))["open_alerts"]
        for name in ["grid_a1", "street_a", "county_admin", "grid_b1", "street_b"]
    }
    assert counts == {"grid_a1": 1, "street_a": 1, "county_admin": 1, "grid_b1": 0, "street_b": 0}


def request_of(user):
    request = RequestFactory().get("/")
    request.user = user
    return request


def test_open_alerts_is_one_query_and_zero_for_anonymous(users, django_assert_num_queries):
    from django.contrib.auth.models import AnonymousUser

    assert open_alerts(request_of(AnonymousUser()))["open_alerts"] == 0
    user = users["grid_a1"]  # with its region, which every page loads for the menu
    count = open_alerts(request_of(user))["open_alerts"]
    with django_assert_num_queries(1):  # roles are looked up inside the count
        assert count == 0


# --- Timeliness ------------------------------------------------------------------------

DAY = date(2026, 3, 2)


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=SHANGHAI)


@pytest.fixture
def timeliness_world(users):
    """Tasks of a village committee in street_a's grid on DAY (12-hour rule), one task of
    street_b's grid with no unit; `now` is DAY + 1 at 20:00."""
    committee = users["grid_a1"].organisation
    a = persons_of(users["grid_a1"], 8)
    start = local(DAY, 8)

    def task(person, started_at=start, done_after=None, organisation=committee):
        created = control_task(person, started_at=started_at, organisation=organisation)
        if done_after is not None:
            deadlines.close_task(person, Duty.CONTROL_CONTACT, done_at=started_at + done_after)
        return created

    task(a[0], done_after=timedelta(hours=10))  # on time
    task(a[1], done_after=timedelta(hours=12))  # on time: done at the due time
    task(a[2], done_after=timedelta(hours=15))  # 3 h late
    task(a[3])  # open, overdue since DAY 20:00: 24 h late at `now`
    task(a[4], started_at=local(DAY + timedelta(days=1), 19))  # open, not yet due
    task(a[5], started_at=local(DAY, 0, 10), done_after=timedelta(hours=1))  # just inside
    deadlines.cancel_tasks(task(a[6]).subject)  # cancelled: no duty
    task(a[7], started_at=local(DAY, 0) - timedelta(minutes=30))  # the day before (local)
    b = persons_of(users["grid_b1"], 1)[0]
    task(b, done_after=timedelta(hours=13), organisation=None)
    return {"committee": committee, "now": local(DAY + timedelta(days=1), 20)}


def test_timeliness_figures(users, timeliness_world):
    now = timeliness_world["now"]
    rows = timeliness_table(users["county_admin"], DAY, DAY + timedelta(days=1), now=now)
    assert [(r.unit, r.duty) for r in rows] == [
        (timeliness_world["committee"].name, Duty.CONTROL_CONTACT),
        ("—", Duty.CONTROL_CONTACT),
    ]
    unit, no_unit = rows
    assert (unit.total, unit.done, unit.on_time, unit.late) == (6, 4, 3, 2)
    assert (unit.overdue_open, unit.pending) == (1, 1)
    assert unit.on_time_rate == 3 / 5 and unit.on_time_percent == 60.0
    assert unit.median_delay_hours == pytest.approx((3 + 24) / 2)
    assert (no_unit.total, no_unit.late, no_unit.median_delay_hours) == (1, 1, 1.0)


def test_timeliness_scope_and_duty_filter(users, timeliness_world):
    now = timeliness_world["now"]
    rows = timeliness_table(users["street_a"], DAY, DAY, now=now)
    assert [r.unit for r in rows] == [timeliness_world["committee"].name]
    assert rows[0].total == 5  # the one started the next day is outside the range
    assert timeliness_table(users["street_a"], DAY, DAY, Duty.REVIEW_CASE, now=now) == []
    assert [r.unit for r in timeliness_table(users["street_b"], DAY, DAY, now=now)] == ["—"]
    assert (
        timeliness_table(users["grid_b1"], DAY - timedelta(days=1), DAY - timedelta(days=1)) == []
    )


def test_timeliness_page_and_logged_export(users, client_for, timeliness_world):
    client = client_for("street_a")
    params = {"start": DAY.isoformat(), "end": DAY.isoformat(), "duty": Duty.CONTROL_CONTACT}
    page = client.get("/tasks/timeliness/", params)
    assert page.status_code == 200
    assert timeliness_world["committee"].name in page.content.decode()

    export = client.get("/tasks/timeliness/export.xlsx", params)
    assert export.status_code == 200
    sheet = load_workbook(io.BytesIO(export.content)).active
    header, first = list(sheet.iter_rows(min_row=1, max_row=2, values_only=True))
    assert header[0] == "责任单位"
    assert first[:5] == (timeliness_world["committee"].name, "密接管控", 5, 4, 3)
    log = AccessLog.objects.get(action=AccessLog.Action.EXPORT, actor=users["street_a"])
    assert log.detail["rows"] == 1 and log.detail["filters"]["duty"] == Duty.CONTROL_CONTACT

    default = client.get("/tasks/timeliness/").context["form"]
    today = timezone.localdate()
    assert default.cleaned_data["start"] == today - timedelta(days=29)
    assert default.cleaned_data["end"] == today
    wrong = client.get("/tasks/timeliness/", {"start": "2026-03-05", "end": "2026-03-01"})
    assert "起始日期不能晚于截止日期" in wrong.content.decode()


def test_timeliness_queries_do_not_grow_with_tasks(users, timeliness_world):
    with CaptureQueriesContext(connection) as captured:
        timeliness_table(users["county_admin"], DAY, DAY, now=timeliness_world["now"])
    assert len(captured) <= 3  # the aggregate, the late tasks (and at most the scope's region)


# --- The demo outbreak -----------------------------------------------------------------


def test_generation_sizes():
    assert generation_sizes(50) == [1, 3, 7, 13, 26]
    assert generation_sizes(10) == [1, 1, 3, 5]
    assert generation_sizes(1) == [1]
    assert all(sum(generation_sizes(n)) == n for n in range(1, 80))


def outbreak_fingerprint(now):
    summary = build_outbreak(11, cases=40, cluster_cases=10, contacts=100, now=now)
    cases = sorted(
        CaseReport.objects.values_list(
            "person_id", "disease__code", "status", "diagnosed_at", "submitted_at", "reviewed_at"
        )
    )
    contacts = sorted(
        Contact.objects.values_list("person_id", "registered_at", "controlled_at", "case__person")
    )
    tasks = sorted(Task.objects.values_list("duty", "status", "started_at", "due_at", "done_at"))
    return summary, cases, contacts, tasks


def test_build_outbreak_is_deterministic(users):
    now = local(DAY, 10)
    runs = []
    for _ in range(2):
        with transaction.atomic():
            runs.append(outbreak_fingerprint(now))
            if len(runs) == 1:
                check_outbreak(runs[0][0], users, now)
            transaction.set_rollback(True)
    assert runs[0] == runs[1]
    summary = runs[0][0]
    assert (summary.cases, summary.cluster_cases, summary.generations, summary.links) == (
        40,
        10,
        4,
        9,
    )
    assert (summary.contacts, summary.second_degree) == (100, 35)
    assert summary.drafts + summary.submitted + summary.reviewed == 40
    assert summary.reviewed > 30 and summary.drafts >= 1 and summary.submitted >= 1
    assert 80 < summary.controlled < 100 and summary.overdue_tasks >= 3


def check_outbreak(summary, users, now):
    """What holds in any outbreak built: consistent times, links, contacts and tasks."""
    cases = CaseReport.objects.all()
    assert cases.count() == 40
    assert set(cases.values_list("reporting_organisation", flat=True)) == {
        users["clinician"].organisation_id
    }
    assert not cases.filter(submitted_at__gt=now).exists()
    assert not cases.filter(reviewed_at__gt=now).exists()
    for link in CaseLink.objects.select_related("infector", "infectee"):
        assert link.infector.diagnosed_at < link.infectee.diagnosed_at
        assert link.infector.disease.code == link.infectee.disease.code == "covid19"
    case_persons = set(cases.values_list("person_id", flat=True))
    contacts = Contact.objects.all()
    assert not case_persons & set(contacts.values_list("person_id", flat=True))
    assert contacts.values("person").distinct().count() == 100
    control = Task.objects.filter(duty=Duty.CONTROL_CONTACT)
    assert control.count() == 100
    assert control.filter(status=Task.Status.DONE).count() == summary.controlled
    assert not control.filter(responsible_organisation__isnull=True).exists()
    assert set(Organisation.objects.filter(tasks__in=control).values_list("type", flat=True)) == {
        Organisation.Type.VILLAGE_COMMITTEE
    }
    assert not Task.objects.filter(started_at__gt=now).exists()
    assert not Task.objects.filter(done_at__gt=now).exists()
    assert Alert.objects.filter(task__isnull=False).count() == summary.overdue_tasks
    if importlib.util.find_spec("fangyi.tracing.clusters"):  # recomputed at the end
        assert list(Cluster.objects.values_list("size", "generations")) == [(10, 4)]
    for task in Task.objects.filter(duty=Duty.REVIEW_CASE).exclude(done_at=None)[:20]:
        case = CaseReport.objects.get(pk=task.object_id)
        assert task.started_at == case.submitted_at and task.done_at == case.reviewed_at


def test_the_job_clock_is_local_time():
    """Periodic jobs at "00:10" must run just after local midnight, not at 00:10 UTC."""
    from datetime import timedelta

    from django.utils import timezone
    from huey.contrib.djhuey import HUEY

    job_clock = HUEY._get_timestamp()
    local = timezone.localtime().replace(tzinfo=None)
    assert abs(job_clock - local) < timedelta(minutes=1)
