"""Arrival pages: entry by a grid worker and by a hotel (which sees only its own), the list
scoped to the jurisdiction and its logged export, an arrival's page, and the street placing
arrivals that waited for a room."""

from datetime import timedelta

import pytest

from fangyi.core.models import AccessLog
from fangyi.measures.models import Facility, Room
from fangyi.people.models import Person
from fangyi.travel import services
from fangyi.travel.models import Arrival
from tests.builders import resident_id

pytestmark = pytest.mark.django_db


def entry(grid, today, **overrides) -> dict:
    fields = {
        "name": "赵来返",
        "id_type": "resident_id",
        "id_number": resident_id(sequence="301"),
        "phone": "13712345678",
        "origin": "湖南省长沙市岳麓区",
        "stay_from": (today - timedelta(days=9)).isoformat(),
        "departure_date": (today - timedelta(days=1)).isoformat(),
        "arrival_date": (today - timedelta(days=1)).isoformat(),
        "transport": "car",
        "transport_number": "湘A12345",
        "destination": "柳溪村5组1号",
        "grid": grid.pk,
        "stay1_address": "江西省南昌市东湖区",
        "stay1_from": (today - timedelta(days=12)).isoformat(),
        "stay1_to": (today - timedelta(days=10)).isoformat(),
    }
    return fields | overrides


def test_a_grid_worker_registers_a_new_person_arriving(client_for, grid, today, risk_list):
    response = client_for("grid_a1").post("/travel/arrivals/new/", entry(grid, today))
    arrival = Arrival.objects.get(destination="柳溪村5组1号")
    assert response.status_code == 302 and response["Location"].endswith(f"/{arrival.pk}/")
    assert arrival.channel == Arrival.Channel.GRID and arrival.grid == grid
    assert (arrival.origin_level, arrival.status) == ("medium", Arrival.Status.MEASURE)
    assert arrival.person.phone == "13712345678" and arrival.person.sex == "male"
    assert arrival.stays.count() == 2


def test_a_grid_worker_registers_an_arrival_of_a_known_person(
    client_for, grid, today, person_of, risk_list
):
    person = person_of("grid_a1")
    client = client_for("grid_a1")
    form = client.get("/travel/arrivals/new/", {"person": person.pk})
    assert person.name in form.content.decode() and "id_number" not in form.context["form"].fields
    payload = {k: v for k, v in entry(grid, today).items() if k not in ("name", "id_number")}
    client.post(f"/travel/arrivals/new/?person={person.pk}", payload)
    assert Arrival.objects.get(destination="柳溪村5组1号").person == person


def test_a_grid_worker_cannot_register_into_another_grid_or_for_another_grids_person(
    client_for, users, grid, today, person_of
):
    client = client_for("grid_a1")
    response = client.post("/travel/arrivals/new/", entry(users["grid_b1"].region, today))
    assert "所选网格不存在或不在可选范围内" in response.content.decode()
    other = person_of("grid_b1")
    assert client.get("/travel/arrivals/new/", {"person": other.pk}).status_code == 404
    found = client.get("/travel/arrivals/new/", {"q": other.name}).context["found"]
    assert other not in found


def test_arrival_dates_out_of_order_are_explained(client_for, grid, today):
    late_departure = (today + timedelta(days=1)).isoformat()
    response = client_for("grid_a1").post(
        "/travel/arrivals/new/", entry(grid, today, departure_date=late_departure)
    )
    assert "日期顺序不对" in response.content.decode()


def test_a_hotel_registers_a_guest_and_sees_only_its_own(
    client_for, users, today, arrival_data, risk_list
):
    clerk = users["hotel_clerk"]
    street = clerk.organisation.region
    guest_grid = users["grid_a1"].region
    assert guest_grid.path.startswith(street.path)
    someone_else, _ = services.register_arrival(None, arrival_data(guest_grid), channel="self")

    client = client_for("hotel_clerk")
    assert client.get("/travel/arrivals/new/")["Location"] == "/travel/arrivals/unit/"
    response = client.post("/travel/arrivals/unit/", entry(guest_grid, today))
    assert response.status_code == 302
    arrival = Arrival.objects.get(destination="柳溪村5组1号")
    assert arrival.channel == Arrival.Channel.HOTEL
    assert arrival.reporting_organisation == clerk.organisation

    page = client.get("/travel/arrivals/unit/").content.decode()
    assert "赵*返" in page and "赵来返" not in page and arrival.receipt_code in page
    assert someone_else.receipt_code not in page and someone_else.person.name not in page
    for url in [
        "/travel/arrivals/",
        "/travel/arrivals/export.xlsx",
        f"/travel/arrivals/{arrival.pk}/",
        f"/travel/arrivals/{someone_else.pk}/",
        "/travel/arrivals/pending/",
        "/api/arrivals",
        f"/api/arrivals/{arrival.pk}",
    ]:
        assert client.get(url).status_code == 404, url


def test_a_hotel_chooses_among_the_grids_of_its_township_only(client_for, users, today):
    form = client_for("hotel_clerk").get("/travel/arrivals/unit/").context["form"]
    street = users["hotel_clerk"].organisation.region
    grids = list(form.fields["grid"].queryset)
    assert grids and all(g.path.startswith(street.path) for g in grids)
    assert users["grid_b1"].region not in grids


