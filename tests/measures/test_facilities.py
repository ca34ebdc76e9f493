"""Facility pages: the list with occupancy, registering a facility, the rooms of a floor as
tiles with their residents, room status actions, adding rooms, occupancy per day."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from fangyi.core.models import ChangeLog
from fangyi.geo.models import Organisation
from fangyi.measures import services
from fangyi.measures.facility_forms import mask_name
from fangyi.measures.models import Category, Facility, Measure, Room
from fangyi.people.models import Person


@pytest.fixture
def free_people(users):
    """free_people(3, "street_a") → persons of that jurisdiction (the county by default)
    with a grid and under no measure."""

    def pick(count: int, username: str = "cdc_epi") -> list[Person]:
        return list(
            Person.objects.visible_to(users[username])
            .filter(grid__isnull=False)
            .exclude(measures__status__in=services.OPEN)
            .order_by("id")[:count]
        )

    return pick


def house(users, facility, person, number=None, **details) -> Measure:
    room = facility.rooms.get(number=number) if number else None
    return services.place_under_control(
        users["cdc_epi"],
        person,
        category=Category.CLOSE_CONTACT,
        facility=facility,
        room=room,
        **details,
    )


def cells(page: str, row_id: str) -> list[str]:
    """The texts of the cells of the table row with that id."""
    row = re.search(rf'<tr id="{row_id}">(.*?)</tr>', page, re.S).group(1)
    return [
        re.sub(r"<[^>]+>|\s+", "", cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    ]


def tile(page: str, room: Room) -> str:
    """The markup of a room's tile on the facility page."""
    return re.search(rf'<div class="room [^"]*" id="room-{room.pk}">.*?</div>', page, re.S).group(0)


def test_list_shows_rooms_beds_occupants_and_rate(users, client_for, facility, free_people):
    for person in free_people(2):
        house(users, facility, person)
    services.set_room_status(
        users["facility_staff"], facility.rooms.get(number="205"), Room.Status.OUT_OF_SERVICE
    )

    page = client_for("commander").get("/measures/facilities/").content.decode()

    # 11 rooms, 13 beds (family room 301 has 3), 101 and 102 taken, 205 out of service.
    assert cells(page, f"facility-{facility.pk}")[1:] == [
        "集中隔离医学观察点",
        facility.address.replace(" ", ""),
        "11",
        "13",
        "2",
        "8",
        "0",
        "1",
        "15%",
    ]


def test_registering_a_facility_from_a_quarantine_facility_organisation(users, client_for):
    staff = users["facility_staff"]
    hotel = Organisation.objects.create(
        name="平安隔离酒店",
        type=Organisation.Type.QUARANTINE_FACILITY,
        region=users["street_a"].region,
        address="平安路1号",
    )
    clinic = Organisation.objects.filter(type=Organisation.Type.PRIVATE_CLINIC).first()
    client = client_for("facility_staff")
    form = client.get("/measures/facilities/new/").content.decode()
    assert f'<option value="{hotel.pk}">' in form
    assert f'<option value="{clinic.pk}">' not in form

    response = client.post(
        "/measures/facilities/new/", {"organisation": hotel.pk, "kind": "hotel", "phone": "0571-1"}
    )

    facility = Facility.objects.get(organisation=hotel)
    assert (
        response.status_code == 302
        and response["Location"] == f"/measures/facilities/{facility.pk}/"
    )
    assert (facility.name, facility.kind, facility.region, facility.address, facility.phone) == (
        "平安隔离酒店",
        Facility.Kind.HOTEL,
        hotel.region,
        "平安路1号",
        "0571-1",
    )
    assert ChangeLog.objects.filter(actor=staff, object_id=str(facility.pk)).exists()
    again = client.post("/measures/facilities/new/", {"organisation": hotel.pk, "kind": "site"})
    assert "所选单位不存在、已登记场所或不在您的管辖范围内" in again.content.decode()
    assert Facility.objects.filter(organisation=hotel).count() == 1
    # Registering needs the facilities right.
    assert client_for("cdc_epi").get("/measures/facilities/new/").status_code == 404


def test_detail_shows_floors_of_room_tiles_with_masked_residents_in_scope(
    users, client_for, facility, free_people
):
    mine = house(users, facility, free_people(1, "street_a")[0], number="202")
    theirs = house(users, facility, free_people(1, "street_b")[0], number="203")

    page = client_for("commander").get(f"/measures/facilities/{facility.pk}/").content.decode()

    floors = re.findall(r'<div class="rooms" id="floor-(-?\d+)">', page)
    assert floors == ["1", "2", "3"]
    occupied = tile(page, mine.room)
    assert 'class="room room-occupied"' in occupied
    assert mask_name(mine.person.name) in occupied and mine.person.name not in page
    assert 'class="room room-free"' in tile(page, facility.rooms.get(number="201"))
    # Viewers without the facilities right get no room actions.
    assert "/status/" not in page
    # A street worker sees the county's facility, but names only the residents of the street.
    street = client_for("street_a").get(f"/measures/facilities/{facility.pk}/").content.decode()
    assert mask_name(mine.person.name) in tile(street, mine.room)
    other = tile(street, theirs.room)
    assert "room-occupied" in other and mask_name(theirs.person.name) not in other


