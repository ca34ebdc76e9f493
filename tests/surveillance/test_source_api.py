"""The signal sources over the API: batches all or nothing with every bad item reported
(422, Chinese and English), posting again changes nothing, the unit checked in scope, a
day's sales masked and the daily counts scoped."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from fangyi.accounts.models import Role, User
from fangyi.accounts.roles import RoleCode
from fangyi.accounts.services import create_api_token
from fangyi.geo.models import Organisation
from fangyi.people.models import Person
from fangyi.surveillance.models import (
    DailyCount,
    FeverClinicVisit,
    PharmacySale,
    SchoolAbsence,
    Source,
)
from tests import builders

pytestmark = pytest.mark.django_db


def post(client, url, body, **headers):
    return client.post(url, body, content_type="application/json", **headers)


def sale_item(receipt: str, **values) -> dict:
    return {
        "receipt": receipt,
        "sold_at": (timezone.now() - timedelta(minutes=20)).isoformat(),
        "buyer_name": "王五",
        "buyer_id_number": builders.resident_id(sequence="921"),
        "buyer_phone": "13912340000",
        "drug_category": "antipyretic",
        "temperature": "38.4",
    } | values


SALES = "/api/surveillance/pharmacy-sales"


def test_a_batch_with_bad_items_stores_nothing_and_reports_each(client_for):
    wrong = builders.with_wrong_check_digit(builders.resident_id())
    items = [
        sale_item("B1"),
        sale_item("B2", buyer_id_number=wrong),
        sale_item("B3", drug_category="vitamins", quantity="zero"),
        sale_item("B1"),
    ]
    response = post(client_for("pharmacy_clerk"), SALES, {"sales": items})
    assert response.status_code == 422
    errors = {tuple(e["loc"]): e for e in response.json()["detail"]}
    assert set(errors) == {
        ("body", "sales", 1, "buyer_id_number"),
        ("body", "sales", 2, "drug_category"),
        ("body", "sales", 2, "quantity"),
        ("body", "sales", 3, "receipt"),
    }
    checksum = errors["body", "sales", 1, "buyer_id_number"]
    assert checksum["type"] == "checksum" and "校验位不正确" in checksum["msg"]
    assert "check digit" in checksum["msg_en"].lower()
    assert errors["body", "sales", 3, "receipt"]["type"] == "repeated"
    assert not PharmacySale.objects.filter(receipt__startswith="B").exists()


def test_posting_the_same_receipts_again_changes_nothing(users, client_for, today):
    client = client_for("pharmacy_clerk")
    items = [sale_item("C1"), sale_item("C2", drug_category="cough", temperature=None)]
    first = post(client, SALES, {"sales": items})
    assert first.status_code == 200 and first.json() == {"created": 2, "unchanged": 0}
    sold = PharmacySale.objects.get(receipt="C1")
    counted = DailyCount.objects.get(
        source=Source.PHARMACY, topic="antipyretic", region=sold.region, day=sold.day
    ).count
    again = post(client, SALES, {"sales": items})
    assert again.json() == {"created": 0, "unchanged": 2}
    assert PharmacySale.objects.filter(receipt__in=["C1", "C2"]).count() == 2
    assert (
        DailyCount.objects.get(
            source=Source.PHARMACY, topic="antipyretic", region=sold.region, day=sold.day
        ).count
        == counted
    )
    assert sold.has_fever and sold.pharmacy == users["pharmacy_clerk"].organisation


def test_a_token_posts_for_its_users_pharmacy_only(users, client):
    _, raw = create_api_token(users["pharmacy_clerk"], "till", created_by=users["pharmacy_clerk"])
    auth = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    other = Organisation.objects.filter(type=Organisation.Type.PHARMACY).exclude(
        pk=users["pharmacy_clerk"].organisation_id
    )[0]
    refused = post(client, SALES, {"pharmacy_id": other.pk, "sales": [sale_item("T1")]}, **auth)
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "pharmacy_id"]
    assert post(client, SALES, {"sales": [sale_item("T1")]}, **auth).status_code == 200


def test_a_county_user_names_the_pharmacy(users, client_for):
    client = client_for("county_admin")
    pharmacy = users["pharmacy_clerk"].organisation
    unnamed = post(client, SALES, {"sales": [sale_item("D1")]})
    assert unnamed.status_code == 422 and unnamed.json()["detail"][0]["type"] == "required"
    named = post(client, SALES, {"pharmacy_id": pharmacy.pk, "sales": [sale_item("D1")]})
    assert named.status_code == 200
    assert PharmacySale.objects.get(receipt="D1").pharmacy == pharmacy


def test_without_the_capability_the_api_is_404(client_for):
    assert post(client_for("grid_a1"), SALES, {"sales": [sale_item("E1")]}).status_code == 404
    body = {"day": timezone.localdate().isoformat(), "rows": []}
    assert (
        post(client_for("pharmacy_clerk"), "/api/surveillance/school-absences", body).status_code
        == 404
    )
    assert client_for("grid_a1").get(SALES).status_code == 404
    assert (
        client_for("pharmacy_clerk")
        .get("/api/surveillance/daily-counts", {"source": "pharmacy"})
        .status_code
        == 404
    )


def test_a_days_sales_are_listed_masked_and_scoped(users, client_for):
    post(client_for("pharmacy_clerk"), SALES, {"sales": [sale_item("F1")]})
    sold = PharmacySale.objects.get(receipt="F1")
    mine = client_for("pharmacy_clerk").get(SALES, {"day": sold.day.isoformat()}).json()
    item = next(i for i in mine["items"] if i["receipt"] == "F1")
    assert item["buyer_name"] == "王*" and item["buyer_phone"] == "139****0000"
    assert item["buyer_id_number"].endswith(builders.resident_id(sequence="921")[-4:])
    assert "*" in item["buyer_id_number"] and item["has_fever"] and not item["late"]
    cdc = client_for("cdc_epi").get(SALES, {"day": sold.day.isoformat()}).json()
    assert "F1" in {i["receipt"] for i in cdc["items"]}


def township_epidemiologist(region) -> User:
    user = User.objects.create_user("epi_api", region=region, last_name="乙", first_name="疾控")
    user.roles.add(Role.objects.get(code=RoleCode.CDC_EPIDEMIOLOGIST))
    return user


def test_daily_counts_are_scoped_to_the_callers_regions(users, client_for, clean_slate):
    street_a, street_b = users["street_a"].region, users["street_b"].region
    day = timezone.localdate() - timedelta(days=3)
    for region, count in ((street_a, 4), (street_b, 6)):
        DailyCount.objects.create(
            source=Source.PHARMACY, topic="cough", region=region, day=day, count=count
        )
    DailyCount.objects.create(
        source=Source.PHARMACY, topic="cough", region=street_a, day=day, count=1, imported=True
    )
    query = {"source": "pharmacy", "topic": "cough"}
    county = client_for("cdc_epi").get("/api/surveillance/daily-counts", query).json()
    assert {(r["region"], r["count"]) for r in county} == {(street_a.pk, 5), (street_b.pk, 6)}
    client = Client()
    client.force_login(township_epidemiologist(street_b))
    theirs = client.get("/api/surveillance/daily-counts", query).json()
    assert [(r["region"], r["count"], r["day"]) for r in theirs] == [
        (street_b.pk, 6, day.isoformat())
    ]
    old = {**query, "from": "2020-01-01", "to": (day - timedelta(days=1)).isoformat()}
    assert client.get("/api/surveillance/daily-counts", old).json() == []
    wrong = client.get("/api/surveillance/daily-counts", {"source": "weather"})
    assert wrong.status_code == 422 and wrong.json()["detail"][0]["loc"] == ["query", "source"]


VISITS = "/api/surveillance/fever-visits"


def visit_item(external_id: str, **values) -> dict:
    return {
        "external_id": external_id,
        "visited_at": (timezone.now() - timedelta(hours=1)).isoformat(),
        "id_number": builders.resident_id(sequence="922"),
        "temperature": "38.8",
        "symptoms": ["sore_throat"],
        "disposition": "home",
    } | values


def test_visits_register_new_patients_and_refuse_unknown_grids(users, client_for, person_of):
    client = client_for("clinician")
    known = person_of("grid_b1")
    grid_b = users["grid_b1"].region_id
    refused = post(
        client,
        VISITS,
        {
            "visits": [
                visit_item("M1", id_number=known.id_number),
                visit_item("M2", name="冯十二", address="青石镇3号"),
                visit_item("M3", id_number=builders.resident_id(sequence="923"), grid=999999),
            ]
        },
    )
    assert refused.status_code == 422
    locs = {tuple(e["loc"]) for e in refused.json()["detail"]}
    assert ("body", "visits", 1, "grid") in locs and ("body", "visits", 2, "grid") in locs
    assert ("body", "visits", 0, "grid") not in locs
    assert not FeverClinicVisit.objects.filter(external_id__startswith="M").exists()
    accepted = post(
        client,
        VISITS,
        {
            "visits": [
                visit_item("M1", id_number=known.id_number),
                visit_item("M2", name="冯十二", address="青石镇3号", grid=grid_b),
            ]
        },
    )
    assert accepted.json() == {"created": 2, "unchanged": 0}
    assert FeverClinicVisit.objects.get(external_id="M1").person == known
    new = Person.objects.get(name="冯十二")
    assert new.grid_id == grid_b and FeverClinicVisit.objects.get(external_id="M2").person == new


def test_school_absences_replace_the_days_counts(users, client_for, today):
    client = client_for("school_doctor")
    url = "/api/surveillance/school-absences"
    body = {
        "day": today.isoformat(),
        "rows": [
            {"syndrome": "fever", "absent": 5, "enrolled": 400},
            {"syndrome": "rash", "absent": 1, "enrolled": 400},
        ],
    }
    assert post(client, url, body).json() == {"written": 2}
    body["rows"] = [{"syndrome": "fever", "absent": 2, "enrolled": 400}]
    post(client, url, body)
    school = users["school_doctor"].organisation
    assert dict(
        SchoolAbsence.objects.filter(school=school, day=today).values_list("syndrome", "absent")
    ) == {"fever": 2, "rash": 1}
    bad = post(
        client,
        url,
        {
            "day": (today + timedelta(days=2)).isoformat(),
            "rows": [{"syndrome": "flu", "absent": -1}, {"syndrome": "flu", "absent": 1}],
        },
    )
    assert bad.status_code == 422
    locs = {tuple(e["loc"]) for e in bad.json()["detail"]}
    assert locs == {
        ("body", "day"),
        ("body", "rows", 0, "syndrome"),
        ("body", "rows", 0, "absent"),
        ("body", "rows", 1, "syndrome"),
    }
