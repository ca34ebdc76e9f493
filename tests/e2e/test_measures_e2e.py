"""A facility worker records a floor's health checks in the browser, on a phone and at a
desk, one reading is a fever, and the CDC epidemiologist responsible gets the alert.

The floor and its three residents are arranged in the server's own database through the
measures services (a `fangyi shell` run with the server's environment), so the test does
not depend on what the demo data holds."""

import json

import pytest
from playwright.sync_api import expect

from fangyi.measures.facility_forms import mask_name
from tests.e2e.conftest import problems_of, run_in_server

pytestmark = pytest.mark.e2e

DESKTOP = {"width": 1280, "height": 900}
ARRANGE = """
import json
from django.db.models import Max
from fangyi.accounts.models import User
from fangyi.measures import services
from fangyi.measures.models import Category, Facility, Room
from fangyi.people.models import Person

staff = User.objects.get(username="facility_staff")
epidemiologist = User.objects.get(username="cdc_epi")
facility = Facility.objects.filter(organisation=staff.organisation).first()
if facility is None:
    facility = services.create_facility(staff, staff.organisation, kind=Facility.Kind.SITE)
floor = (facility.rooms.aggregate(top=Max("floor"))["top"] or 0) + 1
rooms = services.add_rooms(
    staff, facility, floor=floor, numbers=[f"E{floor}0{n}" for n in (1, 2, 3)],
    kind=Room.Kind.SINGLE,
)
people = (
    Person.objects.filter(grid__isnull=False)
    .exclude(measures__status__in=services.OPEN)
    .order_by("id")[:3]
)
measures = [
    services.place_under_control(
        epidemiologist, person, category=Category.CLOSE_CONTACT, facility=facility, room=room
    )
    for person, room in zip(people, rooms)
]
print(json.dumps({
    "facility": facility.pk,
    "floor": floor,
    "residents": [{"name": m.person.name, "room": m.room.number} for m in measures],
}))
"""


def arrange_floor(server) -> dict:
    """Run ARRANGE against the e2e server's database and return what it printed."""
    return json.loads(run_in_server(server, ARRANGE))


def test_a_floor_is_checked_in_one_go_and_the_fever_reaches_the_cdc(login, e2e_server):
    floor = arrange_floor(e2e_server)
    residents = floor["residents"]
    fever = residents[1]

    # At the desk: the facility page shows the floor's tiles and leads to its batch entry.
    desk = login("facility_staff", DESKTOP)
    desk.goto(f"/measures/facilities/{floor['facility']}/")
    tiles = desk.locator(f"#floor-{floor['floor']} .room")
    expect(tiles).to_have_count(3)
    for resident in residents:
        expect(tiles.filter(has_text=resident["room"])).to_contain_text(mask_name(resident["name"]))
    desk.locator(f"#batch-floor-{floor['floor']}").click()
    rows = desk.locator("#batch-rows tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.first).to_contain_text(residents[0]["room"])
    expect(rows.first.locator("td[data-label='今日已测']")).to_have_text("0/2")

    # On a phone: choose the floor, type the three temperatures with the keyboard only.
    phone = login("facility_staff")
    phone.goto("/measures/checks/batch/")
    phone.locator("#id_floor").select_option(f"{floor['facility']}:{floor['floor']}")
    phone.get_by_role("button", name="列出人员").click()
    first = phone.locator("input.temperature").first
    expect(first).to_be_focused()
    for temperature in ("36.5", "38.2", "36.6"):
        phone.keyboard.type(temperature)
        phone.keyboard.press("Enter")
    expect(phone.locator("#batch-save")).to_be_focused()
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"the batch page is {width}px wide on a 375px phone"
    phone.keyboard.press("Enter")

    notices = phone.locator(".notice")
    expect(notices.filter(has_text="已保存3条，其中异常1条")).to_have_count(1)
    expect(notices.filter(has_text="异常人员")).to_contain_text(
        f"{fever['room']} {mask_name(fever['name'])} 体温38.2℃"
    )
    desk.reload()
    expect(desk.locator("td[data-label='今日已测']")).to_have_text(["1/2", "1/2", "1/2"])

    # The CDC epidemiologist sees the alert in the navigation and on the alerts page.
    epidemiologist = login("cdc_epi")
    expect(epidemiologist.locator("header nav mark")).to_be_visible()
    epidemiologist.goto("/tasks/alerts/")
    alert = epidemiologist.locator("#alerts tr", has_text=f"健康监测异常：{fever['name']}")
    expect(alert).to_contain_text("体温38.2℃")
    for tab in (desk, phone, epidemiologist):
        assert problems_of(tab) == []
