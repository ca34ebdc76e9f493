"""The canonical test world: the demo county, built once per session through the real
builder, with the demo users (county_admin, street_a, street_b, grid_a1, grid_b1…)."""

import pytest
from django.test import Client

from fangyi.accounts.models import User
from fangyi.demo.build import build_demo
from fangyi.geo.models import Organisation
from fangyi.measures import services as measure_services
from fangyi.measures.models import Facility, Room
from fangyi.people.models import Person

WORLD_PERSONS = 3000
WORLD_SEED = 7


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        build_demo(persons=WORLD_PERSONS, seed=WORLD_SEED)


@pytest.fixture
def users(db) -> dict[str, User]:
    return {u.username: u for u in User.objects.select_related("region")}


def login(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def client_for(users):
    """client_for("grid_a1") → a logged-in test client."""
    return lambda username: login(users[username])


@pytest.fixture
def person_of(users):
    """A person inside the named user's jurisdiction (holding a resident ID and a phone)."""

    def pick(username: str) -> Person:
        return (
            Person.objects.visible_to(users[username])
            .filter(id_type=Person.IdType.RESIDENT_ID)
            .exclude(phone_encrypted="")
            .order_by("id")
            .first()
        )

    return pick


@pytest.fixture
def residents(users):
    """residents("grid_a1", 5) → persons of that jurisdiction with a grid, oldest first."""

    def pick(username: str, count: int = 10) -> list[Person]:
        return list(
            Person.objects.visible_to(users[username])
            .filter(grid__isnull=False)
            .select_related("grid")
            .order_by("id")[:count]
        )

    return pick


@pytest.fixture
def facility(users) -> Facility:
    """The first quarantine facility of the demo county with 2 floors of 5 single rooms and
    one family room (3 beds) on floor 3, registered by the facility's staff member."""
    staff = users["facility_staff"]
    organisation = staff.organisation
    assert organisation.type == Organisation.Type.QUARANTINE_FACILITY
    facility = Facility.objects.filter(organisation=organisation).first()
    if facility is None:
        facility = measure_services.create_facility(staff, organisation, kind=Facility.Kind.SITE)
    facility.rooms.all().delete()
    for floor in (1, 2):
        measure_services.add_rooms(
            staff,
            facility,
            floor=floor,
            numbers=[f"{floor}0{n}" for n in range(1, 6)],
            kind=Room.Kind.SINGLE,
        )
    measure_services.add_rooms(
        staff, facility, floor=3, numbers=["301"], kind=Room.Kind.FAMILY, beds=3
    )
    return facility
