"""Campaign pages: creating a campaign over an area in one's jurisdiction, opening rounds
(the expected population is the registry of the area), adding and editing collection
sites; each page scoped to the campaigns in which the user takes part."""

import re
from datetime import timedelta

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from fangyi.core.models import ChangeLog
from fangyi.geo.models import Region
from fangyi.lab import services
from fangyi.lab.models import Campaign, CollectionSite
from fangyi.people.models import Person


def day(offset: int = 0) -> str:
    return (timezone.localdate() + timedelta(days=offset)).isoformat()


@pytest.fixture
def community(users) -> Region:
    return users["grid_a1"].region.parent


@pytest.fixture
def campaign(users, community) -> Campaign:
    return services.create_campaign(
        users["street_a"],
        name="振兴社区全员核酸",
        region=community,
        start_date=timezone.localdate(),
        end_date=timezone.localdate() + timedelta(days=6),
    )


def test_street_worker_creates_a_campaign_of_a_community(users, client_for, community):
    client = client_for("street_a")
    form = client.get("/lab/campaigns/new/").content.decode()
    assert community.full_name in form and users["grid_b1"].region.parent.full_name not in form

    response = client.post(
        "/lab/campaigns/new/",
        {
            "name": "振兴社区第一次全员核酸",
            "region": community.pk,
            "start_date": day(),
            "end_date": day(3),
            "pool_size": 10,
        },
    )

    campaign = Campaign.objects.get(name="振兴社区第一次全员核酸")
    assert response.status_code == 302 and response["Location"] == f"/lab/campaigns/{campaign.pk}/"
    assert (campaign.region, campaign.pool_size, campaign.created_by) == (
        community,
        10,
        users["street_a"],
    )
    assert ChangeLog.objects.filter(
        content_type=ContentType.objects.get_for_model(Campaign), object_id=str(campaign.pk)
    ).exists()
    assert campaign.name in client.get("/lab/campaigns/").content.decode()
    assert campaign.name not in client_for("street_b").get("/lab/campaigns/").content.decode()


def test_campaign_form_refuses_an_area_outside_the_jurisdiction_and_bad_dates(users, client_for):
    client = client_for("street_a")
    data = {"name": "越界", "start_date": day(), "end_date": day(1), "pool_size": 10}

    outside = client.post("/lab/campaigns/new/", {**data, "region": users["street_b"].region_id})
    assert "所选区划不存在或不在您的管辖范围内。" in outside.content.decode()

    backwards = client.post(
        "/lab/campaigns/new/",
        {**data, "region": users["street_a"].region_id, "end_date": day(-1)},
    )
    page = backwards.content.decode()
    assert 'id="error-end_date"' in page and "结束日期不能早于开始日期。" in page
    assert not Campaign.objects.filter(name="越界").exists()


def test_only_organisers_create_campaigns(client_for):
    for username in ("grid_a1", "lab_staff", "commander"):
        assert client_for(username).get("/lab/campaigns/new/").status_code == 404
    assert client_for("commander").get("/lab/campaigns/").status_code == 200
    assert client_for("pharmacy_clerk").get("/lab/campaigns/").status_code == 404


def test_opening_a_round_expects_everyone_registered_in_the_area(
    users, client_for, campaign, community
):
    client = client_for("street_a")
    assert 'id="open-round"' in client.get(f"/lab/campaigns/{campaign.pk}/").content.decode()

    response = client.post(
        f"/lab/campaigns/{campaign.pk}/rounds/", {"start_date": day(), "end_date": day(1)}
    )

    round_ = campaign.rounds.get()
    assert response.status_code == 302 and response["Location"] == f"/lab/rounds/{round_.pk}/"
    registered = Person.objects.filter(grid__path__startswith=community.path).count()
    assert round_.expected == registered == round_.targets.count() > 0
    page = client.get(f"/lab/campaigns/{campaign.pk}/").content.decode()
    assert re.search(rf'id="round-{round_.pk}">.*?<td[^>]*>{registered}</td>', page, re.S)


