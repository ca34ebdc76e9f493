"""A round's coverage: tubes collected at sites mark their persons tested, the dashboard
and its data endpoint count them by grid in the user's scope, the grid worker's untested
list shrinks as people are tested or exempted, and its export is masked and logged."""

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
from fangyi.geo.models import Region
from fangyi.lab import services
from fangyi.lab.models import CollectionSite, Purpose, ScreeningTarget
from fangyi.people.models import Person


def persons_in(region: Region) -> list[Person]:
    return list(
        Person.objects.filter(grid__path__startswith=region.path)
        .select_related("grid")
        .order_by("id")
    )


@pytest.fixture
def screening(users):
    """screening(region) → (round, site): a campaign over the region by the county CDC, its
    first round (yesterday to tomorrow) and a site in the region's first community serving
    all its grids."""

    def make(region: Region, organiser="cdc_epi"):
        actor = users[organiser]
        today = timezone.localdate()
        campaign = services.create_campaign(
            actor,
            name=f"{region.name}全员核酸",
            region=region,
            start_date=today - timedelta(days=1),
            end_date=today + timedelta(days=6),
        )
        round_ = services.open_round(
            actor,
            campaign,
            start_date=today - timedelta(days=1),
            end_date=today + timedelta(days=1),
        )
        village = (
            region
            if region.level == Region.Level.VILLAGE
            else Region.objects.filter(level=Region.Level.VILLAGE, path__startswith=region.path)
            .order_by("path")
            .first()
        )
        site = CollectionSite.objects.create(
            campaign=campaign, name="振兴广场采样点", region=village
        )
        site.grids.set(village.children.all())
        return round_, site

    return make


@pytest.fixture
def community(users) -> Region:
    """The community (village) of grid_a1: three grids of a few dozen people."""
    return users["grid_a1"].region.parent


def grid_row(data: dict, grid: Region) -> dict:
    return next(row for row in data["grids"] if row["id"] == grid.pk)


def test_round_expects_everyone_registered_in_the_area(screening, community):
    round_, _site = screening(community)
    people = persons_in(community)
    assert round_.expected == len(people) > 0
    assert set(round_.targets.values_list("person_id", flat=True)) == {p.pk for p in people}
    assert not round_.targets.exclude(status=ScreeningTarget.Status.UNTESTED).exists()


def test_coverage_by_grid_after_collecting_tubes(users, client_for, screening, community, collect):
    round_, site = screening(community)
    grid_a1 = users["grid_a1"].region
    a1 = [p for p in persons_in(community) if p.grid_id == grid_a1.pk]
    other = [p for p in persons_in(community) if p.grid_id != grid_a1.pk]
    collect(a1[:5], purpose=Purpose.MASS_SCREENING, pool_size=5, site=site, hours_ago=2)
    collect(
        a1[5:6] + other[:1], purpose=Purpose.MASS_SCREENING, pool_size=5, site=site, hours_ago=1
    )

    data = client_for("street_a").get(f"/lab/rounds/{round_.pk}/data/").json()

    row = grid_row(data, grid_a1)
    assert (row["expected"], row["tested"], row["exempt"], row["untested"]) == (
        len(a1),
        6,
        0,
        len(a1) - 6,
    )
    assert row["coverage"] == round(100 * 6 / len(a1), 1)
    assert row["untested_url"] == f"/lab/rounds/{round_.pk}/untested/?grid={grid_a1.pk}"
    assert grid_row(data, other[0].grid)["tested"] == 1
    total = data["total"]
    assert (total["expected"], total["tested"], total["untested"]) == (
        round_.expected,
        7,
        round_.expected - 7,
    )
    assert data["round"] == {
        "id": round_.pk,
        "campaign": round_.campaign.name,
        "number": 1,
        "start_date": round_.start_date.isoformat(),
        "end_date": round_.end_date.isoformat(),
    }
    # Two tubes in two different hours at one site: 5 persons, then 2.
    sites = data["throughput"]["sites"]
    assert [s["name"] for s in sites] == [site.name]
    assert sum(sites[0]["data"]) == 7 and sorted(n for n in sites[0]["data"] if n) == [2, 5]
    assert len(data["throughput"]["hours"]) == len(sites[0]["data"])


