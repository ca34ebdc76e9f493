"""Testing regimens (应检尽检): who of a key group is overdue for their test, in the user's
scope, by workplace; the list's export is masked and logged."""

import io
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from openpyxl import load_workbook

from fangyi.core.masking import mask_name
from fangyi.core.models import AccessLog
from fangyi.lab import services
from fangyi.lab.models import Purpose, Regimen
from fangyi.measures.models import Category
from fangyi.measures.services import place_under_control
from fangyi.people.models import Person

MEDICAL = "medical_staff"


@pytest.fixture
def weekly() -> Regimen:
    regimen = Regimen.objects.get(key_group__code=MEDICAL)
    assert regimen.every_days == 7
    return regimen


def medical_staff(user=None):
    staff = Person.objects.filter(key_groups__code=MEDICAL)
    return staff.visible_to(user) if user else staff


def shown_ids(page: str) -> set[int]:
    return {int(i) for i in re.findall(r'id="person-(\d+)"', page)}


def test_weekly_regimen_overdue_after_seven_days_or_never(users, client_for, weekly, collect):
    recent, lapsed, never = medical_staff().order_by("id")[:3]
    collect([recent], purpose=Purpose.KEY_GROUP, hours_ago=3 * 24)
    collect([lapsed], purpose=Purpose.KEY_GROUP, hours_ago=8 * 24)

    overdue = {p.pk: p for p in services.overdue(weekly, users["cdc_epi"])}
    assert recent.pk not in overdue
    assert lapsed.pk in overdue and never.pk in overdue
    assert overdue[never.pk].last_tested is None

    page = client_for("cdc_epi").get(f"/lab/regimens/{weekly.pk}/", {"page": 1})
    html = page.content.decode()
    everyone = set(medical_staff().values_list("pk", flat=True))
    assert len(everyone) <= 50  # one page of the demo county's medical staff
    assert shown_ids(html) == everyone - {recent.pk}
    lapsed_row = re.search(rf'id="person-{lapsed.pk}">(.*?)</tr>', html, re.S).group(1)
    assert re.search(r"<td[^>]*>2</td>", lapsed_row)  # overdue since day 7: the 2nd day
    never_row = re.search(rf'id="person-{never.pk}">(.*?)</tr>', html, re.S).group(1)
    assert "从未检测" in never_row
    assert mask_name(never.name) in never_row and never.name not in never_row


def test_overdue_counts_on_the_list_are_scoped(users, client_for, weekly, collect):
    street_a_staff = list(medical_staff(users["street_a"]).order_by("id"))
    assert street_a_staff and medical_staff(users["street_b"]).exists()
    collect(street_a_staff[:1], purpose=Purpose.KEY_GROUP, hours_ago=1)

    for username in ("street_a", "street_b", "cdc_epi"):
        user = users[username]
        in_scope = medical_staff(user).count()
        tested = 1 if username != "street_b" else 0
        page = client_for(username).get("/lab/regimens/").content.decode()
        assert f'id="overdue-{weekly.pk}">{in_scope - tested}</a>' in page
        assert services.overdue_counts(user)[weekly.pk] == in_scope - tested


def test_overdue_list_of_a_street_leaves_out_the_other(users, client_for, weekly):
    page = client_for("street_b").get(f"/lab/regimens/{weekly.pk}/").content.decode()
    shown = shown_ids(page)
    assert shown == set(medical_staff(users["street_b"]).values_list("pk", flat=True))
    assert not shown & set(medical_staff(users["street_a"]).values_list("pk", flat=True))


def test_overdue_list_filtered_by_workplace(users, client_for, weekly):
    staff = medical_staff(users["cdc_epi"]).exclude(workplace="")
    unit = staff.values_list("workplace", flat=True).order_by("workplace").first()
    assert unit

    page = client_for("cdc_epi").get(f"/lab/regimens/{weekly.pk}/", {"workplace": unit})

    html = page.content.decode()
    assert shown_ids(html) == set(staff.filter(workplace=unit).values_list("pk", flat=True))
    count = staff.filter(workplace=unit).count()
    assert f'<option value="{unit}" selected>{unit}（{count}）</option>' in html


def test_measure_category_regimen_lists_persons_under_control(users, client_for, residents):
    regimen = Regimen.objects.get(measure_category=Category.RETURNEE)
    person = residents("grid_a1", 1)[0]
    before = services.overdue_counts(users["grid_a1"])[regimen.pk]
    place_under_control(users["street_a"], person, category=Category.RETURNEE)

    page = client_for("grid_a1").get(f"/lab/regimens/{regimen.pk}/").content.decode()

    assert person.pk in shown_ids(page)
    assert services.overdue_counts(users["grid_a1"])[regimen.pk] == before + 1


def test_overdue_export_is_masked_and_logged(users, client_for, weekly):
    staff = list(medical_staff(users["street_a"]))

    response = client_for("street_a").get(f"/lab/regimens/{weekly.pk}/export.xlsx")

    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = [row for row in sheet.iter_rows(min_row=2, values_only=True) if row[2] or row[3]]
    assert len(rows) == len(staff)
    assert {row[0] for row in rows} == {mask_name(p.name) for p in staff}
    assert not {p.name for p in staff} & {row[0] for row in rows}
    assert {row[1] or "" for row in rows} == {p.phone_masked for p in staff}
    assert {row[4] for row in rows} == {"从未检测"}
    log = AccessLog.objects.filter(actor=users["street_a"], action="export").latest("at")
    assert log.detail == {"rows": len(staff), "filters": {"regimen": weekly.pk, "workplace": ""}}


def test_overdue_export_needs_the_export_capability(client_for, weekly):
    assert client_for("commander").get(f"/lab/regimens/{weekly.pk}/export.xlsx").status_code == 404
    assert client_for("commander").get(f"/lab/regimens/{weekly.pk}/").status_code == 200
    assert client_for("pharmacy_clerk").get("/lab/regimens/").status_code == 404


def test_overdue_page_query_count_does_not_grow(users, client_for, weekly, collect):
    client = client_for("cdc_epi")

    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert client.get(f"/lab/regimens/{weekly.pk}/").status_code == 200
        return len(captured)

    staff = list(medical_staff().order_by("id"))
    collect(staff[:1], purpose=Purpose.KEY_GROUP, hours_ago=9 * 24)
    few = queries()
    for person in staff[1:6]:
        collect([person], purpose=Purpose.KEY_GROUP, hours_ago=(8 + person.pk % 5) * 24)
    assert queries() == few


def test_days_overdue_counts_from_the_day_the_test_fell_due(db, weekly):
    from fangyi.lab.coverage import days_overdue

    today = timezone.localdate()
    at = timezone.now()
    assert days_overdue(weekly, None, today) is None
    assert days_overdue(weekly, at - timedelta(days=6), today) == 0
    assert days_overdue(weekly, at - timedelta(days=7), today) == 1
