"""Daily community reports (日报告/零报告): the system's figures, confirming or a zero report,
the 13:00 deadline, the street's and the county's boards, scoping and exports."""

import io
from datetime import datetime, time, timedelta

import pytest
from django.utils import timezone
from openpyxl import load_workbook

from fangyi.core.models import AccessLog, ChangeLog, Duty, Task
from fangyi.core.rules import RuleError
from fangyi.geo.models import Organisation, Region
from fangyi.travel import reports, services
from fangyi.travel.models import DailyReport
from fangyi.travel.reports import Standing

# A day long before any demo data, so the boards are exactly what the tests build.
OLD_DAY = timezone.localdate() - timedelta(days=400)


def at(day, hour, minute=0):
    return timezone.make_aware(datetime.combine(day, time(hour, minute)))


@pytest.fixture
def community(area):
    return area[0]


@pytest.fixture
def grid(area):
    return area[1][0]


def submit(users, community, day, *, hour=10, username="street_a", **fields):
    values = {"is_zero": False, "signed_by": "王书记", "note": ""}
    values.update(fields)
    return reports.submit_report(users[username], community, day, now=at(day, hour), **values)


def test_figures_count_arrivals_once_on_the_day_they_are_both_arrived_and_known(
    users, community, grid, arrival_data, today
):
    services.register_arrival(None, arrival_data(grid, days_ago=0), channel="self")
    services.register_arrival(None, arrival_data(grid, days_ago=3), channel="self")  # late
    services.register_arrival(None, arrival_data(grid, days_ago=-1), channel="self")  # ahead
    figures = reports.community_figures([community], today)[community.pk]
    assert (figures.new_arrivals, figures.arrivals_by_level) == (2, {"": 2})
    assert (
        reports.community_figures([community], today - timedelta(days=3))[community.pk].new_arrivals
        == 0
    )
    tomorrow = reports.community_figures([community], today + timedelta(days=1))
    assert tomorrow[community.pk].new_arrivals == 1


def test_figures_count_measures_and_flags_per_community(
    users, community, grid, arrival_data, publish, today
):
    publish([("湖南省长沙市岳麓区", "medium")], effective_from=today - timedelta(days=30))
    services.register_arrival(
        None, arrival_data(grid, origin="湖南省长沙市岳麓区", days_ago=0), channel="self"
    )
    other = users["grid_b1"].region.parent
    figures = reports.community_figures([community, other], today)
    mine = figures[community.pk]
    assert (mine.new_arrivals, mine.arrivals_by_level) == (1, {"medium": 1})
    assert (mine.under_measure, mine.measures_by_type) == (1, {"home_monitoring": 1})
    assert mine.new_flags == 1 and not mine.nothing_new
    assert figures[other.pk].arrivals_by_level.get("medium", 0) == 0


def test_zero_report_refused_when_there_were_new_arrivals(
    users, community, grid, arrival_data, today
):
    services.register_arrival(None, arrival_data(grid, days_ago=0), channel="self")
    with pytest.raises(RuleError) as refused:
        submit(users, community, today, is_zero=True, hour=0)
    assert refused.value.code == "not_zero"
    assert not DailyReport.objects.filter(community=community).exists()


def test_zero_report_needs_a_signature_and_closes_the_days_task(users, community):
    assert reports.open_report_tasks(OLD_DAY) >= 1
    assert reports.open_report_tasks(OLD_DAY) == 0  # idempotent
    task = Task.objects.get(duty=Duty.DAILY_REPORT, object_id=community.pk)
    assert task.due_at == at(OLD_DAY, 13)
    assert task.responsible_organisation == Organisation.objects.get(region=community)
    with pytest.raises(RuleError) as refused:
        submit(users, community, OLD_DAY, is_zero=True, signed_by=" ")
    assert refused.value.field == "signed_by"
    report = submit(users, community, OLD_DAY, is_zero=True)
    assert report.is_zero and not report.late
    task.refresh_from_db()
    assert (task.status, task.done_at) == (Task.Status.DONE, at(OLD_DAY, 10))


def test_report_after_13_is_late_and_a_resubmission_replaces_it_audited(users, community):
    first = submit(users, community, OLD_DAY, hour=12)
    assert not first.late
    second = submit(users, community, OLD_DAY, hour=14, note="补充说明")
    assert second.pk == first.pk and second.late and second.note == "补充说明"
    assert DailyReport.objects.filter(community=community, day=OLD_DAY).count() == 1
    assert ChangeLog.objects.filter(object_id=str(first.pk), action="update").exists()