def test_dashboard_page_shows_totals_grids_charts_and_refreshes(
    users, client_for, screening, community, collect
):
    round_, site = screening(community)
    grid_a1 = users["grid_a1"].region
    a1 = [p for p in persons_in(community) if p.grid_id == grid_a1.pk]
    collect(a1[:5], purpose=Purpose.MASS_SCREENING, pool_size=5, site=site)
    client = client_for("street_a")

    page = client.get(f"/lab/rounds/{round_.pk}/").content.decode()

    assert f'id="total-expected">{round_.expected}<' in page
    assert 'id="total-tested">5<' in page
    assert f'href="/lab/rounds/{round_.pk}/untested/?grid={grid_a1.pk}">{len(a1) - 5}</a>' in page
    assert 'id="round-data"' in page and 'id="grid-chart"' in page and 'id="site-chart"' in page
    assert 'hx-trigger="every 30s"' in page and "lab_coverage.js" in page
    # The refresh brings the figures only, with the new counts.
    collect(a1[5:10], purpose=Purpose.MASS_SCREENING, pool_size=5, site=site)
    partial = client.get(f"/lab/rounds/{round_.pk}/", headers={"HX-Target": "round-figures"})
    fragment = partial.content.decode()
    assert fragment.startswith('<div id="round-figures"') and "<html" not in fragment
    assert 'id="total-tested">10<' in fragment


def test_a_person_from_outside_the_area_tested_here_is_found(
    users, client_for, screening, community, collect
):
    round_, site = screening(community)
    outsider = Person.objects.visible_to(users["grid_b1"]).order_by("id").first()
    collect([outsider], purpose=Purpose.MASS_SCREENING, site=site)

    target = round_.targets.get(person=outsider)
    assert target.status == ScreeningTarget.Status.TESTED and not target.expected
    data = client_for("cdc_epi").get(f"/lab/rounds/{round_.pk}/data/").json()
    row = grid_row(data, outsider.grid)
    assert (row["found"], row["expected"], row["tested"]) == (1, 0, 0)
    assert data["total"]["found"] == 1 and data["total"]["expected"] == round_.expected


def test_untested_list_of_a_grid_worker(users, client_for, screening, community, collect):
    round_, site = screening(community)
    grid_a1 = users["grid_a1"].region
    a1 = [p for p in persons_in(community) if p.grid_id == grid_a1.pk]
    collect(a1[:5], purpose=Purpose.MASS_SCREENING, pool_size=5, site=site)

    page = client_for("grid_a1").get(f"/lab/rounds/{round_.pk}/untested/").content.decode()

    shown = set(map(int, re.findall(r'id="target-(\d+)"', page)))
    expected = set(round_.targets.filter(person__in=a1[5:]).values_list("pk", flat=True))
    assert shown == expected
    untested = a1[5]
    assert mask_name(untested.name) in page and untested.phone_masked in page
    assert untested.address in page
    assert untested.name not in page and untested.phone not in page


def test_exemption_removes_the_person_from_the_untested_list(
    users, client_for, screening, community
):
    round_, _site = screening(community)
    grid_a1 = users["grid_a1"].region
    target = round_.targets.filter(grid=grid_a1).order_by("id").first()
    client = client_for("grid_a1")
    url = f"/lab/targets/{target.pk}/exempt/"

    # "Other" needs a note: refused, shown next to the field, still untested.
    refused = client.post(url, {"reason": "other", "note": ""}, headers={"HX-Request": "true"})
    assert "选择“其他”时请填写说明。" in refused.content.decode()
    assert 'id="error-note"' in refused.content.decode()
    target.refresh_from_db()
    assert target.status == ScreeningTarget.Status.UNTESTED

    done = client.post(url, {"reason": "away"}, headers={"HX-Request": "true"})
    assert "已免检：外出未归" in done.content.decode()
    target.refresh_from_db()
    assert (target.status, target.exempt_reason) == ("exempt", "away")
    page = client.get(f"/lab/rounds/{round_.pk}/untested/", {"grid": grid_a1.pk})
    assert f'id="target-{target.pk}"' not in page.content.decode()
    data = client.get(f"/lab/rounds/{round_.pk}/data/").json()
    assert grid_row(data, grid_a1)["exempt"] == 1


