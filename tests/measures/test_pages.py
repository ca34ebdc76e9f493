"""The measure pages: list and export, placing under control, a measure's course with its
tests, checks, release and ending, and the entry of one check."""

import io
import re
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from openpyxl import load_workbook

from fangyi.core import deadlines
from fangyi.core.models import AccessLog, Duty, Task
from fangyi.measures import services
from fangyi.measures.models import Category, HealthCheck, Measure, MeasureTest, Room
from fangyi.tracing import services as tracing
from tests.builders import report_case


def row_ids(response) -> set[int]:
    return {int(i) for i in re.findall(r'<tr id="measure-(\d+)"', response.content.decode())}


def page_text(response) -> str:
    return response.content.decode()


@pytest.fixture
def free_residents(residents):
    """free_residents("grid_a1", 3) → persons of that jurisdiction under no measure."""

    def pick(username: str, count: int = 1):
        people = [p for p in residents(username, count + 30) if not p.measures.open().exists()]
        assert len(people) >= count
        return people[:count]

    return pick


def place(actor, person, category=Category.RETURNEE, **details):
    return services.place_under_control(actor, person, category=category, **details)


def days_ago(n: int):
    return timezone.localdate() - timedelta(days=n)


def negative_all(measure):
    for test in measure.tests.filter(result=""):
        sampled = timezone.make_aware(datetime.combine(test.due_date, time(9)))
        services.record_test_result(None, test, result="negative", sampled_at=sampled)


# List and export --------------------------------------------------------------------------


def test_list_shows_only_measures_in_scope(users, client_for, free_residents):
    mine = place(users["grid_a1"], free_residents("grid_a1")[0])
    theirs = place(users["grid_b1"], free_residents("grid_b1")[0])

    for me, own, foreign in [("grid_a1", mine, theirs), ("grid_b1", theirs, mine)]:
        client = client_for(me)
        assert own.pk in row_ids(client.get("/measures/", {"q": own.person.name}))
        assert foreign.pk not in row_ids(client.get("/measures/", {"q": foreign.person.name}))
    county = client_for("cdc_epi")
    assert mine.pk in row_ids(county.get("/measures/", {"q": mine.person.name}))
    assert client_for("grid_b1").get(f"/measures/{mine.pk}/").status_code == 404
    partial = client_for("grid_a1").get(
        "/measures/", {"q": mine.person.name}, HTTP_HX_TARGET="measure-table"
    )
    assert mine.pk in row_ids(partial) and "<html" not in page_text(partial)
    # Without the right to see measures, the pages do not exist.
    assert client_for("cdc_reviewer").get("/measures/").status_code == 404
    assert client_for("cdc_reviewer").get(f"/measures/{mine.pk}/").status_code == 404


def test_list_filters_by_status_type_facility_and_due_date(
    users, client_for, facility, free_residents
):
    home_person, centralised_person, ended_person = free_residents("grid_a1", 3)
    home = place(users["grid_a1"], home_person)
    centralised = place(
        users["cdc_epi"], centralised_person, Category.SECONDARY_CONTACT, facility=facility
    )
    ended = place(users["grid_a1"], ended_person)
    services.end_measure(users["grid_a1"], ended, Measure.Status.ABSCONDED)
    ours = [home, centralised, ended]
    client = client_for("cdc_epi")

    def shown(**filters) -> set[int]:
        """Which of our measures the list shows (each looked up by name: the world holds
        other measures too)."""
        return {
            m.pk
            for m in ours
            if m.pk in row_ids(client.get("/measures/", {"q": m.person.name} | filters))
        }

    # In force by default; every status on request.
    assert shown() == {home.pk, centralised.pk}
    assert shown(status="absconded") == {ended.pk}
    assert shown(status="") == {m.pk for m in ours}
    assert shown(type="centralised") == {centralised.pk}
    assert shown(category="returnee") == {home.pk}
    assert shown(facility=facility.pk) == {centralised.pk}
    # Secondary contacts are released after 7 days, returnees after 14.
    assert shown(due_by=(timezone.localdate() + timedelta(days=7)).isoformat()) == {centralised.pk}
    assert shown(region=home_person.grid.parent_id) == {home.pk, centralised.pk}
    assert shown(region=users["grid_b1"].region.parent_id) == set()
    assert home.pk in row_ids(client.get("/measures/", {"q": home_person.name_initials}))