def test_room_status_actions_and_refusal_for_an_occupied_room(
    users, client_for, facility, free_people
):
    left, staying = free_people(2)
    gone = house(users, facility, left, number="101")
    services.end_measure(users["cdc_epi"], gone, Measure.Status.HOSPITAL)
    occupied = house(users, facility, staying, number="102").room
    cleaning = facility.rooms.get(number="101")
    assert cleaning.status == Room.Status.CLEANING
    client = client_for("facility_staff")
    detail = f"/measures/facilities/{facility.pk}/"

    def set_status(room, status):
        return client.post(f"{detail}rooms/{room.pk}/status/", {"status": status}, follow=True)

    page = client.get(detail).content.decode()
    assert "已消毒" in tile(page, cleaning) and "已消毒" not in tile(page, occupied)

    assert "房间 101 已设为空闲" in set_status(cleaning, "free").content.decode()
    cleaning.refresh_from_db()
    assert cleaning.status == Room.Status.FREE
    set_status(cleaning, "out_of_service")
    cleaning.refresh_from_db()
    assert cleaning.status == Room.Status.OUT_OF_SERVICE
    assert "恢复使用" in tile(client.get(detail).content.decode(), cleaning)
    set_status(cleaning, "free")
    cleaning.refresh_from_db()
    assert cleaning.status == Room.Status.FREE

    refused = set_status(occupied, "out_of_service").content.decode()
    assert "房间 102：房间内仍有人员，不能更改状态。" in refused
    occupied.refresh_from_db()
    assert occupied.status == Room.Status.OCCUPIED and occupied.occupants == 1
    # Only "free" and "out of service" can be set by hand; only by the facilities right.
    assert (
        client.post(f"{detail}rooms/{cleaning.pk}/status/", {"status": "occupied"}).status_code
        == 404
    )
    assert (
        client_for("cdc_epi")
        .post(f"{detail}rooms/{cleaning.pk}/status/", {"status": "free"})
        .status_code
        == 404
    )


def test_adding_rooms_by_range_and_list_and_refusing_a_number_in_use(users, client_for, facility):
    client = client_for("facility_staff")
    url = f"/measures/facilities/{facility.pk}/rooms/"

    response = client.post(
        url, {"floor": 4, "numbers": "401-403, 405", "kind": "family", "beds": 2}
    )

    assert response.status_code == 302
    added = facility.rooms.filter(floor=4)
    assert [(r.number, r.kind, r.beds, r.status) for r in added] == [
        (number, Room.Kind.FAMILY, 2, Room.Status.FREE) for number in ("401", "402", "403", "405")
    ]

    duplicate = client.post(url, {"floor": 1, "numbers": "104-107", "kind": "single", "beds": 1})
    assert duplicate.status_code == 200
    assert "房间号已存在：104、105" in duplicate.content.decode()
    assert not facility.rooms.filter(number__in=["106", "107"]).exists()

    for numbers, error in [
        ("510-501", "范围“510-501”的起始号大于结束号"),
        ("501,501", "房间号重复：501"),
        ("501-999", "一次最多添加200间房"),
        ("5#1", "无法识别“5#1”"),
    ]:
        refused = client.post(url, {"floor": 5, "numbers": numbers, "kind": "single", "beds": 1})
        assert error in refused.content.decode()
    assert not facility.rooms.filter(floor=5).exists()


def test_occupancy_per_day_over_the_last_14_days(
    users, client_for, facility, free_people, django_assert_num_queries
):
    today = timezone.localdate()
    first, second = free_people(2)
    house(users, facility, first, start_date=today - timedelta(days=10))
    short = house(users, facility, second, start_date=today - timedelta(days=5))
    left_at = timezone.now() - timedelta(days=2)
    services.end_measure(users["cdc_epi"], short, Measure.Status.HOSPITAL, now=left_at)

    with django_assert_num_queries(1):
        days = services.daily_occupancy(facility, 14)

    # [start, end): the day of leaving no longer counts.
    expected = [0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 1, 1, 1]
    assert days == [(today - timedelta(days=13 - i), n) for i, n in enumerate(expected)]
    page = client_for("facility_staff").get(f"/measures/facilities/{facility.pk}/")
    table = re.search(r'id="daily-occupancy">(.*?)</table>', page.content.decode(), re.S).group(1)
    assert re.findall(r"<tr><td>[\d-]+</td><td>(\d+)</td>", table) == [str(n) for n in expected]