def test_exemption_without_htmx_returns_to_the_list(users, client_for, screening, community):
    round_, _site = screening(community)
    target = round_.targets.filter(grid=users["grid_a1"].region).order_by("id").first()

    response = client_for("grid_a1").post(
        f"/lab/targets/{target.pk}/exempt/", {"reason": "infant"}, follow=True
    )

    assert response.redirect_chain[-1][0] == (
        f"/lab/rounds/{round_.pk}/untested/?grid={target.grid_id}"
    )
    assert "已免检：婴幼儿" in response.content.decode()


def test_grid_worker_cannot_see_another_grids_untested_people(
    users, client_for, screening, community
):
    township = users["street_a"].region.parent  # the county: both streets take part
    round_, _site = screening(township)
    grid_a1, grid_b1 = users["grid_a1"].region, users["grid_b1"].region
    client = client_for("grid_b1")
    a1_targets = set(round_.targets.filter(grid=grid_a1).values_list("pk", flat=True))
    assert a1_targets

    page = client.get(f"/lab/rounds/{round_.pk}/untested/").content.decode()
    shown = set(map(int, re.findall(r'id="target-(\d+)"', page)))
    assert shown and not shown & a1_targets
    assert shown == set(round_.targets.filter(grid=grid_b1).values_list("pk", flat=True))

    assert client.get(f"/lab/rounds/{round_.pk}/untested/", {"grid": grid_a1.pk}).status_code == 404
    export = client.get(f"/lab/rounds/{round_.pk}/untested/export.xlsx", {"grid": grid_a1.pk})
    assert export.status_code == 404
    target = round_.targets.filter(grid=grid_a1).first()
    assert client.post(f"/lab/targets/{target.pk}/exempt/", {"reason": "away"}).status_code == 404
    data = client.get(f"/lab/rounds/{round_.pk}/data/").json()
    assert [row["id"] for row in data["grids"]] == [grid_b1.pk]


def test_a_streets_round_is_404_for_the_other_street(users, client_for, screening, community):
    round_, _site = screening(community)
    for username in ("street_b", "grid_b1"):
        client = client_for(username)
        for url in ["", "data/", "untested/", "untested/export.xlsx"]:
            assert client.get(f"/lab/rounds/{round_.pk}/{url}").status_code == 404
        assert client.get(f"/lab/campaigns/{round_.campaign_id}/").status_code == 404


def test_untested_export_is_masked_and_logged(users, client_for, screening, community):
    round_, _site = screening(community)
    grid_a1 = users["grid_a1"].region
    people = {p.pk: p for p in persons_in(community) if p.grid_id == grid_a1.pk}

    response = client_for("grid_a1").get(
        f"/lab/rounds/{round_.pk}/untested/export.xlsx", {"grid": grid_a1.pk}
    )

    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = [row for row in sheet.iter_rows(min_row=2, values_only=True) if row[1]]
    assert len(rows) == len(people)
    names = {row[1] for row in rows}
    phones = {row[3] or "" for row in rows}
    assert names == {mask_name(p.name) for p in people.values()}
    assert not {p.phone for p in people.values() if p.phone} & phones
    assert {p.phone_masked for p in people.values()} == phones
    log = AccessLog.objects.filter(actor=users["grid_a1"], action="export").latest("at")
    assert log.detail == {"rows": len(people), "filters": {"round": round_.pk, "grid": grid_a1.pk}}


