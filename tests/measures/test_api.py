"""The measures API: scoped like the pages, refusals explained in Chinese and English,
batches of readings saved whole or not at all."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from fangyi.accounts.services import create_api_token
from fangyi.core import deadlines
from fangyi.core.models import Alert, Duty
from fangyi.geo.models import Organisation
from fangyi.measures import services
from fangyi.measures.models import (
    Category,
    Facility,
    HealthCheck,
    Measure,
    MeasureType,
    Room,
)


def place(actor, person, category=Category.RETURNEE, **details):
    return services.place_under_control(actor, person, category=category, **details)


@pytest.fixture
def at_home(users, residents):
    """Three returnees of grid_a1 under home health monitoring."""
    return [place(users["grid_a1"], person) for person in residents("grid_a1", 3)]


def post(client, url, body, **extra):
    return client.post(url, body, content_type="application/json", **extra)


def error_at(response, *loc):
    return next(error for error in response.json()["detail"] if error["loc"] == list(loc))


# Reading measures -------------------------------------------------------------------------


def test_the_list_shows_measures_in_force_of_the_jurisdiction_with_masked_persons(
    users, client_for, at_home, residents
):
    other = place(users["grid_b1"], residents("grid_b1", 1)[0])
    ended = at_home[2]
    services.end_measure(None, ended, Measure.Status.HOSPITAL)
    client = client_for("grid_a1")

    body = client.get("/api/measures").json()
    ids = {row["id"] for row in body["items"]}
    assert {at_home[0].pk, at_home[1].pk} <= ids and ended.pk not in ids and other.pk not in ids
    row = next(row for row in body["items"] if row["id"] == at_home[0].pk)
    person = at_home[0].person
    assert row["name"] == person.name and row["id_number"] == person.id_number_masked
    assert person.id_number not in str(body) and row["checks_today"] == 0

    every = client.get("/api/measures", {"status": ""}).json()["items"]
    assert ended.pk in {row["id"] for row in every}
    hospital = client.get("/api/measures", {"status": "hospital"}).json()["items"]
    assert [row["id"] for row in hospital] == [ended.pk]
    assert at_home[0].pk not in {
        row["id"] for row in client_for("grid_b1").get("/api/measures").json()["items"]
    }


def test_an_unknown_filter_is_refused_not_ignored(users, client_for, at_home):
    client = client_for("grid_b1")
    response = client.get("/api/measures", {"status": "nonsense"})
    assert response.status_code == 422
    assert error_at(response, "query", "status")["msg_en"]
    out_of_scope = client.get("/api/measures", {"region": users["grid_a1"].region.parent_id})
    assert out_of_scope.status_code == 422


def test_a_measure_comes_with_its_course_tests_and_release_check(
    users, client_for, facility, residents
):
    measure = place(
        users["cdc_epi"], residents("grid_a1", 1)[0], Category.CLOSE_CONTACT, facility=facility
    )
    body = client_for("grid_a1").get(f"/api/measures/{measure.pk}").json()

    assert body["type"] == MeasureType.CENTRALISED and body["room_number"] == "101"
    assert [(p["phase"], p["type"], p["status"]) for p in body["phases"]] == [
        (1, "centralised", "active"),
        (2, "home_monitoring", "planned"),
    ]
    assert {"person", "object", "environment"} == {t["kind"] for t in body["tests"]}
    assert {"label": "无未处置的健康异常", "met": True, "detail": ""} in body["release_check"]
    assert not next(c for c in body["release_check"] if c["label"].startswith("期满"))["met"]


def test_another_grid_cannot_read_or_write_the_measures_of_a_grid(users, client_for, at_home):
    measure = at_home[0]
    test = measure.tests.first()
    client = client_for("grid_b1")
    url = f"/api/measures/{measure.pk}"

    assert client.get(url).status_code == 404
    assert post(client, f"{url}/checks", {"temperature": "36.5"}).status_code == 404
    assert post(client, f"{url}/release", {}).status_code == 404
    assert post(client, f"{url}/end", {"status": "absconded"}).status_code == 404
    result = {"result": "positive", "sampled_at": timezone.now().isoformat()}
    assert post(client, f"/api/measure-tests/{test.pk}/result", result).status_code == 404
    batch = post(
        client, "/api/checks/batch", {"items": [{"measure": measure.pk, "temperature": 36.5}]}
    )
    assert batch.status_code == 400 and error_at(batch, "body", "items", 0, "measure")
    measure.refresh_from_db()
    test.refresh_from_db()
    assert measure.status == Measure.Status.ACTIVE and test.result == ""
    assert not measure.checks.exists()


def test_a_role_without_the_capability_cannot_write(users, client_for, at_home):
    client = client_for("commander")  # may view measures, not record or manage them
    url = f"/api/measures/{at_home[0].pk}"
    assert client.get(url).status_code == 200
    assert post(client, f"{url}/checks", {"temperature": "36.5"}).status_code == 404
    assert post(client, f"{url}/end", {"status": "absconded"}).status_code == 404
    assert client_for("pharmacy_clerk").get("/api/measures").status_code == 404
    assert not at_home[0].checks.exists()


# Placing under control --------------------------------------------------------------------


def test_placing_under_control_and_a_second_time_is_a_conflict_naming_the_first(
    users, client_for, residents
):
    person = residents("grid_a1", 1)[0]
    client = client_for("grid_a1")
    body = {"person": person.pk, "category": "returnee", "reason": "返乡"}

    created = post(client, "/api/measures", body)
    assert created.status_code == 201
    measure = Measure.objects.get(pk=created.json()["id"])
    assert (measure.person, measure.type, measure.reason) == (person, "home_monitoring", "返乡")
    assert created.json()["planned_end"] == str(timezone.localdate() + timedelta(days=14))

    again = post(client, "/api/measures", body)
    assert again.status_code == 409
    assert again.json()["existing_measure"] == measure.pk
    error = error_at(again, "body", "person")
    assert error["type"] == "already_controlled" and "不能重复管控" in error["msg"]
    assert "msg_en" in error


def test_placing_is_refused_with_the_reason_next_to_the_field(users, client_for, residents):
    client = client_for("grid_a1")
    mine, theirs = residents("grid_a1", 1)[0], residents("grid_b1", 1)[0]

    no_facility = post(client, "/api/measures", {"person": mine.pk, "category": "close_contact"})
    assert no_facility.status_code == 400
    assert error_at(no_facility, "body", "facility")["type"] == "facility_required"
    unknown = post(client, "/api/measures", {"person": mine.pk, "category": "stranger"})
    assert unknown.status_code == 400 and error_at(unknown, "body", "category")
    elsewhere = post(client, "/api/measures", {"person": theirs.pk, "category": "returnee"})
    assert elsewhere.status_code == 400 and error_at(elsewhere, "body", "person")
    assert not Measure.objects.filter(person__in=[mine, theirs]).exists()


# Health checks ----------------------------------------------------------------------------


def test_one_reading_by_token(users, client, at_home):
    _, raw = create_api_token(users["grid_a1"], "额温枪", created_by=users["grid_a1"])
    measure = at_home[0]
    response = post(
        client,
        f"/api/measures/{measure.pk}/checks",
        {"temperature": 37.8, "symptoms": ["dry_cough"]},
        HTTP_AUTHORIZATION=f"Bearer {raw}",
    )

    assert response.status_code == 201
    body = response.json()
    assert body["abnormal"] is True and body["temperature"] == "37.8"
    check = HealthCheck.objects.get(pk=body["id"])
    assert (check.measure, check.recorded_by, check.source) == (measure, users["grid_a1"], "api")
    referral = deadlines.tasks_of(measure, Duty.REFER_FEVER).get()
    assert Alert.objects.filter(task=referral).exists()


def test_a_wrong_reading_is_explained_in_chinese_and_english(client_for, at_home):
    response = post(
        client_for("grid_a1"),
        f"/api/measures/{at_home[0].pk}/checks",
        {"temperature": "43.5", "symptoms": ["hiccups"]},
    )

    assert response.status_code == 400
    temperature = error_at(response, "body", "temperature")
    assert temperature["msg"] == "体温须在35.0–42.0℃之间，请复测。" and "msg_en" in temperature
    assert "hiccups" in error_at(response, "body", "symptoms")["msg"]
    assert not at_home[0].checks.exists()


def test_an_ended_measure_takes_no_reading(client_for, at_home):
    services.end_measure(None, at_home[0], Measure.Status.HOSPITAL)
    response = post(
        client_for("grid_a1"), f"/api/measures/{at_home[0].pk}/checks", {"temperature": 36.4}
    )
    assert response.status_code == 400
    assert "不在管控中" in error_at(response, "body", "__all__")["msg"]


def test_one_reading_costs_one_measure_query_and_one_insert_and_no_audit_row(
    users, client, at_home
):
    _, raw = create_api_token(users["grid_a1"], "额温枪", created_by=users["grid_a1"])
    url = f"/api/measures/{at_home[0].pk}/checks"
    auth = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    post(client, url, {"temperature": 36.5}, **auth)  # the token's last use is noted once

    with CaptureQueriesContext(connection) as queries:
        assert post(client, url, {"temperature": 36.6}, **auth).status_code == 201
    sql = [query["sql"] for query in queries.captured_queries]
    assert len([s for s in sql if 'FROM "measures_measure"' in s]) == 1
    assert len([s for s in sql if s.startswith('INSERT INTO "measures_healthcheck"')]) == 1
    # No audit entry, alert or duty for a normal reading: the reading is its own record.
    assert not [s for s in sql if s.startswith("INSERT") and "measures_healthcheck" not in s]


def test_a_batch_is_saved_whole_or_not_at_all_with_each_items_errors(
    users, client_for, at_home, residents
):
    client = client_for("grid_a1")
    other_grid = place(users["grid_b1"], residents("grid_b1", 1)[0])
    items = [
        {"measure": at_home[0].pk, "temperature": 36.5},
        {"measure": at_home[1].pk, "temperature": "hot", "symptoms": ["other"]},
        {"measure": other_grid.pk, "temperature": 36.5},
        {"measure": at_home[2].pk, "temperature": 36.6, "checked_at": "2020-01-01T08:00"},
    ]

    refused = post(client, "/api/checks/batch", {"items": items})
    assert refused.status_code == 400
    assert {tuple(error["loc"]) for error in refused.json()["detail"]} == {
        ("body", "items", 1, "temperature"),
        ("body", "items", 1, "note"),  # "other" needs a word
        ("body", "items", 2, "measure"),
        ("body", "items", 3, "checked_at"),  # before the measure began
    }
    assert (
        error_at(refused, "body", "items", 1, "temperature")["msg"] == "请输入体温数值，如 36.5。"
    )
    assert not HealthCheck.objects.filter(measure__in=[*at_home, other_grid]).exists()

    items = [items[0], {"measure": at_home[1].pk, "temperature": 38.2}]
    saved = post(client, "/api/checks/batch", {"items": items})
    assert saved.status_code == 201
    assert [(c["measure"], c["abnormal"]) for c in saved.json()["items"]] == [
        (at_home[0].pk, False),
        (at_home[1].pk, True),
    ]
    assert deadlines.tasks_of(at_home[1], Duty.REFER_FEVER).exists()


def test_a_batch_costs_the_same_queries_however_many_items(users, client_for, residents):
    measures = [place(users["grid_a1"], person) for person in residents("grid_a1", 12)]
    client = client_for("grid_a1")

    def submit(batch):
        items = [
            # Every third reading is a fever: the referral duties and alerts are set-based too.
            {"measure": m.pk, "temperature": 38.0 if i % 3 == 0 else 36.5}
            for i, m in enumerate(batch)
        ]
        with CaptureQueriesContext(connection) as queries:
            assert post(client, "/api/checks/batch", {"items": items}).status_code == 201
        return len(queries)

    assert submit(measures[:2]) == submit(measures[2:])
    assert HealthCheck.objects.filter(measure__in=measures).count() == 12


def test_a_batch_has_a_size_limit(client_for, at_home, monkeypatch):
    from fangyi.measures import api

    monkeypatch.setattr(api, "BATCH_MAX_ITEMS", 2)
    items = [{"measure": m.pk, "temperature": 36.5} for m in at_home]
    response = post(client_for("grid_a1"), "/api/checks/batch", {"items": items})
    assert response.status_code == 400 and error_at(response, "body", "items")
    assert not HealthCheck.objects.filter(measure__in=at_home).exists()


# Tests, release and ending ----------------------------------------------------------------


def test_a_test_result_is_recorded_once(client_for, at_home):
    test = at_home[0].tests.first()
    client = client_for("grid_a1")
    url = f"/api/measure-tests/{test.pk}/result"
    sampled = timezone.now().isoformat()

    response = post(client, url, {"result": "negative", "sampled_at": sampled})
    assert response.status_code == 200 and response.json()["result"] == "negative"
    again = post(client, url, {"result": "positive", "sampled_at": sampled})
    assert again.status_code == 400 and error_at(again, "body")["type"] == "has_result"
    test.refresh_from_db()
    assert test.result == "negative"


def test_release_before_the_end_is_refused_and_a_transfer_needs_a_destination(client_for, at_home):
    client = client_for("grid_a1")
    url = f"/api/measures/{at_home[0].pk}"

    early = post(client, f"{url}/release", {})
    assert early.status_code == 400 and error_at(early, "body")["type"] == "criteria_not_met"
    nowhere = post(client, f"{url}/end", {"status": "transferred"})
    assert nowhere.status_code == 400 and error_at(nowhere, "body", "note")

    ended = post(client, f"{url}/end", {"status": "transferred", "note": "转往邻县"})
    assert ended.status_code == 200
    assert ended.json()["status"] == "transferred" and ended.json()["release_check"] is None


def test_release_through_the_api_starts_the_home_phase(users, client_for, facility, residents):
    start = timezone.localdate() - timedelta(days=14)
    measure = place(
        users["cdc_epi"],
        residents("grid_a1", 1)[0],
        Category.CLOSE_CONTACT,
        facility=facility,
        start_date=start,
    )
    for test in measure.tests.all():
        services.record_test_result(None, test, result="negative", sampled_at=timezone.now())

    response = post(client_for("facility_staff"), f"/api/measures/{measure.pk}/release", {})
    assert response.status_code == 200
    assert [(p["phase"], p["status"]) for p in response.json()["phases"]] == [
        (1, "released"),
        (2, "active"),
    ]


# Facilities -------------------------------------------------------------------------------


def test_facilities_with_occupancy_and_rooms_in_scope(users, client_for, facility, residents):
    place(users["cdc_epi"], residents("grid_a1", 1)[0], Category.CLOSE_CONTACT, facility=facility)
    street_a_site = services.create_facility(
        users["street_a"],
        Organisation.objects.create(
            name="城西临时隔离点",
            type=Organisation.Type.QUARANTINE_FACILITY,
            region=users["street_a"].region,
        ),
        kind=Facility.Kind.SITE,
    )
    client = client_for("grid_b1")

    # The county's facility serves every grid; street A's own site is not street B's.
    listed = {f["id"]: f for f in client.get("/api/facilities").json()}
    assert street_a_site.pk not in listed
    county = listed[facility.pk]
    assert (county["rooms"], county["free_rooms"], county["beds"], county["occupants"]) == (
        11,
        10,
        13,
        1,
    )
    rooms = client.get(f"/api/facilities/{facility.pk}/rooms").json()
    assert [(r["number"], r["status"]) for r in rooms[:2]] == [
        ("101", Room.Status.OCCUPIED),
        ("102", Room.Status.FREE),
    ]
    assert client.get(f"/api/facilities/{street_a_site.pk}/rooms").status_code == 404
    assert street_a_site.pk in {
        f["id"] for f in client_for("grid_a1").get("/api/facilities").json()
    }
