"""Builders for the measures tests: facilities with rooms and measures through the services."""

import pytest

from fangyi.geo.models import Organisation
from fangyi.measures import services
from fangyi.measures.models import Facility, Room


@pytest.fixture
def facility(users) -> Facility:
    """The first quarantine facility of the demo county with 2 floors of 5 single rooms and
    one family room (3 beds) on floor 3, registered by the facility's staff member."""
    staff = users["facility_staff"]
    organisation = staff.organisation
    assert organisation.type == Organisation.Type.QUARANTINE_FACILITY
    facility = Facility.objects.filter(organisation=organisation).first()
    if facility is None:
        facility = services.create_facility(staff, organisation, kind=Facility.Kind.SITE)
    facility.rooms.all().delete()
    for floor in (1, 2):
        services.add_rooms(
            staff,
            facility,
            floor=floor,
            numbers=[f"{floor}0{n}" for n in range(1, 6)],
            kind=Room.Kind.SINGLE,
        )
    services.add_rooms(staff, facility, floor=3, numbers=["301"], kind=Room.Kind.FAMILY, beds=3)
    return facility
