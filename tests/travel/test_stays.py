"""A stay the grid records: resolved, matched at once against the areas in force."""

from datetime import timedelta

import pytest

from fangyi.travel.models import RiskFlag, Stay

pytestmark = pytest.mark.django_db


def test_a_recorded_stay_in_a_risk_area_flags_the_person_at_once(
    publish, residents, client_for, today
):
    publish([("湖北省武汉市江汉区", "medium")], effective_from=today - timedelta(days=10))
    person = residents("grid_a1", 1)[0]
    page = client_for("grid_a1").post(
        f"/travel/persons/{person.pk}/stays/",
        {
            "address": "武汉市江汉区花楼街道",
            "from_date": today - timedelta(days=6),
            "to_date": today - timedelta(days=3),
        },
        follow=True,
    )
    assert "匹配中风险" in page.content.decode()
    assert Stay.objects.get(person=person).adcode == "420103"
    assert RiskFlag.objects.get(person=person).level == "medium"


def test_an_unresolvable_place_is_refused_on_the_page(residents, client_for, today):
    person = residents("grid_a1", 1)[0]
    page = client_for("grid_a1").post(
        f"/travel/persons/{person.pk}/stays/",
        {"address": "朝阳区", "from_date": today, "to_date": today},
    )
    assert "有多处同名" in page.content.decode()
    assert not Stay.objects.filter(person=person).exists()


def test_another_grids_person_is_out_of_reach(residents, client_for):
    person = residents("grid_b1", 1)[0]
    assert client_for("grid_a1").get(f"/travel/persons/{person.pk}/stays/").status_code == 404
