"""A collector fills a 10-in-1 pooled tube on a phone with the keyboard only, as a
scanner types: the tube's barcode and Enter, then ten ID numbers each followed by Enter,
without waiting between scans; the page counts 10/10 and the tube holds the ten persons.

The ID numbers are read from the server's own database (a `fangyi shell` run with the
server's environment, which holds the key that decrypts them)."""

import json
import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import problems_of, run_in_server

pytestmark = pytest.mark.e2e

BARCODE = "E2EPOOL0001"
PERSONS = """
import json
from fangyi.people.models import Person

people = (
    Person.objects.filter(id_type=Person.IdType.RESIDENT_ID)
    .exclude(id_number_encrypted="")
    .order_by("id")[:10]
)
print(json.dumps([{"id": p.pk, "id_number": p.id_number} for p in people]))
"""
TUBE = """
import json
from fangyi.lab.models import Sample

tube = Sample.objects.get(barcode="%s")
members = tube.examinees.order_by("position").values_list("person_id", flat=True)
print(json.dumps({"pool_size": tube.pool_size, "members": list(members)}))
"""


def in_server(server, code: str):
    """Run `code` against the e2e server's database and return what it printed (JSON)."""
    return json.loads(run_in_server(server, code))


def test_a_collector_scans_a_ten_in_one_tube_with_the_keyboard_only(login, e2e_server):
    persons = in_server(e2e_server, PERSONS)
    assert len(persons) == 10

    phone = login("clinician")
    phone.locator("header nav").get_by_role("link", name="检测").click()
    phone.locator("#tube-link").click()
    expect(phone.locator("#id_barcode")).to_be_focused()
    expect(phone.locator("#id_pool_size")).to_have_value("10")

    phone.keyboard.type(BARCODE)
    phone.keyboard.press("Enter")
    phone.wait_for_url(re.compile(r".*/lab/tubes/\d+/$"))
    expect(phone.locator("#tube-count")).to_have_text("0/10")
    expect(phone.locator("#id_person")).to_be_focused()

    # As fast as a scanner: no waiting for the page between scans.
    for person in persons:
        phone.keyboard.type(person["id_number"])
        phone.keyboard.press("Enter")

    expect(phone.locator("#tube-count")).to_have_text("10/10")
    expect(phone.locator("#tube-full")).to_contain_text("本管已满 10 人")
    expect(phone.locator("#scan-log li")).to_have_count(10)
    expect(phone.locator("#scan-log li").first).to_contain_text("10/10")
    expect(phone.locator("#next-tube-barcode")).to_be_focused()
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"the tube page is {width}px wide on a 375px phone"

    tube = in_server(e2e_server, TUBE % BARCODE)
    assert tube == {"pool_size": 10, "members": [p["id"] for p in persons]}
    phone.reload()
    expect(phone.locator("#tube-member-list li")).to_have_count(10)
    assert problems_of(phone) == []