def test_workers_have_no_unit_page(client_for):
    assert client_for("grid_a1").get("/travel/arrivals/unit/").status_code == 404


def test_the_list_is_scoped_to_the_jurisdiction(
    client_for, users, arrival_data, risk_list, django_assert_max_num_queries
):
    grid_a, grid_b = users["grid_a1"].region, users["grid_b1"].region
    mine = [services.register_arrival(None, arrival_data(grid_a), channel="self")[0]]
    theirs, _ = services.register_arrival(None, arrival_data(grid_b), channel="self")
    mine += [
        services.register_arrival(None, arrival_data(grid_a, origin=o), channel="self")[0]
        for o in ("湖南省长沙市岳麓区", "云南省昆明市五华区")
    ]
    client = client_for("grid_b1")
    with django_assert_max_num_queries(20):
        page = client.get("/travel/arrivals/")
    shown = set(page.context["page"].object_list)
    assert theirs in shown and not shown & set(mine)
    for arrival in mine:
        assert client.get(f"/travel/arrivals/{arrival.pk}/").status_code == 404
    assert client.get("/api/arrivals").json()["count"] == len(shown)
    own = client_for("grid_a1").get("/travel/arrivals/").content.decode()
    assert all(a.person.name in own for a in mine) and theirs.person.name not in own


def test_list_filters(client_for, users, arrival_data, risk_list, today):
    grid = users["grid_a1"].region
    high, _ = services.register_arrival(None, arrival_data(grid), channel="self")
    low, _ = services.register_arrival(
        None, arrival_data(grid, origin="云南省昆明市五华区"), channel="grid"
    )
    client = client_for("grid_a1")

    def listed(**query):
        return set(client.get("/travel/arrivals/", query).context["page"].object_list)

    assert high in listed(origin_level="high") and low not in listed(origin_level="high")
    assert low in listed(origin_level="none") and high not in listed(origin_level="none")
    assert low in listed(channel="grid") and high not in listed(channel="grid")
    assert high in listed(q=high.receipt_code) and low not in listed(q=high.receipt_code)
    tomorrow = (today + timedelta(days=1)).isoformat()
    assert not listed(arrived_from=tomorrow) & {high, low}


def test_the_export_is_masked_and_logged(client_for, users, arrival_data, risk_list):
    grid = users["grid_a1"].region
    arrival, _ = services.register_arrival(None, arrival_data(grid), channel="self")
    before = AccessLog.objects.filter(action=AccessLog.Action.EXPORT).count()
    response = client_for("grid_a1").get("/travel/arrivals/export.xlsx")
    assert response.status_code == 200
    assert AccessLog.objects.filter(action=AccessLog.Action.EXPORT).count() == before + 1
    assert arrival.person.id_number.encode() not in response.content
    assert client_for("commander").get("/travel/arrivals/export.xlsx").status_code == 404


def test_the_arrival_page_shows_classification_stays_and_history(
    client_for, users, arrival_data, risk_list
):
    grid = users["grid_a1"].region
    data = arrival_data(grid, origin="湖南省长沙市岳麓区")
    arrival, _ = services.register_arrival(None, data, channel="self")
    data.person, data.transport_number = None, "G99"
    services.register_arrival(users["grid_a1"], data, channel="grid")
    page = client_for("grid_a1").get(f"/travel/arrivals/{arrival.pk}/").content.decode()
    assert arrival.rule.basis in page and "v1" in page
    assert f"/measures/{arrival.measure_id}/" in page
    assert "本人扫码报备、网格员登记" in page
    assert "G99" in page and arrival.person.id_number not in page


def test_the_street_places_an_arrival_that_waited_for_a_room(
    client_for, users, arrival_data, facility, risk_list
):
    grid = users["grid_a1"].region
    Room.objects.filter(facility__in=Facility.objects.all()).update(status=Room.Status.CLEANING)
    arrival, _ = services.register_arrival(None, arrival_data(grid), channel="self")
    assert arrival.status == Arrival.Status.PENDING

    client = client_for("street_a")
    page = client.get("/travel/arrivals/pending/")
    assert arrival in page.context["page"].object_list and not page.context["facilities"]
    other_street = client_for("street_b").get("/travel/arrivals/pending/")
    assert arrival not in other_street.context["page"].object_list

    facility.rooms.filter(number="101").update(status=Room.Status.FREE)
    assert facility in client.get("/travel/arrivals/pending/").context["facilities"]
    response = client.post(f"/travel/arrivals/{arrival.pk}/place/", {"facility": facility.pk})
    assert response.status_code == 302
    arrival.refresh_from_db()
    assert arrival.status == Arrival.Status.MEASURE and arrival.measure.facility == facility
    assert arrival.measure.room.number == "101"
    assert client_for("street_b").post(f"/travel/arrivals/{arrival.pk}/place/").status_code == 404


def test_new_persons_from_arrivals_are_floating(client_for, grid, today, risk_list):
    client_for("grid_a1").post("/travel/arrivals/new/", entry(grid, today))
    person = Arrival.objects.get(destination="柳溪村5组1号").person
    assert person.category == Person.Category.FLOATING and person.grid == grid