def test_list_shows_course_day_and_todays_checks(users, client_for, free_residents):
    measure = place(users["grid_a1"], free_residents("grid_a1")[0], start_date=days_ago(2))
    services.record_checks(
        None,
        [services.CheckEntry(measure, Decimal("38.1"), timezone.now())],
        source="staff",
    )
    page = page_text(client_for("grid_a1").get("/measures/", {"q": measure.person.name}))
    row = re.search(rf'<tr id="measure-{measure.pk}">(.*?)</tr>', page, re.S).group(1)
    assert "第3天" in row and "1/2" in row and "异常" in row
    assert measure.person.id_number_masked in row and measure.person.id_number not in row


def test_list_queries_do_not_grow_with_rows(users, client_for, free_residents):
    client = client_for("grid_a1")
    people = free_residents("grid_a1", 4)
    # Measures of 2021: the only ones due by then, whatever else the world holds.
    long_ago = {"due_by": "2021-12-31"}
    place(users["grid_a1"], people[0], start_date=date(2021, 3, 1))

    def queries(rows: int) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert len(row_ids(client.get("/measures/", long_ago))) == rows
        return len(captured)

    few = queries(1)
    for person in people[1:]:
        place(users["grid_a1"], person, start_date=date(2021, 3, 1))
    assert queries(4) == few


def test_export_is_masked_scoped_and_logged(users, client_for, free_residents):
    person = next(p for p in free_residents("grid_a1", 10) if p.id_number and p.phone)
    mine = place(users["grid_a1"], person)
    theirs = place(users["grid_b1"], free_residents("grid_b1")[0])

    response = client_for("grid_a1").get("/measures/export.xlsx", {"status": ""})
    assert response.status_code == 200
    rows = list(load_workbook(io.BytesIO(response.content)).active.iter_rows(values_only=True))
    by_id = {row[0]: row for row in rows[1:] if isinstance(row[0], int)}
    assert mine.pk in by_id and theirs.pk not in by_id
    assert by_id[mine.pk][3] == mine.person.id_number_masked != mine.person.id_number
    assert mine.person.phone not in {cell for row in rows for cell in row}
    log = AccessLog.objects.filter(actor=users["grid_a1"], action=AccessLog.Action.EXPORT).latest(
        "at"
    )
    assert log.object_repr == "管控人员名单" and log.detail["rows"] == len(by_id)
    assert client_for("commander").get("/measures/export.xlsx").status_code == 404


# Placing under control --------------------------------------------------------------------


@pytest.fixture
def close_contact(users, free_residents):
    patient, exposed = free_residents("grid_a1", 2)
    case = report_case(users["cdc_epi"], patient)
    return tracing.register_contact(
        users["cdc_epi"],
        person=exposed,
        case=case,
        setting="household",
        last_exposure_at=timezone.now() - timedelta(hours=3),
    )