def test_overlapping_round_is_refused_next_to_the_date(users, client_for, campaign):
    services.open_round(
        users["street_a"], campaign, start_date=timezone.localdate(), end_date=timezone.localdate()
    )

    response = client_for("street_a").post(
        f"/lab/campaigns/{campaign.pk}/rounds/", {"start_date": day(), "end_date": day(2)}
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert 'id="error-start_date"' in page and "与已有轮次的日期重叠。" in page
    assert campaign.rounds.count() == 1


def test_grid_worker_sees_the_campaign_of_their_community_but_cannot_run_it(
    users, client_for, campaign
):
    client = client_for("grid_a1")
    page = client.get(f"/lab/campaigns/{campaign.pk}/")
    assert page.status_code == 200 and 'id="open-round"' not in page.content.decode()
    assert campaign.name in client.get("/lab/campaigns/").content.decode()
    response = client.post(
        f"/lab/campaigns/{campaign.pk}/rounds/", {"start_date": day(), "end_date": day()}
    )
    assert response.status_code == 404 and not campaign.rounds.exists()
    assert client_for("street_b").get(f"/lab/campaigns/{campaign.pk}/").status_code == 404


def site_data(community: Region, **changes) -> dict:
    grids = list(community.children.order_by("path"))
    return {
        "name": "振兴广场采样点",
        "region": community.pk,
        "grids": [grids[0].pk, grids[1].pk],
        "address": "振兴路1号广场",
        "opens_at": "07:00",
        "closes_at": "19:30",
        **changes,
    }


def test_adding_a_site_with_its_grids_staff_and_unit(users, client_for, campaign, community):
    client = client_for("street_a")
    # The county hospital sends its clinician: units and staff above the street may serve.
    collector = users["clinician"]
    unit = collector.organisation
    form = client.get(f"/lab/campaigns/{campaign.pk}/sites/new/").content.decode()
    assert unit.name in form and str(collector) in form

    response = client.post(
        f"/lab/campaigns/{campaign.pk}/sites/new/",
        site_data(community, organisation=unit.pk, staff=[collector.pk]),
    )

    site = CollectionSite.objects.get(campaign=campaign)
    assert response.status_code == 302
    assert response["Location"] == f"/lab/campaigns/{campaign.pk}/#site-{site.pk}"
    grids = list(community.children.order_by("path"))
    assert set(site.grids.all()) == {grids[0], grids[1]}
    assert (site.organisation, list(site.staff.all()), site.closes_at.hour) == (
        unit,
        [collector],
        19,
    )
    entry = ChangeLog.objects.get(
        content_type=ContentType.objects.get_for_model(CollectionSite), object_id=str(site.pk)
    )
    assert entry.actor == users["street_a"] and entry.changes["name"] == ["", site.name]
    page = client.get(f"/lab/campaigns/{campaign.pk}/").content.decode()
    assert f'id="site-{site.pk}"' in page and grids[1].name in page


def test_site_grids_follow_the_chosen_community(users, client_for, campaign, community):
    client = client_for("street_a")
    grids = client.get(
        f"/lab/campaigns/{campaign.pk}/sites/grids/", {"region": community.pk}
    ).content.decode()
    assert all(g.name in grids for g in community.children.all())
    assert 'id="field-grids"' in grids and "<html" not in grids
    form = client.get(f"/lab/campaigns/{campaign.pk}/sites/new/").content.decode()
    assert f'hx-get="/lab/campaigns/{campaign.pk}/sites/grids/"' in form


def test_site_refuses_a_grid_of_another_community_and_bad_hours(
    users, client_for, campaign, community
):
    other_grid = users["grid_b1"].region
    response = client_for("street_a").post(
        f"/lab/campaigns/{campaign.pk}/sites/new/",
        site_data(community, grids=[other_grid.pk], closes_at="06:00"),
    )
    page = response.content.decode()
    assert 'id="error-grids"' in page and "所选网格不属于该村（社区）。" in page
    assert 'id="error-closes_at"' in page and "关闭时间须晚于开放时间。" in page
    assert not CollectionSite.objects.filter(campaign=campaign).exists()


def test_editing_a_site_is_logged(users, client_for, campaign, community):
    client = client_for("street_a")
    client.post(f"/lab/campaigns/{campaign.pk}/sites/new/", site_data(community))
    site = CollectionSite.objects.get(campaign=campaign)
    form = client.get(f"/lab/sites/{site.pk}/edit/").content.decode()
    assert 'value="振兴路1号广场"' in form

    client.post(f"/lab/sites/{site.pk}/edit/", site_data(community, address="振兴路2号"))

    site.refresh_from_db()
    assert site.address == "振兴路2号"
    change = ChangeLog.objects.filter(object_id=str(site.pk), action="update").get()
    assert change.changes == {"address": ["振兴路1号广场", "振兴路2号"]}
    assert client_for("street_b").get(f"/lab/sites/{site.pk}/edit/").status_code == 404
    assert client_for("grid_a1").get(f"/lab/sites/{site.pk}/edit/").status_code == 404


def test_duplicate_site_name_is_refused(client_for, campaign, community):
    client = client_for("street_a")
    client.post(f"/lab/campaigns/{campaign.pk}/sites/new/", site_data(community))
    again = client.post(f"/lab/campaigns/{campaign.pk}/sites/new/", site_data(community))
    assert "本次筛查已有同名采样点。" in again.content.decode()
    assert CollectionSite.objects.filter(campaign=campaign).count() == 1


def test_campaign_list_query_count_does_not_grow(users, client_for):
    client = client_for("street_a")

    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/lab/campaigns/").status_code == 200
        return len(captured)

    region = users["street_a"].region
    services.create_campaign(
        users["street_a"],
        name="一",
        region=region,
        start_date=timezone.localdate(),
        end_date=timezone.localdate(),
    )
    few = queries()
    for n in range(3):
        services.create_campaign(
            users["street_a"],
            name=f"二{n}",
            region=region,
            start_date=timezone.localdate(),
            end_date=timezone.localdate(),
        )
    assert queries() == few


def test_campaign_page_query_count_does_not_grow_with_sites(users, client_for, campaign, community):
    client = client_for("street_a")

    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert client.get(f"/lab/campaigns/{campaign.pk}/").status_code == 200
        return len(captured)

    client.post(f"/lab/campaigns/{campaign.pk}/sites/new/", site_data(community))
    few = queries()
    for n in range(3):
        client.post(
            f"/lab/campaigns/{campaign.pk}/sites/new/",
            site_data(community, name=f"采样点{n}", staff=[users["clinician"].pk]),
        )
    assert CollectionSite.objects.filter(campaign=campaign).count() == 4
    assert queries() == few
