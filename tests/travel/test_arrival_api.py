"""Arrivals over the API: scoped and masked reads; one arrival or a batch registered all or
nothing, with each failing item's errors in Chinese and English."""

import json
from datetime import timedelta

import pytest

from fangyi.travel import services
from fangyi.travel.models import Arrival
from tests.builders import resident_id, with_wrong_check_digit

pytestmark = pytest.mark.django_db


def item(grid, today, n=1, **overrides) -> dict:
    fields = {
        "name": f"接口{n}",
        "id_number": resident_id(sequence=f"{600 + n:03d}"),
        "phone": f"1361234{n:04d}",
        "origin": "湖南省长沙市岳麓区",
        "stay_from": (today - timedelta(days=8)).isoformat(),
        "departure_date": (today - timedelta(days=1)).isoformat(),
        "arrival_date": (today - timedelta(days=1)).isoformat(),
        "transport": "plane",
        "transport_number": f"CA{n}",
        "destination": f"接口测试地址{n}号",
        "grid": grid.code,
        "other_stays": [
            {
                "address": "广东省广州市天河区",
                "from_date": (today - timedelta(days=12)).isoformat(),
                "to_date": (today - timedelta(days=9)).isoformat(),
            }
        ],
    }
    return fields | overrides


def post(client, items: list[dict]):
    return client.post(
        "/api/arrivals", json.dumps({"items": items}), content_type="application/json"
    )


def registered() -> int:
    return Arrival.objects.filter(destination__startswith="接口测试地址").count()


def test_one_arrival_is_registered_and_classified(client_for, grid, today, risk_list):
    response = post(client_for("grid_a1"), [item(grid, today)])
    assert response.status_code == 201
    (body,) = response.json()["items"]
    assert body["created"] and body["origin_level"] == "medium" and body["status"] == "measure"
    arrival = Arrival.objects.get(pk=body["id"])
    assert arrival.receipt_code == body["receipt_code"] and arrival.grid == grid
    assert arrival.channel == Arrival.Channel.GRID and arrival.stays.count() == 2


def test_a_batch_with_bad_items_stores_nothing_and_names_each(client_for, grid, today, users):
    items = [item(grid, today, n) for n in range(1, 5)]
    items[1]["id_number"] = with_wrong_check_digit(items[1]["id_number"])
    items[2]["grid"] = users["grid_b1"].region.code
    items[3]["temperature"] = "45"
    response = post(client_for("grid_a1"), items)
    assert response.status_code == 400 and registered() == 0
    detail = response.json()["detail"]
    assert {tuple(e["loc"]) for e in detail} == {
        ("body", "items", 1, "id_number"),
        ("body", "items", 2, "grid"),
        ("body", "items", 3, "temperature"),
    }
    checksum = next(e for e in detail if e["loc"][-1] == "id_number")
    assert "校验位" in checksum["msg"] and checksum["msg_en"] != checksum["msg"]


def test_a_refusal_by_the_service_rolls_back_the_batch(client_for, grid, today):
    ahead = (today + timedelta(days=4)).isoformat()
    items = [item(grid, today, 1), item(grid, today, 2, departure_date=ahead, arrival_date=ahead)]
    response = post(client_for("grid_a1"), items)
    assert response.status_code == 400 and registered() == 0
    (error,) = response.json()["detail"]
    assert error["loc"][:3] == ["body", "items", 1] and "3 天" in error["msg"]


def test_batches_are_limited(client_for, grid, today):
    response = post(client_for("grid_a1"), [item(grid, today, 1)] * 501)
    assert response.status_code == 400 and response.json()["detail"][0]["msg_en"]
    assert post(client_for("grid_a1"), []).status_code == 400


def test_a_known_person_of_the_scope_only(client_for, grid, today, person_of, risk_list):
    mine, theirs = person_of("grid_a1"), person_of("grid_b1")
    client = client_for("grid_a1")
    response = post(client, [{**item(grid, today), "person": theirs.pk}])
    assert response.status_code == 400
    assert response.json()["detail"][0]["loc"] == ["body", "items", 0, "person"]
    response = post(client, [{**item(grid, today), "person": mine.pk, "name": ""}])
    assert response.status_code == 201
    assert Arrival.objects.get(pk=response.json()["items"][0]["id"]).person == mine


def test_reads_are_scoped_and_masked(client_for, users, grid, arrival_data, risk_list):
    mine, _ = services.register_arrival(None, arrival_data(grid), channel="self")
    theirs, _ = services.register_arrival(
        None, arrival_data(users["grid_b1"].region), channel="self"
    )
    client = client_for("grid_a1")
    body = client.get("/api/arrivals").json()
    ids = {a["id"] for a in body["items"]}
    assert mine.pk in ids and theirs.pk not in ids
    row = next(a for a in body["items"] if a["id"] == mine.pk)
    assert row["id_number"] == mine.person.id_number_masked and row["origin_level"] == "high"
    no_risk = client.get("/api/arrivals", {"origin_level": "none"}).json()["items"]
    assert mine.pk not in {a["id"] for a in no_risk}
    high = client.get("/api/arrivals", {"origin_level": "high"}).json()["items"]
    assert mine.pk in {a["id"] for a in high}
    detail = client.get(f"/api/arrivals/{mine.pk}").json()
    assert detail["rule"]["version"] == 1 and detail["stays"][0]["adcode"] == "420103"
    assert client.get(f"/api/arrivals/{theirs.pk}").status_code == 404
    assert client.get("/api/arrivals", {"status": "nonsense"}).status_code == 422


def test_a_hotel_posts_as_itself_and_learns_nothing_of_others_reports(
    client_for, users, grid, today, arrival_data, risk_list
):
    data = arrival_data(grid, id_type="resident_id", id_number=resident_id(sequence="601"))
    earlier, _ = services.register_arrival(None, data, channel="self")
    same = item(grid, today, 1, arrival_date=data.arrival_date.isoformat())
    response = post(client_for("hotel_clerk"), [same, item(grid, today, 2)])
    assert response.status_code == 201
    merged, new = response.json()["items"]
    assert not merged["created"] and merged["receipt_code"] == "" and merged["outcome"] == ""
    assert new["created"] and new["receipt_code"]
    arrival = Arrival.objects.get(pk=new["id"])
    assert arrival.channel == Arrival.Channel.HOTEL
    assert arrival.reporting_organisation == users["hotel_clerk"].organisation


def test_anonymous_callers_are_refused(client):
    assert client.get("/api/arrivals").status_code == 401
    assert post(client, []).status_code == 401