def test_placing_a_contact_closes_its_control_task_and_shows_the_measure(
    users, client_for, facility, close_contact
):
    client = client_for("cdc_epi")
    contacts = page_text(client.get("/tracing/contacts/", {"q": close_contact.person.name}))
    assert f"/measures/new/?contact={close_contact.pk}" in contacts

    form = page_text(client.get("/measures/new/", {"contact": close_contact.pk}))
    assert '<option value="close_contact" selected>' in form
    assert "集中隔离医学观察14天+居家健康监测14天" in form

    response = client.post(
        f"/measures/new/?contact={close_contact.pk}",
        {"category": "close_contact", "start_date": timezone.localdate(), "facility": facility.pk},
    )
    measure = Measure.objects.get(contact=close_contact, phase=1)
    assert response.status_code == 302 and response["Location"] == f"/measures/{measure.pk}/"
    close_contact.refresh_from_db()
    assert close_contact.controlled_at is not None
    task = deadlines.tasks_of(close_contact, Duty.CONTROL_CONTACT).get()
    assert task.status == Task.Status.DONE

    detail = page_text(client.get(response["Location"]))
    assert "已落实管控" in detail and "101房间" in detail
    # The whole course: 14 days centralised, then 14 days home monitoring.
    assert re.search(r'<ol id="course">.*集中隔离医学观察.*居家健康监测.*</ol>', detail, re.S)
    person_url = f"/persons/{measure.person.pk}/"
    person = page_text(client.get(person_url))
    assert re.search(rf'id="current-measure"><a href="/measures/{measure.pk}/">', person)
    assert f"/measures/new/?person={measure.person.pk}" in person
    assert "/measures/new/" not in page_text(client_for("commander").get(person_url))


def test_a_contact_of_a_contact_is_offered_its_own_policy(
    users, client_for, close_contact, free_residents
):
    secondary = tracing.register_contact(
        users["cdc_epi"],
        person=free_residents("grid_a1", 3)[2],
        source_contact=close_contact,
        setting="workplace",
        last_exposure_at=timezone.now() - timedelta(hours=3),
    )
    form = page_text(client_for("cdc_epi").get("/measures/new/", {"contact": secondary.pk}))
    assert '<option value="secondary_contact" selected>' in form
    assert "集中隔离医学观察7天，第1、4、7天核酸检测" in form


def test_place_options_follow_the_category_and_offer_free_rooms(
    users, client_for, facility, free_residents
):
    first, second = free_residents("grid_a1", 2)
    place(users["cdc_epi"], first, Category.SECONDARY_CONTACT, facility=facility)
    client = client_for("cdc_epi")
    options = page_text(
        client.get(
            "/measures/new/options/",
            {"category": "returnee", "start_date": timezone.localdate(), "facility": facility.pk},
        )
    )
    assert "居家健康监测14天，第7、14天核酸检测" in options
    rooms = re.findall(r'<option value="\d+">(\d+)', options)
    assert "101" not in rooms and rooms[:2] == ["102", "103"] and "301" in rooms

    family = facility.rooms.get(number="301")
    response = client.post(
        f"/measures/new/?person={second.pk}",
        {
            "category": "secondary_contact",
            "start_date": timezone.localdate(),
            "facility": facility.pk,
            "room": family.pk,
        },
    )
    assert response.status_code == 302
    assert Measure.objects.get(person=second).room == family


def test_a_second_measure_is_refused_with_a_link_to_the_first(
    users, client_for, facility, free_residents
):
    person = free_residents("grid_a1")[0]
    first = place(users["cdc_epi"], person, Category.SECONDARY_CONTACT, facility=facility)
    response = client_for("cdc_epi").post(
        f"/measures/new/?person={person.pk}",
        {"category": "close_contact", "start_date": timezone.localdate(), "facility": facility.pk},
    )
    page = page_text(response)
    assert response.status_code == 200 and "不能重复管控" in page
    assert f'<a href="/measures/{first.pk}/" id="existing-measure">' in page
    assert Measure.objects.filter(person=person).count() == 1


def test_centralised_without_facility_is_refused_next_to_the_facility(client_for, free_residents):
    person = free_residents("grid_a1")[0]
    response = client_for("grid_a1").post(
        f"/measures/new/?person={person.pk}",
        {"category": "close_contact", "start_date": timezone.localdate()},
    )
    assert re.search(r'id="error-facility"><li>集中隔离医学观察须选择隔离场所', page_text(response))
    assert not Measure.objects.filter(person=person).exists()


