from fangyi.accounts.models import ApiToken
from fangyi.accounts.services import create_api_token
from fangyi.people.models import Person
from tests import builders


def resident_id(sequence: str = "456") -> str:
    return builders.resident_id(birth="19900101", sequence=sequence)


def bearer(client, raw: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def test_token_acts_as_its_user_with_the_same_scope(users, client, person_of):
    _, raw = create_api_token(users["grid_b1"], "lab link", created_by=users["grid_b1"])
    me = client.get("/api/me", **bearer(client, raw)).json()
    assert me["username"] == "grid_b1" and "grid_worker" in me["roles"]
    other = person_of("grid_a1")
    assert client.get(f"/api/persons/{other.pk}", **bearer(client, raw)).status_code == 404
    own = person_of("grid_b1")
    body = client.get(f"/api/persons/{own.pk}", **bearer(client, raw)).json()
    assert body["id_number"] == own.id_number_masked and body["phone"] == own.phone_masked
    assert body["grid"] == users["grid_b1"].region_id


def test_revoked_or_unknown_tokens_are_refused(users, client):
    token, raw = create_api_token(users["grid_a1"], "x", created_by=users["grid_a1"])
    assert client.get("/api/me", **bearer(client, raw)).status_code == 200
    client_for_owner = client
    client_for_owner.force_login(users["grid_a1"])
    client_for_owner.post(f"/accounts/tokens/{token.pk}/revoke/")
    client_for_owner.logout()
    assert client.get("/api/me", **bearer(client, raw)).status_code == 401
    assert client.get("/api/me", **bearer(client, "fy_nonsense")).status_code == 401


def test_token_page_shows_the_raw_token_once_and_stores_only_its_hash(users, client_for):
    client = client_for("street_a")
    page = client.post("/accounts/tokens/", {"name": "对接"}).content.decode()
    token = ApiToken.objects.get(user=users["street_a"])
    raw = page.split('id="new-token">')[1].split("<")[0]
    assert raw.startswith("fy_") and raw not in token.token_hash
    assert raw not in client.get("/accounts/tokens/").content.decode()


def test_create_person_with_bad_id_gives_422_per_field_in_chinese_and_english(users, client_for):
    client = client_for("grid_a1")
    bad = builders.with_wrong_check_digit(resident_id())
    response = client.post(
        "/api/persons",
        {"name": "王五", "id_number": bad, "phone": "123", "grid": users["grid_a1"].region_id},
        content_type="application/json",
    )
    assert response.status_code == 422
    errors = {e["loc"][1]: e for e in response.json()["detail"]}
    assert errors["id_number"]["type"] == "checksum"
    assert "校验位不正确" in errors["id_number"]["msg"]
    assert "check digit" in errors["id_number"]["msg_en"].lower()
    assert "phone" in errors


def test_create_person_returns_masked_person(users, client_for):
    client = client_for("grid_a1")
    response = client.post(
        "/api/persons",
        {
            "name": "王五",
            "id_number": resident_id(),
            "phone": "13912340000",
            "grid": users["grid_a1"].region_id,
            "key_groups": ["cold_chain"],
        },
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["id_number"] == "330122********" + resident_id()[-4:]
    assert body["phone"] == "139****0000" and body["key_groups"] == ["cold_chain"]
    assert body["sex"] == "female" and body["birth_date"] == "1990-01-01"  # 17th digit 6
    duplicate = client.post(
        "/api/persons",
        {"name": "王五", "id_number": resident_id(), "grid": users["grid_a1"].region_id},
        content_type="application/json",
    )
    assert duplicate.status_code == 422 and duplicate.json()["existing_person"] == body["id"]


def test_cannot_create_in_a_grid_outside_scope(users, client_for):
    response = client_for("grid_a1").post(
        "/api/persons",
        {"name": "王五", "id_number": resident_id("789"), "grid": users["grid_b1"].region_id},
        content_type="application/json",
    )
    assert response.status_code == 422
    assert not Person.objects.filter(name="王五").exists()


def test_session_api_writes_need_csrf(users):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(users["grid_a1"])
    response = client.post(
        "/api/persons",
        {"name": "x", "grid": users["grid_a1"].region_id},
        content_type="application/json",
    )
    assert response.status_code in (401, 403)


def test_search_is_paginated(client_for):
    body = client_for("county_admin").get("/api/persons", {"search": "z"}).json()
    assert body["count"] > 50 and len(body["items"]) == 50
    assert all(p["id_number"] == "" or "*" in p["id_number"] for p in body["items"])


def test_openapi_docs_are_served(client):
    assert client.get("/api/docs").status_code == 200
    assert "/api/persons" in client.get("/api/openapi.json").json()["paths"]