def test_untested_export_refused_beyond_the_limit(
    settings, users, client_for, screening, community
):
    round_, _site = screening(community)
    settings.EXPORT_MAX_ROWS = 3

    response = client_for("street_a").get(
        f"/lab/rounds/{round_.pk}/untested/export.xlsx", follow=True
    )

    assert "超过单次导出上限 3 条" in response.content.decode()
    assert not AccessLog.objects.filter(actor=users["street_a"], action="export").exists()


def test_coverage_query_count_does_not_grow(users, client_for, screening, community, collect):
    round_, site = screening(community)
    people = persons_in(community)
    client = client_for("street_a")

    def queries():
        counts = []
        for url in ["", "data/"]:
            with CaptureQueriesContext(connection) as captured:
                assert client.get(f"/lab/rounds/{round_.pk}/{url}").status_code == 200
            counts.append(len(captured))
        return counts

    collect(people[:5], purpose=Purpose.MASS_SCREENING, pool_size=5, site=site, hours_ago=3)
    few = queries()
    second = CollectionSite.objects.create(
        campaign=round_.campaign, name="第二采样点", region=site.region
    )
    for n, start in enumerate(range(5, 30, 5)):
        collect(
            people[start : start + 5],
            purpose=Purpose.MASS_SCREENING,
            pool_size=5,
            site=second if n % 2 else site,
            hours_ago=n,
        )
    services.exempt(None, round_.targets.filter(status="untested").first(), reason="infant")
    assert queries() == few


def test_throughput_counts_as_the_service_does(users, screening, community, collect):
    from fangyi.lab import coverage

    round_, site = screening(community)
    people = persons_in(community)
    second = CollectionSite.objects.create(
        campaign=round_.campaign, name="第二采样点", region=site.region
    )
    for n, start in enumerate(range(0, 30, 5)):
        collect(
            people[start : start + 5],
            purpose=Purpose.MASS_SCREENING,
            pool_size=5,
            site=second if n % 2 else site,
            hours_ago=n // 2,
        )

    def rows(counts):
        return sorted(
            (row["site_id"], row["site__name"], timezone.localtime(row["hour"]), row["n"])
            for row in counts
        )

    for username in ("cdc_epi", "street_a", "grid_a1", "street_b"):
        user = users[username]
        mine = rows(coverage.throughput_by_site(round_, user))
        sampled = ScreeningTarget.objects.visible_to(user).filter(round=round_, site__isnull=False)
        assert sum(row[3] for row in mine) == sampled.count()
        assert {row[1] for row in mine} == (
            set() if username == "street_b" else {site.name, "第二采样点"}
        )


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's planner statistics")
def test_throughput_query_uses_the_expression_its_statistics_are_kept_on(
    users, screening, community
):
    """PostgreSQL plans the per-site hourly count in parallel only with statistics on its
    hour expression, which it matches by the expression's text (migration lab 0004)."""
    from fangyi.lab import coverage

    round_, _site = screening(community)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_get_statisticsobjdef_expressions(oid) FROM pg_statistic_ext"
            " WHERE stxname = 'target_site_hour'"
        )
        (expressions,) = cursor.fetchone()
    with CaptureQueriesContext(connection) as queries:
        coverage.throughput_by_site(round_, users["cdc_epi"])
    counting = next(q["sql"] for q in queries.captured_queries if "DATE_TRUNC" in q["sql"])
    assert expressions == ["date_trunc('hour'::text, (tested_at AT TIME ZONE 'UTC'::text))"]
    assert (
        "DATE_TRUNC('hour', \"lab_screeningtarget\".\"tested_at\" AT TIME ZONE 'UTC')" in counting
    )


def test_untested_list_query_count_does_not_grow(users, client_for, screening, community, collect):
    round_, site = screening(community)
    client = client_for("street_a")

    def queries():
        with CaptureQueriesContext(connection) as captured:
            page = client.get(f"/lab/rounds/{round_.pk}/untested/")
        return len(captured), page.content.decode().count('id="target-')

    many = queries()
    collect(persons_in(community)[:10], purpose=Purpose.MASS_SCREENING, pool_size=10, site=site)
    fewer = queries()
    assert fewer[1] < many[1] and fewer[0] == many[0]