def test_place_form_is_scoped(users, client_for, free_residents):
    other = free_residents("grid_b1")[0]
    client = client_for("grid_a1")
    assert client.get("/measures/new/", {"person": other.pk}).status_code == 404
    response = client.post(
        f"/measures/new/?person={other.pk}",
        {"category": "returnee", "start_date": timezone.localdate()},
    )
    assert response.status_code == 404 and not Measure.objects.filter(person=other).exists()
    assert client_for("commander").get("/measures/new/").status_code == 404


# A measure --------------------------------------------------------------------------------


def test_release_is_refused_with_what_is_missing_then_succeeds(
    users, client_for, facility, free_residents
):
    measure = place(
        users["cdc_epi"],
        free_residents("grid_a1")[0],
        Category.SECONDARY_CONTACT,
        facility=facility,
        start_date=days_ago(7),
    )
    client = client_for("cdc_epi")
    detail = page_text(client.get(f"/measures/{measure.pk}/"))
    assert "✓</li>" not in detail and re.search(r"<mark>✗</mark> 核酸检测3次均阴性", detail)

    refused = page_text(client.post(f"/measures/{measure.pk}/release/", follow=True))
    assert "尚不满足解除条件" in refused and "第1天人员样本 待检" in refused
    assert "release.pdf" not in refused
    measure.refresh_from_db()
    assert measure.status == Measure.Status.ACTIVE

    negative_all(measure)
    assert client_for("grid_b1").post(f"/measures/{measure.pk}/release/").status_code == 404
    released = page_text(client.post(f"/measures/{measure.pk}/release/", follow=True))
    assert "已解除集中隔离医学观察" in released
    assert f'href="/measures/{measure.pk}/release.pdf"' in released
    measure.refresh_from_db()
    assert measure.status == Measure.Status.RELEASED and measure.ended_by == users["cdc_epi"]
    assert measure.room.status == Room.Status.CLEANING


def test_release_moves_on_to_the_home_phase_of_the_course(
    users, client_for, facility, free_residents
):
    measure = place(
        users["cdc_epi"],
        free_residents("grid_a1")[0],
        Category.CLOSE_CONTACT,
        facility=facility,
        start_date=days_ago(14),
    )
    negative_all(measure)
    response = client_for("cdc_epi").post(f"/measures/{measure.pk}/release/", follow=True)
    home = measure.later_phases.get()
    assert response.redirect_chain[-1][0] == f"/measures/{home.pk}/"
    page = page_text(response)
    assert "已转入居家健康监测" in page and "第15天" in page


def test_ending_as_transferred_needs_a_note(users, client_for, free_residents):
    measure = place(users["grid_a1"], free_residents("grid_a1")[0])
    client = client_for("grid_a1")
    response = client.post(f"/measures/{measure.pk}/end/", {"status": "transferred", "note": ""})
    assert response.status_code == 200
    assert re.search(r'id="error-note"><li>请注明转往何地。', page_text(response))
    measure.refresh_from_db()
    assert measure.status == Measure.Status.ACTIVE

    response = client.post(
        f"/measures/{measure.pk}/end/", {"status": "transferred", "note": "杭州市西湖区"}
    )
    assert response.status_code == 302
    measure.refresh_from_db()
    assert (measure.status, measure.end_note) == (Measure.Status.TRANSFERRED, "杭州市西湖区")
    assert client_for("grid_b1").post(f"/measures/{measure.pk}/end/").status_code == 404


