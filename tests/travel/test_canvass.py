"""Door-to-door canvassing (入户排查): rounds, visits, coverage, the grid worker's pages."""

import io
from datetime import timedelta

import pytest
from django.utils import timezone
from openpyxl import load_workbook

from fangyi.core.models import AccessLog, ChangeLog, Duty, Task
from fangyi.core.rules import RuleError
from fangyi.geo.models import Organisation, Region
from fangyi.people.models import Household
from fangyi.travel import canvass
from fangyi.travel.models import HouseholdVisit
from tests.travel.conftest import new_region

VISITED = HouseholdVisit.Outcome.VISITED


def launch(users, village, *, hours=48, username="street_a"):
    return canvass.launch_round(
        users[username],
        name="第一轮排查",
        region=village,
        deadline=timezone.now() + timedelta(hours=hours),
    )


def visit(users, household, canvass_round, **fields):
    members = list(household.members.all())
    values = {
        "visited_on": timezone.localdate(),
        "outcome": VISITED,
        "found_persons": members,
        "arrivals_found": 0,
    }
    values.update(fields)
    return canvass.record_visit(users["street_a"], household, canvass_round=canvass_round, **values)


def grid_tasks(canvass_round):
    from fangyi.core import deadlines

    return deadlines.tasks_of(canvass_round, Duty.CANVASS)


def test_launch_opens_one_task_per_grid_with_households_for_its_committee(users, area):
    village, grids, _ = area
    new_region(village, f"{village.code}03", "空网格", Region.Level.GRID)  # no households
    canvass_round = launch(users, village)
    tasks = grid_tasks(canvass_round)
    assert sorted(tasks.values_list("region", flat=True)) == sorted(g.pk for g in grids)
    committee = Organisation.objects.get(region=village)
    assert {t.responsible_organisation_id for t in tasks} == {committee.pk}
    assert {t.due_at for t in tasks} == {canvass_round.deadline}


def test_launch_refused_outside_jurisdiction_or_with_a_past_deadline(users, area):
    village, _, _ = area
    with pytest.raises(RuleError):
        launch(users, village, username="street_b")
    with pytest.raises(RuleError) as refused:
        launch(users, village, hours=-1)
    assert refused.value.field == "deadline"


def test_coverage_is_exact_per_grid_and_community(users, area):
    village, (one, two), households = area
    canvass_round = launch(users, village)
    first, second, _ = households[one.pk]
    visit(users, first, canvass_round, arrivals_found=1)
    visit(users, second, canvass_round, found_persons=[], people_found=3)
    visit(users, households[two.pk][0], canvass_round)

    covered = canvass.coverage(canvass_round, users["street_a"])
    (community,) = covered.communities
    rows = {row.region.pk: row for row in community.grids}
    assert (rows[one.pk].households, rows[one.pk].visited, rows[one.pk].rate) == (3, 2, 66.7)
    assert (rows[one.pk].people_found, rows[one.pk].arrivals_found) == (5, 1)
    assert (rows[two.pk].households, rows[two.pk].visited, rows[two.pk].people_found) == (2, 1, 1)
    assert (community.households, community.visited, community.rate) == (5, 3, 60.0)
    assert (covered.total.households, covered.total.visited) == (5, 3)
    unvisited = canvass.unvisited_households(canvass_round, users["street_a"])
    assert [(h.address, h.members_count) for h in unvisited] == [("一网格3号", 2), ("二网格2号", 1)]


def test_revisit_updates_the_visit_audited_and_does_not_double_count(users, area):
    village, (one, _), households = area
    canvass_round = launch(users, village)
    household = households[one.pk][0]
    first = visit(users, household, canvass_round, outcome=HouseholdVisit.Outcome.NOBODY_HOME)
    second = visit(users, household, canvass_round, note="补访")
    assert first.pk == second.pk
    assert HouseholdVisit.objects.filter(canvass_round=canvass_round).count() == 1
    covered = canvass.coverage(canvass_round, users["street_a"])
    assert covered.total.visited == 1 and covered.total.people_found == 2
    change = ChangeLog.objects.filter(object_id=str(second.pk), action="update").get()
    assert "outcome" in change.changes and "note" in change.changes


def test_grid_task_closes_with_its_last_household(users, area):
    village, (one, two), households = area
    canvass_round = launch(users, village)
    *others, last = households[one.pk]
    for household in others:
        visit(users, household, canvass_round)
    assert grid_tasks(canvass_round).get(region=one).status == Task.Status.OPEN
    visit(users, last, canvass_round)
    assert grid_tasks(canvass_round).get(region=one).status == Task.Status.DONE
    assert grid_tasks(canvass_round).get(region=two).status == Task.Status.OPEN


def test_found_persons_must_live_in_the_household(users, area):
    village, (one, two), households = area
    canvass_round = launch(users, village)
    stranger = households[two.pk][0].members.first()
    with pytest.raises(RuleError) as refused:
        visit(users, households[one.pk][0], canvass_round, found_persons=[stranger])
    assert refused.value.code == "not_member"


