"""No double booking when two staff house people at the same moment (PostgreSQL).

The test's own transaction is invisible to other connections, so the race runs in threads
(Django gives each thread its own connection) on data committed for the purpose, removed
afterwards. The session world (regions, persons, policies) is committed already."""

import threading
import time

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection, connections, transaction

from fangyi.core.models import ChangeLog, Task
from fangyi.geo.models import Organisation
from fangyi.measures import services
from fangyi.measures.models import Facility, Measure, MeasureTest, Room
from fangyi.people.models import Person

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SQLite serialises writers; the race is PostgreSQL's"
)


def in_thread(function):
    """Run `function` in its own thread and connection; return its result or exception."""
    outcome = {}

    def run():
        try:
            outcome["value"] = function()
        except Exception as error:  # noqa: BLE001 - handed back to the test
            outcome["error"] = error
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def committed(function):
    thread, outcome = in_thread(function)
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


@pytest.fixture
def race_facility(db):
    """A committed facility with two single rooms, removed with everything placed in it."""
    organisation = Organisation.objects.filter(type=Organisation.Type.QUARANTINE_FACILITY).last()
    people = list(
        Person.objects.filter(grid__isnull=False, measures__isnull=True).order_by("-id")[:2]
    )

    def arrange():
        facility = Facility.objects.filter(organisation=organisation).first()
        facility = facility or services.create_facility(None, organisation, kind="hotel")
        services.add_rooms(None, facility, floor=9, numbers=["901", "902"], kind="single")
        return facility

    facility = committed(arrange)
    yield facility, people

    def clean_up():
        measures = Measure.objects.filter(facility=facility)
        tests = MeasureTest.objects.filter(measure__in=measures)
        for model, ids in ((MeasureTest, tests), (Measure, measures)):
            Task.objects.filter(
                content_type=ContentType.objects.get_for_model(model),
                object_id__in=list(ids.values_list("pk", flat=True)),
            ).delete()
        ChangeLog.objects.filter(
            content_type=ContentType.objects.get_for_model(Measure),
            object_id__in=[str(pk) for pk in measures.values_list("pk", flat=True)],
        ).delete()
        measures.delete()
        facility.rooms.filter(number__in=["901", "902"]).delete()

    committed(clean_up)


def race(first, second):
    """`first` places and holds its transaction open until `second` has started waiting."""
    placed = threading.Event()

    def hold_first():
        with transaction.atomic():
            measure = first()
            placed.set()
            time.sleep(0.5)  # second is now blocked on the room's row lock
            return measure

    def then_second():
        placed.wait(5)
        return second()

    runs = [in_thread(hold_first), in_thread(then_second)]
    for thread, _ in runs:
        thread.join(10)
    return [outcome for _, outcome in runs]


def test_two_staff_taking_the_same_room_at_once_one_is_refused(race_facility):
    facility, (a, b) = race_facility
    room = facility.rooms.get(number="901")

    def house(person):
        return lambda: services.place_under_control(
            None, person, category="close_contact", facility=facility, room=room
        )

    first, second = race(house(a), house(b))

    assert isinstance(first.get("value"), Measure)
    refused = second.get("error")
    assert isinstance(refused, services.MeasureRuleError) and refused.code == "room_full"
    room.refresh_from_db()
    assert room.occupants == 1
    assert Measure.objects.filter(room=room, status="active").count() == 1


def test_two_staff_taking_the_first_free_room_get_different_rooms(race_facility):
    facility, (a, b) = race_facility

    def house(person):
        return lambda: services.place_under_control(
            None, person, category="close_contact", facility=facility
        )

    first, second = race(house(a), house(b))

    rooms = [first["value"].room, second["value"].room]
    assert rooms[0] != rooms[1]
    for room in rooms:
        room.refresh_from_db()
        assert (room.occupants, room.status) == (1, Room.Status.OCCUPIED)