def test_street_page_shows_late_missing_and_figures(users, area, client_for):
    community = area[0]
    submit(users, community, OLD_DAY, hour=14)
    response = client_for("street_a").get("/travel/reports/street/", {"day": OLD_DAY})
    html = response.content.decode()
    assert f'id="community-{community.pk}" class="standing-late"' in html
    others = Region.objects.filter(
        level=Region.Level.VILLAGE, path__startswith=users["street_a"].region.path
    ).exclude(pk=community.pk)
    assert all(f'id="community-{c.pk}" class="standing-missing"' in html for c in others)
    assert f'id="count-missing">{others.count()}<' in html
    board = reports.day_board(
        users["street_a"], timezone.localdate(), now=at(timezone.localdate(), 9)
    )
    assert {e.standing for e in board} <= {Standing.NOT_DUE, Standing.ON_TIME, Standing.LATE}


def test_street_b_sees_none_of_street_as_communities(users, community, client_for):
    submit(users, community, OLD_DAY)
    html = client_for("street_b").get("/travel/reports/street/", {"day": OLD_DAY}).content
    assert f'id="community-{community.pk}"'.encode() not in html
    api = client_for("street_b").get("/api/daily-reports", {"day": OLD_DAY.isoformat()}).json()
    street_b = users["street_b"].region.path
    assert api and all(
        Region.objects.get(pk=row["community"]).path.startswith(street_b) for row in api
    )
    refused = client_for("street_b").post(
        "/api/daily-reports",
        {"community": community.pk, "day": OLD_DAY.isoformat(), "signed_by": "x"},
        content_type="application/json",
    )
    assert refused.status_code == 422 and refused.json()["detail"][0]["msg_en"]
    county = client_for("street_b").get(
        "/travel/reports/county/", {"day": OLD_DAY, "start": OLD_DAY, "end": OLD_DAY}
    )
    assert f'id="street-{users["street_a"].region_id}"'.encode() not in county.content


def test_county_rates_per_street_and_community(users, area, client_for):
    community = area[0]
    street = users["street_a"].region
    day_two = OLD_DAY + timedelta(days=1)
    submit(users, community, OLD_DAY, hour=9)
    submit(users, community, day_two, hour=15)
    streets, per_street = reports.rates(users["county_admin"], OLD_DAY, day_two)
    mine = next(s for s in streets if s.region == street)
    communities = Region.objects.filter(level=Region.Level.VILLAGE, parent=street).count()
    assert (mine.due, mine.submitted, mine.on_time) == (2 * communities, 2, 1)
    row = next(r for r in per_street[street.pk] if r.region == community)
    assert (row.completeness, row.timeliness) == (100.0, 50.0)
    other = next(s for s in streets if s.region == users["street_b"].region)
    assert (other.submitted, other.completeness) == (0, 0.0)

    page = client_for("county_admin").get(
        "/travel/reports/county/", {"day": day_two, "start": OLD_DAY, "end": day_two}
    )
    html = page.content.decode()
    assert f'id="street-{street.pk}"' in html and f'id="street-{other.region.pk}"' in html
    assert f'id="community-{community.pk}"' in html


def test_street_and_county_exports_are_logged(users, community, client_for):
    submit(users, community, OLD_DAY)
    client = client_for("street_a")
    street = client.get("/travel/reports/street/", {"day": OLD_DAY, "format": "xlsx"})
    rows = list(load_workbook(io.BytesIO(street.content)).active.iter_rows(values_only=True))
    assert any(row[0] == community.full_name and row[3] == "王书记" for row in rows)
    county = client.get("/travel/reports/county/", {"day": OLD_DAY, "format": "xlsx"})
    assert county.status_code == 200
    assert AccessLog.objects.filter(actor=users["street_a"], action="export").count() == 2


def test_community_page_confirms_the_figures_shown(users, client_for, today):
    community = users["community_a"].region
    client = client_for("community_a")
    page = client.get("/travel/reports/", {"community": community.pk, "day": today})
    assert page.status_code == 200
    figures = page.context["form"].initial["figures"]
    response = client.post(
        f"/travel/reports/?community={community.pk}&day={today}",
        {"signed_by": "蒋社区", "note": "", "figures": figures, "action": "confirm"},
    )
    assert response.status_code == 302
    report = DailyReport.objects.get(community=community, day=today)
    assert report.figures == page.context["figures"].as_json()
    assert report.reporter == users["community_a"]
    forged = client.post(
        f"/travel/reports/?community={community.pk}&day={today}",
        {"signed_by": "蒋社区", "figures": "{}", "action": "confirm"},
    )
    assert "页面数据已过期" in forged.content.decode()


def test_community_page_is_scoped(users, client_for, today):
    other = users["grid_b1"].region.parent
    assert (
        client_for("community_a").get("/travel/reports/", {"community": other.pk}).status_code
        == 404
    )
    assert client_for("grid_a1").get("/travel/reports/").status_code == 404
