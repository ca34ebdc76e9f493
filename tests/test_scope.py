"""The scope walk: users of sibling jurisdictions never see each other's records, on any
page, API endpoint, export or search, and direct URLs to the other side are 404."""

import io
import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from openpyxl import load_workbook

from fangyi.people.models import Person

SIBLINGS = [("grid_a1", "grid_b1"), ("street_a", "street_b")]


def visible_ids(user) -> set[int]:
    return set(Person.objects.visible_to(user).values_list("id", flat=True))


def ids_in_html(content: bytes) -> set[int]:
    return {int(i) for i in re.findall(rb'href="/persons/(\d+)/"', content)}


def ids_in_export(content: bytes) -> set[int]:
    sheet = load_workbook(io.BytesIO(content)).active
    return {
        row[0] for row in sheet.iter_rows(min_row=2, values_only=True) if isinstance(row[0], int)
    }


@pytest.mark.parametrize(("me", "other"), SIBLINGS + [(b, a) for a, b in SIBLINGS])
def test_lists_exports_and_api_show_only_own_jurisdiction(users, client_for, me, other):
    mine, theirs = visible_ids(users[me]), visible_ids(users[other])
    assert mine and theirs and not mine & theirs
    client = client_for(me)
    other_person = Person.objects.visible_to(users[other]).first()

    shown = set()
    for page in range(1, 50):
        response = client.get("/persons/", {"page": page})
        shown |= ids_in_html(response.content)
        if "下一页" not in response.content.decode():
            break
    assert shown == mine

    for query in [other_person.name, other_person.name_initials, other_person.id_number[-4:]]:
        assert not ids_in_html(client.get("/persons/", {"q": query}).content) & theirs
        api = client.get("/api/persons", {"search": query}).json()
        assert not {p["id"] for p in api["items"]} & theirs
        assert not ids_in_export(client.get("/persons/export.xlsx", {"q": query}).content) & theirs

    exported = client.get("/persons/export.xlsx")
    if users[me].can("export_data"):
        assert ids_in_export(exported.content) == mine
    else:
        assert exported.status_code == 404

    api_ids = set()
    for page in range(1, 50):
        body = client.get("/api/persons", {"page": page}).json()
        api_ids |= {p["id"] for p in body["items"]}
        if not body["items"]:
            break
    assert api_ids == mine

    regions = {r["id"] for r in client.get("/api/regions").json()}
    assert users[me].region_id in regions and users[other].region_id not in regions


@pytest.mark.parametrize(("me", "other"), SIBLINGS)
def test_direct_urls_to_the_other_side_are_404(users, client_for, me, other):
    client = client_for(me)
    person = Person.objects.visible_to(users[other]).first()
    for url in [f"/persons/{person.pk}/", f"/persons/{person.pk}/edit/"]:
        assert client.get(url).status_code == 404
    assert client.post(f"/persons/{person.pk}/reveal/").status_code == 404
    assert client.post(f"/persons/{person.pk}/edit/", {"name": "x"}).status_code == 404
    assert client.get(f"/api/persons/{person.pk}").status_code == 404
    assert client.get(f"/api/persons/{person.pk}", {"reveal": "true"}).status_code == 404


def test_county_sees_both_sides(users, client_for):
    county = visible_ids(users["county_admin"])
    assert visible_ids(users["grid_a1"]) | visible_ids(users["street_b"]) <= county
    assert len(county) == Person.objects.count()


def test_grid_worker_cannot_register_a_person_in_another_grid(users, client_for):
    response = client_for("grid_a1").post(
        "/persons/new/",
        {
            "name": "张三",
            "id_type": "none",
            "birth_date": "2020-01-01",
            "sex": "male",
            "grid": users["grid_b1"].region_id,
            "category": "resident",
        },
    )
    assert response.status_code == 200
    assert "所选网格不存在或不在您的管辖范围内" in response.content.decode()


def test_home_counts_are_scoped(users, client_for):
    response = client_for("grid_a1").get("/")
    count = len(visible_ids(users["grid_a1"]))
    assert re.search(rf'id="stat-persons">{count:,}<'.encode(), response.content)


# Views reachable without a session: everything else needs a login (deny by default).
PUBLIC_URL_NAMES = {
    "login",
    "set_language",
    "healthz",
    "self_check",
    "travel_public_areas",
    "travel_selfreport",
    "travel_receipt",
}


def all_patterns(resolver=None, prefix=""):
    for entry in (resolver or get_resolver()).url_patterns:
        if isinstance(entry, URLResolver):
            yield from all_patterns(entry, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), entry


def test_every_url_is_either_login_only_or_explicitly_public():
    public = set()
    for route, pattern in all_patterns():
        if getattr(pattern.callback, "login_required", True):
            continue
        if route.startswith("api/"):
            continue  # ninja: every operation authenticates (checked below)
        if route.startswith("admin/"):
            continue  # the admin site checks staff status itself
        public.add(pattern.name)
    assert public == PUBLIC_URL_NAMES


def test_api_operations_all_require_authentication(client):
    from fangyi.api import api

    schema = api.get_openapi_schema()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            assert operation.get("security"), f"{method.upper()} {path} is open"
    assert client.get("/api/persons").status_code == 401
    assert client.get("/api/me").status_code == 401


def test_anonymous_pages_redirect_to_login(client):
    for url in ["/", "/persons/", "/persons/export.xlsx", "/audit/access/", "/accounts/tokens/"]:
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