def test_a_test_result_is_entered_on_the_measure(users, client_for, free_residents):
    measure = place(users["grid_a1"], free_residents("grid_a1")[0], start_date=days_ago(7))
    test = measure.tests.get(course_day=7)
    url = f"/measures/{measure.pk}/tests/{test.pk}/result/"
    client = client_for("grid_a1")
    detail = page_text(client.get(f"/measures/{measure.pk}/"))
    # Results are entered for tests due by today, not for those still ahead.
    later = measure.tests.get(course_day=14)
    assert url in detail and f"/tests/{later.pk}/result/" not in detail

    response = client.post(url, {f"test-{test.pk}-sampled_at": "2026-01-01T08:00"})
    assert "请选择检测结果。" in page_text(response)

    future = (timezone.localtime() + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(
        url, {f"test-{test.pk}-result": "negative", f"test-{test.pk}-sampled_at": future}
    )
    assert "采样时间不能晚于当前时间。" in page_text(response)
    test.refresh_from_db()
    assert test.result == ""

    sampled = timezone.localtime().replace(hour=8, minute=30) - timedelta(days=1)
    response = client.post(
        url,
        {
            f"test-{test.pk}-result": "negative",
            f"test-{test.pk}-sampled_at": sampled.strftime("%Y-%m-%dT%H:%M"),
        },
    )
    assert response.status_code == 302
    test.refresh_from_db()
    assert test.result == MeasureTest.Result.NEGATIVE and test.recorded_by == users["grid_a1"]
    assert deadlines.tasks_of(test, Duty.MEASURE_TEST).get().status == Task.Status.DONE
    assert client_for("grid_b1").post(url).status_code == 404


def test_single_check_refuses_42_5_and_saves_nothing(users, client_for, free_residents):
    measure = place(users["grid_a1"], free_residents("grid_a1")[0])
    client = client_for("grid_a1")
    url = f"/measures/{measure.pk}/checks/new/"
    response = client.post(url, {"temperature": "42.5"})
    assert response.status_code == 200
    assert "体温须在35.0–42.0℃之间，请复测。" in page_text(response)
    assert not HealthCheck.objects.filter(measure=measure).exists()

    assert client.post(url, {"temperature": "36.6"}).status_code == 302
    check = HealthCheck.objects.get(measure=measure)
    assert (check.source, check.recorded_by, check.abnormal) == ("staff", users["grid_a1"], False)
    assert client_for("grid_b1").get(url).status_code == 404


def test_an_abnormal_check_shows_the_fever_referral_until_it_is_handled(
    users, client_for, free_residents
):
    measure = place(users["grid_a1"], free_residents("grid_a1")[0])
    client = client_for("grid_a1")
    response = client.post(
        f"/measures/{measure.pk}/checks/new/",
        {"temperature": "36.8", "symptoms": ["dry_cough"]},
        follow=True,
    )
    page = page_text(response)
    assert "监测异常" in page and 'id="fever-referral"' in page
    assert re.search(r"<mark>\d\d:\d\d 36.8℃ 干咳</mark>", page)

    other = client_for("grid_b1").post(f"/measures/{measure.pk}/fever-referral/")
    assert other.status_code == 404 and 'id="fever-referral"' in page_text(
        client.get(f"/measures/{measure.pk}/")
    )
    client.post(f"/measures/{measure.pk}/fever-referral/")
    assert 'id="fever-referral"' not in page_text(client.get(f"/measures/{measure.pk}/"))
    assert not deadlines.tasks_of(measure, Duty.REFER_FEVER).filter(status="open").exists()


def test_phone_link_is_shown_only_for_an_active_measure(users, client_for, free_residents):
    measure = place(users["grid_a1"], free_residents("grid_a1")[0])
    client = client_for("grid_a1")
    page = page_text(client.get(f"/measures/{measure.pk}/"))
    assert 'id="phone-link"' in page and "<svg" in page
    assert re.search(r'<a href="http://testserver/measures/[^"]+">', page)
    # Those who only look at measures do not hand out links.
    assert 'id="phone-link"' not in page_text(
        client_for("commander").get(f"/measures/{measure.pk}/")
    )

    services.end_measure(users["grid_a1"], measure, Measure.Status.HOSPITAL)
    page = page_text(client.get(f"/measures/{measure.pk}/"))
    assert 'id="phone-link"' not in page and "<svg" not in page
