import io
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from openpyxl import load_workbook

from fangyi.core import deadlines
from fangyi.core.models import AccessLog, Duty, Task
from fangyi.people.models import Person
from fangyi.tracing import services
from fangyi.tracing.models import CaseLink, Contact
from tests.builders import resident_id


def moment(hours_ago: float) -> str:
    return (timezone.localtime() - timedelta(hours=hours_ago)).strftime("%Y-%m-%dT%H:%M")


def contact_data(person=None, **overrides):
    data = {
        "setting": "household",
        "relation": "配偶",
        "last_exposure_at": moment(3),
        "found_by": "investigation",
    }
    if person is not None:
        data["person"] = person.pk
    return data | overrides


def row_ids(page: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr id="contact-(\d+)"', page)]


def test_registering_opens_a_12_hour_control_task_and_control_closes_it(
    users, client_for, residents, case_of
):
    patient, exposed = residents("grid_a1")[:2]
    case = case_of(patient)
    client = client_for("cdc_epi")
    url = f"/tracing/cases/{case.pk}/contacts/"
    before = timezone.now()
    assert client.post(url, contact_data(exposed)).status_code == 302
    contact = Contact.objects.get(case=case)
    assert (contact.person, contact.region, contact.degree) == (exposed, exposed.grid, 1)
    assert contact.registered_by == users["cdc_epi"]
    task = deadlines.tasks_of(contact, Duty.CONTROL_CONTACT).get()
    assert task.status == Task.Status.OPEN and task.region == exposed.grid
    assert task.started_at == contact.registered_at >= before
    assert task.due_at == contact.registered_at + timedelta(hours=12)
    assert task.subject_label == exposed.name

    # The grid worker of the contact's grid does the control.
    response = client_for("grid_a1").post(
        f"/tracing/contacts/{contact.pk}/controlled/", {"next": "/tracing/contacts/"}
    )
    assert response.status_code == 302 and response["Location"] == "/tracing/contacts/"
    contact.refresh_from_db()
    task.refresh_from_db()
    assert contact.controlled_at is not None
    assert task.status == Task.Status.DONE and task.done_at == contact.controlled_at


def test_contact_of_a_close_contact_has_degree_2_and_is_shown_under_it(
    client_for, residents, case_of, register
):
    patient, close, other_close, secondary = residents("grid_a1")[:4]
    case = case_of(patient)
    first = register(close, case=case)
    register(other_close, case=case)
    client = client_for("cdc_epi")
    response = client.post(
        f"/tracing/contacts/{first.pk}/contacts/", contact_data(secondary, relation="同事")
    )
    assert response.status_code == 302
    second = Contact.objects.get(source_contact=first)
    assert second.degree == 2 and second.case is None
    assert deadlines.tasks_of(second, Duty.CONTROL_CONTACT).exists()

    page = client.get(f"/tracing/cases/{case.pk}/contacts/").content.decode()
    assert row_ids(page) == [first.pk, second.pk, Contact.objects.get(person=other_close).pk]
    assert f'<tr id="contact-{second.pk}" class="secondary-contact">' in page
    listed = client.get("/tracing/contacts/", {"case": case.pk, "degree": 2}).content.decode()
    assert row_ids(listed) == [second.pk]


def test_contacts_of_contacts_stop_at_the_second_degree(residents, case_of, register):
    patient, close, secondary, third = residents("grid_a1")[:4]
    second = register(secondary, source_contact=register(close, case=case_of(patient)))
    with pytest.raises(services.TracingRuleError, match="次密接"):
        register(third, source_contact=second)


def test_registering_the_same_person_twice_is_refused(client_for, residents, case_of, register):
    patient, exposed = residents("grid_a1")[:2]
    case = case_of(patient)
    register(exposed, case=case)
    page = (
        client_for("cdc_epi")
        .post(f"/tracing/cases/{case.pk}/contacts/", contact_data(exposed))
        .content.decode()
    )
    assert 'id="error-person"' in page and "已登记为此病例的密接" in page
    assert Contact.objects.filter(case=case).count() == 1


def test_last_exposure_in_the_future_is_refused(client_for, residents, case_of):
    patient, exposed = residents("grid_a1")[:2]
    case = case_of(patient)
    page = (
        client_for("cdc_epi")
        .post(
            f"/tracing/cases/{case.pk}/contacts/",
            contact_data(exposed, last_exposure_at=moment(-2)),
        )
        .content.decode()
    )
    assert 'id="error-last_exposure_at"' in page and "末次接触时间不能晚于现在" in page
    assert not Contact.objects.filter(case=case).exists()
    with pytest.raises(services.TracingRuleError):
        services.register_contact(
            None,
            person=exposed,
            case=case,
            setting="household",
            last_exposure_at=timezone.now() + timedelta(hours=1),
        )


def test_a_person_not_yet_registered_is_registered_with_the_contact(
    users, client_for, residents, case_of
):
    case = case_of(residents("grid_a1")[0])
    number = resident_id(birth="19700203", sequence="881")
    data = {
        "mode": "new",
        "person-name": "欧阳晓东",
        "person-id_type": "resident_id",
        "person-id_number": number,
        "person-phone": "13912345678",
        "person-grid": users["grid_a1"].region_id,
        "person-category": "resident",
        "person-nationality": "中国",
        **contact_data(assistance_address="杭州市西湖区某街道1号"),
    }
    client = client_for("cdc_epi")
    assert client.post(f"/tracing/cases/{case.pk}/contacts/", data).status_code == 302
    contact = Contact.objects.select_related("person").get(case=case)
    assert contact.person.name == "欧阳晓东" and contact.person.id_number == number
    assert contact.needs_assistance and contact.source_note == "杭州市西湖区某街道1号"

    # The same number again: no second person, a link to the one already registered.
    other_case = case_of(residents("grid_a1")[1])
    page = client.post(f"/tracing/cases/{other_case.pk}/contacts/", data).content.decode()
    assert f'href="?person={contact.person.pk}" id="duplicate-link"' in page
    assert Person.objects.filter(name="欧阳晓东").count() == 1


def test_person_search_offers_only_persons_in_scope(users, client_for, residents, case_of):
    case = case_of(residents("grid_a1")[0])
    mine, theirs = residents("grid_a1")[1], residents("grid_b1")[0]
    client = client_for("grid_a1")
    url = f"/tracing/cases/{case.pk}/contacts/"
    found = client.get(url, {"q": mine.id_number}, HTTP_HX_TARGET="person-results")
    assert f"?person={mine.pk}" in found.content.decode()
    found = client.get(url, {"q": theirs.id_number}, HTTP_HX_TARGET="person-results")
    assert f"?person={theirs.pk}" not in found.content.decode()
    page = client.post(url, contact_data(theirs)).content.decode()
    assert "所选人员不存在或不在您的管辖范围内" in page


def test_grid_worker_sees_the_contacts_living_in_their_grid_only(
    users, client_for, residents, case_of, register
):
    patient = residents("grid_b1")[0]
    case = case_of(patient)  # a case in grid B with a contact living in grid A
    contact = register(residents("grid_a1")[0], case=case)
    assert contact.pk in row_ids(client_for("grid_a1").get("/tracing/contacts/").content.decode())
    assert contact.pk in row_ids(client_for("street_a").get("/tracing/contacts/").content.decode())
    other = client_for("grid_b1")
    assert contact.pk not in row_ids(other.get("/tracing/contacts/").content.decode())
    assert other.post(f"/tracing/contacts/{contact.pk}/controlled/").status_code == 404
    assert other.get(f"/tracing/contacts/{contact.pk}/contacts/").status_code == 404
    assert other.get(f"/api/contacts/{contact.pk}").status_code == 404
    assert other.post(f"/api/contacts/{contact.pk}/controlled").status_code == 404
    assert contact.pk not in {c["id"] for c in other.get("/api/contacts").json()["items"]}
    # The case lives in grid B: grid A sees its contact but not the case's page.
    assert client_for("grid_a1").get(f"/tracing/cases/{case.pk}/contacts/").status_code == 404
    body = client_for("grid_a1").get(f"/api/contacts/{contact.pk}").json()
    assert body["id_number"] == contact.person.id_number_masked and body["index_case"] == case.pk


def test_list_filters_and_overdue(client_for, residents, case_of, register):
    patient, late, on_time, done = residents("grid_a1")[:4]
    case = case_of(patient)
    overdue = register(late, case=case)
    Task.objects.filter(object_id=overdue.pk, duty=Duty.CONTROL_CONTACT).update(
        due_at=timezone.now() - timedelta(hours=1)
    )
    register(on_time, case=case)
    controlled = services.mark_controlled(None, register(done, case=case))
    client = client_for("cdc_epi")

    def shown(**filters):
        return set(
            row_ids(client.get("/tracing/contacts/", {"case": case.pk, **filters}).content.decode())
        )

    assert shown(overdue="on") == {overdue.pk}
    assert shown(controlled="yes") == {controlled.pk}
    assert len(shown(controlled="no")) == 2
    assert shown(q=late.name_initials) >= {overdue.pk} and controlled.pk not in shown(
        q=late.id_number
    )
    assert "超时" in client.get("/tracing/contacts/", {"overdue": "on"}).content.decode()


def test_contact_pages_query_count_does_not_grow_with_rows(
    client_for, residents, case_of, register
):
    people = residents("grid_a1", 8)
    case = case_of(people[0])
    client = client_for("grid_a1")

    def queries(url: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    pages = ["/tracing/contacts/", f"/tracing/cases/{case.pk}/contacts/"]
    first = register(people[1], case=case)
    register(people[2], source_contact=first)
    few = [queries(url) for url in pages]
    for person in people[3:6]:
        register(person, case=case)
    second = Contact.objects.get(person=people[3], case=case)
    for person in people[6:]:
        register(person, source_contact=second)
    assert [queries(url) for url in pages] == few


def test_export_is_masked_and_logged(users, client_for, residents, case_of, register):
    patient, exposed = residents("grid_a1")[:2]
    contact = register(exposed, case=case_of(patient))
    client = client_for("grid_a1")
    response = client.get("/tracing/contacts/export.xlsx")
    rows = list(load_workbook(io.BytesIO(response.content)).active.iter_rows(values_only=True))
    row = next(r for r in rows if r[0] == contact.pk)
    assert row[3] == exposed.id_number_masked and exposed.id_number not in repr(rows)
    log = AccessLog.objects.filter(actor=users["grid_a1"], action="export").latest("at")
    assert log.detail["rows"] >= 1
    assert client_for("commander").get("/tracing/contacts/export.xlsx").status_code == 404


def test_contact_who_becomes_a_case_links_the_cases(users, residents, case_of, register):
    patient, close, secondary = residents("grid_a1")[:3]
    index = case_of(patient)
    first = register(close, case=index)
    second = register(secondary, source_contact=first)

    close_case = case_of(close)  # submitting the card finds the contact record
    first.refresh_from_db()
    assert first.became_case == close_case
    assert CaseLink.objects.filter(infector=index, infectee=close_case).exists()
    index.refresh_from_db()
    close_case.refresh_from_db()
    assert index.cluster_id is not None and close_case.cluster_id == index.cluster_id

    secondary_case = case_of(secondary)
    assert services.on_case_reported(users["cdc_epi"], secondary_case) == []  # done already
    second.refresh_from_db()
    assert second.became_case == secondary_case
    assert CaseLink.objects.filter(infector=close_case, infectee=secondary_case).exists()


def test_api_lists_registers_and_controls(users, client_for, residents, case_of):
    patient, exposed = residents("grid_a1")[:2]
    case = case_of(patient)
    client = client_for("cdc_epi")
    payload = {
        "person": exposed.pk,
        "case": case.pk,
        "setting": "workplace",
        "last_exposure_at": (timezone.now() - timedelta(hours=1)).isoformat(),
    }
    created = client.post("/api/contacts", payload, content_type="application/json")
    assert created.status_code == 201
    body = created.json()
    assert body["degree"] == 1 and body["phone"] == exposed.phone_masked
    assert body["control_due_at"] is not None and body["controlled_at"] is None

    again = client.post("/api/contacts", payload, content_type="application/json")
    assert again.status_code == 422
    error = again.json()["detail"][0]
    assert error["loc"] == ["body", "person"] and error["type"] == "duplicate"
    assert "不能重复登记" in error["msg"] and "msg_en" in error

    future = payload | {
        "person": residents("grid_a1")[2].pk,
        "last_exposure_at": (timezone.now() + timedelta(hours=3)).isoformat(),
    }
    errors = client.post("/api/contacts", future, content_type="application/json").json()
    assert errors["detail"][0]["loc"] == ["body", "last_exposure_at"]
    assert errors["detail"][0]["msg"] == "末次接触时间不能晚于现在。"

    neither = payload | {"case": None, "person": residents("grid_a1")[2].pk}
    errors = client.post("/api/contacts", neither, content_type="application/json").json()
    assert errors["detail"][0]["loc"] == ["body", "case"]

    listed = client.get("/api/contacts", {"case": case.pk, "controlled": "false"}).json()
    assert [c["id"] for c in listed["items"]] == [body["id"]]
    controlled = client.post(f"/api/contacts/{body['id']}/controlled").json()
    assert controlled["controlled_at"] is not None
    assert (
        client.get("/api/contacts", {"case": case.pk, "controlled": "false"}).json()["count"] == 0
    )
    assert client.post(f"/api/contacts/{body['id']}/controlled").status_code == 422