def test_round_page_shows_coverage_and_street_b_sees_nothing(users, area, client_for):
    village, (one, _), households = area
    canvass_round = launch(users, village)
    visit(users, households[one.pk][0], canvass_round)
    page = client_for("street_a").get(f"/travel/canvass/{canvass_round.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="total-households">5<' in html and 'id="total-visited">1<' in html
    assert "测试社区" in html
    assert client_for("street_b").get(f"/travel/canvass/{canvass_round.pk}/").status_code == 404
    listing = client_for("street_b").get("/travel/canvass/").content.decode()
    assert "第一轮排查" not in listing


def test_launch_from_the_page(users, area, client_for):
    village, _, _ = area
    deadline = timezone.localtime() + timedelta(days=2)
    response = client_for("street_a").post(
        "/travel/canvass/",
        {"name": "春节排查", "region": village.pk, "deadline": deadline.strftime("%Y-%m-%dT%H:%M")},
    )
    assert response.status_code == 302
    refused = client_for("grid_a1").post(
        "/travel/canvass/",
        {"name": "x", "region": village.pk, "deadline": deadline.strftime("%Y-%m-%dT%H:%M")},
    )
    assert refused.status_code == 404  # a grid worker does not launch rounds


def test_grid_worker_marks_a_household_visited_with_htmx(
    users, client_for, django_assert_max_num_queries
):
    grid = users["grid_a1"].region
    canvass_round = launch(users, grid.parent)
    client = client_for("grid_a1")
    with django_assert_max_num_queries(20):
        page = client.get(f"/travel/canvass/{canvass_round.pk}/households/")
    assert page.status_code == 200
    households = list(Household.objects.filter(grid=grid).order_by("address", "pk"))
    html = page.content.decode()
    assert all(f'id="household-{h.pk}"' in html for h in households)
    member = households[0].members.first()
    assert member.name not in html  # names masked

    prefix = f"h{households[0].pk}"
    response = client.post(
        f"/travel/canvass/{canvass_round.pk}/households/{households[0].pk}/visit/",
        {
            f"{prefix}-visited_on": timezone.localdate().isoformat(),
            f"{prefix}-outcome": VISITED,
            f"{prefix}-found_persons": [member.pk],
            f"{prefix}-others_found": 1,
            f"{prefix}-arrivals_found": 1,
            f"{prefix}-note": "",
        },
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert "已保存" in response.content.decode()
    stored = HouseholdVisit.objects.get(canvass_round=canvass_round, household=households[0])
    assert (stored.people_found, stored.arrivals_found, stored.visitor) == (2, 1, users["grid_a1"])
    assert list(stored.found_persons.all()) == [member]


def test_grid_worker_cannot_visit_another_grids_household(users, client_for):
    canvass_round = launch(users, users["street_a"].region)
    other = (
        Household.objects.filter(grid__path__startswith=users["street_a"].region.path)
        .exclude(grid=users["grid_a1"].region)
        .first()
    )
    response = client_for("grid_a1").post(
        f"/travel/canvass/{canvass_round.pk}/households/{other.pk}/visit/", {}
    )
    assert response.status_code == 404


def test_unvisited_export_is_logged_and_masked(users, area, client_for):
    village, _, _ = area
    canvass_round = launch(users, village)
    response = client_for("street_a").get(
        f"/travel/canvass/{canvass_round.pk}/unvisited/", {"format": "xlsx"}
    )
    assert response.status_code == 200
    rows = list(load_workbook(io.BytesIO(response.content)).active.iter_rows(values_only=True))
    assert len([r for r in rows[1:] if r[1] and str(r[1]).startswith("T")]) == 5
    assert "张一网格00" not in str(rows) and "张****0" in str(rows)
    assert AccessLog.objects.filter(actor=users["street_a"], action="export").exists()


def test_api_rounds_coverage_and_visits(users, area, client_for):
    village, (one, _), households = area
    canvass_round = launch(users, village)
    client = client_for("street_a")
    assert canvass_round.pk in [r["id"] for r in client.get("/api/canvass/rounds").json()]
    household = households[one.pk][0]
    member = household.members.first()
    created = client.post(
        "/api/canvass/visits",
        {
            "household": household.pk,
            "canvass_round": canvass_round.pk,
            "found_persons": [member.pk],
        },
        content_type="application/json",
    )
    assert created.status_code == 201 and created.json()["people_found"] == 1
    body = client.get(f"/api/canvass/rounds/{canvass_round.pk}/coverage").json()
    assert (body["total"]["households"], body["total"]["visited"]) == (5, 1)
    assert [g["visited"] for g in body["communities"][0]["grids"]] == [1, 0]

    other = client_for("street_b")
    assert other.get(f"/api/canvass/rounds/{canvass_round.pk}/coverage").status_code == 404
    refused = client_for("grid_b1").post(
        "/api/canvass/visits", {"household": household.pk}, content_type="application/json"
    )
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["msg"] == "记录不存在或不在您的管辖范围内。"
