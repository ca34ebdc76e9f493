"""The signal pages: the scoped list with its filters, summary and export, a signal with its
series and the response steps (verify → investigate → conclude), wrong steps refused, the
run button, the duty roster, the rules and the response timeliness."""

import io
import json
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from openpyxl import load_workbook

from fangyi.accounts.models import Role, User
from fangyi.accounts.roles import RoleCode
from fangyi.core.deadlines import tasks_of
from fangyi.core.models import AccessLog, Duty, Task
from fangyi.surveillance import detection, signals
from fangyi.surveillance.models import DetectorRun, DutyRoster, RegionLevel, Signal, Source
from fangyi.tracing.models import Cluster

pytestmark = pytest.mark.django_db


def spike(history, noisy, townships, end, *, at=(0,), ago=(0,), count=40):
    """60 days of fever-clinic fever counts ≈ 5/day per township, a spike of `count` in
    the townships of index `at`, on the days `ago` days before `end`."""
    for index, township in enumerate(townships):
        values = noisy(60)
        if index in at:
            for days in ago:
                values[-1 - days] = count
        history(Source.FEVER_CLINIC, "fever", township, values, end)


def township_signal(region) -> Signal:
    return Signal.objects.get(
        source=Source.FEVER_CLINIC, rule__level=RegionLevel.TOWNSHIP, region=region
    )


def raise_fever_signals(history, noisy, townships, today) -> Signal:
    """A fever signal raised today in the first township (and one in the second)."""
    spike(history, noisy, townships, today, at=(0, 1))
    detection.run_day(today)
    return township_signal(townships[0])


def make_township_epidemiologist(township) -> User:
    user = User.objects.create_user("epi_b", region=township, last_name="乙", first_name="流调")
    user.roles.add(Role.objects.get(code=RoleCode.CDC_EPIDEMIOLOGIST))
    return user


@pytest.fixture
def raised(history, noisy, townships, today):
    return raise_fever_signals(history, noisy, townships, today)


@pytest.fixture
def township_epi(townships):
    """A CDC epidemiologist of the second township only."""
    return make_township_epidemiologist(townships[1])


def chart_of(html: str) -> dict:
    found = re.search(
        r'<script id="signal-chart-data" type="application/json">(.*?)</script>', html
    )
    return json.loads(found.group(1))


def page_text(response) -> str:
    assert response.status_code == 200
    return response.content.decode()


# List -------------------------------------------------------------------------------------


def test_the_list_shows_the_signal_with_its_figures_and_time_left(raised, client_for):
    html = page_text(client_for("cdc_epi").get("/surveillance/"))
    row = re.search(rf'<tr id="signal-{raised.pk}">(.*?)</tr>', html, re.S).group(1)
    assert raised.region.name in row and "发热" in row and "待核实" in row
    assert "40 / " in row and "EARS C2" in row
    assert "剩余" in row and "超时" not in row
    assert re.search(r'id="summary-open">\d+<', html)
    assert 'id="summary-today">0<' not in html


def test_an_overdue_verification_is_shown_in_red_and_counted(raised, client_for):
    tasks_of(raised, Duty.VERIFY_SIGNAL).update(due_at=timezone.now() - timedelta(hours=1))
    html = page_text(client_for("cdc_epi").get("/surveillance/"))
    row = re.search(rf'<tr id="signal-{raised.pk}">(.*?)</tr>', html, re.S).group(1)
    assert 'class="overdue" style="color:#c62828">超时' in row
    assert 'id="summary-overdue" style="color:#c62828">1<' in html


def test_filters_narrow_the_list(raised, townships, client_for, users):
    client = client_for("cdc_epi")
    signals.verify(users["cdc_epi"], raised, suspected=False, notes="核实", reason="重复就诊")
    other = township_signal(townships[1])

    def shown(**query) -> set[int]:
        return {
            int(i)
            for i in re.findall(
                r'id="signal-(\d+)"', page_text(client.get("/surveillance/", query))
            )
        }

    assert {raised.pk, other.pk} <= shown()
    assert raised.pk not in shown(status="open") and other.pk in shown(status="open")
    assert shown(status="dismissed") == {raised.pk}
    assert shown(region=townships[1].pk) == {other.pk}
    assert not shown(source=Source.PHARMACY)
    tomorrow = timezone.localdate() + timedelta(days=1)
    assert not shown(day_from=tomorrow.isoformat())


def test_the_list_queries_do_not_grow_with_rows(
    history, noisy, townships, today, client_for, django_assert_max_num_queries
):
    client = client_for("cdc_epi")

    def queries(**query) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/surveillance/", query).status_code == 200
        return len(captured)

    spike(history, noisy, townships, today, at=(0, 1, 2, 3))
    detection.run_day(today)
    assert Signal.objects.count() >= 4
    county = townships[0].parent
    assert queries(region=townships[0].pk) == queries(region=county.pk)
    with django_assert_max_num_queries(12):
        client.get("/surveillance/")


def test_a_street_worker_without_surveillance_gets_404_everywhere(raised, client_for):
    client = client_for("street_a")
    for url in [
        "/surveillance/",
        "/surveillance/signals/export.xlsx",
        f"/surveillance/signals/{raised.pk}/",
        "/surveillance/runs/",
        "/surveillance/roster/",
        "/surveillance/rules/",
        "/surveillance/timeliness/",
    ]:
        assert client.get(url).status_code == 404, url
    verify = {"outcome": "suspected", "notes": "x"}
    assert client.post(f"/surveillance/signals/{raised.pk}/verify/", verify).status_code == 404


def test_a_township_epidemiologist_sees_only_their_township(raised, townships, township_epi):
    from django.test import Client

    client = Client()
    client.force_login(township_epi)
    mine = township_signal(townships[1])
    html = page_text(client.get("/surveillance/"))
    assert f'id="signal-{mine.pk}"' in html and f'id="signal-{raised.pk}"' not in html
    assert client.get(f"/surveillance/signals/{raised.pk}/").status_code == 404
    verify = {"outcome": "suspected", "notes": "x"}
    assert client.post(f"/surveillance/signals/{raised.pk}/verify/", verify).status_code == 404
    raised.refresh_from_db()
    assert raised.status == Signal.Status.RAISED


def test_the_export_lists_the_filtered_signals_and_is_logged(raised, townships, client_for):
    response = client_for("cdc_epi").get(
        "/surveillance/signals/export.xlsx", {"region": townships[0].pk}
    )
    sheet = load_workbook(io.BytesIO(response.content)).active
    ids = [
        row[0] for row in sheet.iter_rows(min_row=2, values_only=True) if isinstance(row[0], int)
    ]
    assert ids == [raised.pk]
    log = AccessLog.objects.filter(action=AccessLog.Action.EXPORT).latest("at")
    assert log.detail["rows"] == 1 and log.detail["filters"]["region"]


# A signal and its response ----------------------------------------------------------------


def test_the_detail_shows_the_series_with_the_threshold(raised, client_for):
    html = page_text(client_for("cdc_epi").get(f"/surveillance/signals/{raised.pk}/"))
    data = json.loads(
        re.search(
            r'<script id="signal-chart-data" type="application/json">(.*?)</script>', html, re.S
        ).group(1)
    )
    assert len(data["days"]) == 61 and data["days"][-1] == raised.day.isoformat()
    assert data["counts"][-1] == 40 and data["threshold"] == pytest.approx(raised.threshold)
    assert 'id="response-form"' in html and "提交核实结果" in html


def test_a_county_signal_charts_the_sum_of_its_townships(
    history, noisy, townships, today, client_for
):
    spike(history, noisy, townships, today, at=tuple(range(len(townships))), count=30)
    detection.run_day(today)
    county = Signal.objects.get(source=Source.FEVER_CLINIC, rule__level=RegionLevel.COUNTY)
    html = page_text(client_for("cdc_epi").get(f"/surveillance/signals/{county.pk}/"))
    data = json.loads(
        re.search(r'id="signal-chart-data" type="application/json">(.*?)<', html).group(1)
    )
    assert data["counts"][-1] == 30 * len(townships) == county.observed


def test_the_full_response_by_page_closes_the_task_and_links_the_cluster(raised, client_for, users):
    client = client_for("cdc_epi")
    url = f"/surveillance/signals/{raised.pk}/"
    response = client.post(
        url + "verify/", {"outcome": "suspected", "notes": "电话核实，3例同一工地"}
    )
    assert response.status_code == 302
    raised.refresh_from_db()
    assert raised.status == Signal.Status.SUSPECTED and raised.verified_by == users["cdc_epi"]
    task = tasks_of(raised, Duty.VERIFY_SIGNAL).get()
    assert task.status == Task.Status.DONE and task.done_at is not None
    assert "开始现场调查" in page_text(client.get(url))

    client.post(url + "investigate/", {"notes": "两人前往工地"})
    raised.refresh_from_db()
    assert raised.status == Signal.Status.INVESTIGATING

    cluster = Cluster.objects.create(name="工地聚集", region=raised.region)
    client.post(
        url + "conclude/", {"outcome": "confirmed", "notes": "确认聚集", "cluster": cluster.pk}
    )
    raised.refresh_from_db()
    assert raised.status == Signal.Status.CONFIRMED and raised.cluster == cluster
    html = page_text(client.get(url))
    assert 'id="response-form"' not in html and "工地聚集" in html
    history = re.search(r'<ul id="history">(.*?)</ul>', html, re.S).group(1)
    assert "确认事件" in history and "疑似事件" in history and "现场调查中" in history


def test_dismissing_without_a_reason_is_refused_next_to_the_reason(raised, client_for):
    response = client_for("cdc_epi").post(
        f"/surveillance/signals/{raised.pk}/verify/", {"outcome": "dismiss", "notes": "已核实"}
    )
    html = page_text(response)
    assert re.search(r'id="error-reason"><li>排除信号须填写排除原因。', html)
    raised.refresh_from_db()
    assert raised.status == Signal.Status.RAISED
    assert tasks_of(raised, Duty.VERIFY_SIGNAL).get().status == Task.Status.OPEN


def test_verifying_without_notes_is_refused_next_to_the_notes(raised, client_for):
    html = page_text(
        client_for("cdc_epi").post(
            f"/surveillance/signals/{raised.pk}/verify/", {"outcome": "suspected"}
        )
    )
    assert re.search(r'id="error-notes"><li>请填写初步核实情况。', html)


def test_wrong_steps_are_refused(raised, client_for):
    client = client_for("cdc_epi")
    url = f"/surveillance/signals/{raised.pk}/"
    response = client.post(url + "investigate/", {"notes": "x"}, follow=True)
    assert "不能进行此操作" in page_text(response)
    client.post(url + "conclude/", {"outcome": "confirmed", "notes": "x"})
    raised.refresh_from_db()
    assert raised.status == Signal.Status.RAISED
    assert client.get(url + "verify/").status_code == 405


def test_a_reviewer_sees_the_signal_but_has_no_response_form(raised, client_for):
    client = client_for("cdc_reviewer")
    html = page_text(client.get(f"/surveillance/signals/{raised.pk}/"))
    assert 'id="response-form"' not in html
    verify = {"outcome": "suspected", "notes": "x"}
    assert client.post(f"/surveillance/signals/{raised.pk}/verify/", verify).status_code == 404


def test_a_cluster_out_of_scope_cannot_be_linked(raised, townships, township_epi):
    from django.test import Client

    mine = township_signal(townships[1])
    signals.verify(township_epi, mine, suspected=True, notes="核实")
    signals.start_investigation(township_epi, mine)
    elsewhere = Cluster.objects.create(name="他处聚集", region=townships[0])
    client = Client()
    client.force_login(township_epi)
    response = client.post(
        f"/surveillance/signals/{mine.pk}/conclude/",
        {"outcome": "confirmed", "notes": "确认", "cluster": elsewhere.pk},
    )
    assert "所选聚集性疫情不存在或不在您的管辖范围内" in page_text(response)
    mine.refresh_from_db()
    assert mine.status == Signal.Status.INVESTIGATING


def test_a_merged_repeat_links_to_its_primary_and_cannot_be_answered(
    history, noisy, townships, today, client_for
):
    spike(history, noisy, townships, today, at=(0,), ago=(1, 0))
    detection.run_day(today - timedelta(days=1))
    detection.run_day(today)
    primary = Signal.objects.get(
        rule__level=RegionLevel.TOWNSHIP, region=townships[0], day=today - timedelta(days=1)
    )
    repeat = Signal.objects.get(rule__level=RegionLevel.TOWNSHIP, region=townships[0], day=today)
    assert repeat.merged_into == primary
    client = client_for("cdc_epi")
    html = page_text(client.get(f"/surveillance/signals/{repeat.pk}/"))
    assert (
        f'href="/surveillance/signals/{primary.pk}/"' in html and 'id="response-form"' not in html
    )
    assert f'href="/surveillance/signals/{repeat.pk}/"' in page_text(
        client.get(f"/surveillance/signals/{primary.pk}/")
    )
    assert f'id="signal-{repeat.pk}"' not in page_text(client.get("/surveillance/"))
    verify = {"outcome": "suspected", "notes": "x"}
    response = client.post(f"/surveillance/signals/{repeat.pk}/verify/", verify, follow=True)
    assert "该信号已合并到前一条信号" in page_text(response)
    repeat.refresh_from_db()
    assert repeat.status == Signal.Status.RAISED


# Runs -------------------------------------------------------------------------------------


def test_the_run_button_raises_signals_from_a_spike(
    history, noisy, townships, today, client_for, users
):
    spike(history, noisy, townships, today, at=(2,))
    response = client_for("cdc_epi").post(
        "/surveillance/runs/run/", {"day": today.isoformat()}, follow=True
    )
    html = page_text(response)
    signal = township_signal(townships[2])
    assert signal.day == today and signal.status == Signal.Status.RAISED
    run = DetectorRun.objects.get(day=today)
    assert run.triggered_by == users["cdc_epi"]
    assert f"新信号 {run.new_signals} 条" in html and f'id="run-{today.isoformat()}"' in html


def test_running_a_future_day_is_refused(clean_slate, today, client_for):
    response = client_for("cdc_epi").post(
        "/surveillance/runs/run/", {"day": (today + timedelta(days=1)).isoformat()}, follow=True
    )
    assert "不能运行未来日期的预警" in page_text(response)
    assert not DetectorRun.objects.exists()


def test_a_commander_sees_the_runs_but_cannot_run(clean_slate, today, client_for):
    client = client_for("commander")
    assert 'id="run-form"' not in page_text(client.get("/surveillance/runs/"))
    assert client.post("/surveillance/runs/run/", {"day": today.isoformat()}).status_code == 404
    assert not DetectorRun.objects.exists()


# Roster, rules, timeliness ----------------------------------------------------------------


def roster_post(client, region, user, start, end):
    return client.post(
        "/surveillance/roster/",
        {
            "region": region.pk,
            "user": user.pk,
            "start_date": start.isoformat(),
            "end_date": end.isoformat(),
        },
    )


def test_a_duty_period_is_added_and_an_overlapping_one_refused(
    townships, today, client_for, users, township_epi
):
    client = client_for("cdc_epi")
    week = today + timedelta(days=6)
    assert roster_post(client, townships[1], township_epi, today, week).status_code == 302
    period = DutyRoster.objects.get(region=townships[1])
    assert period.user == township_epi
    assert signals.duty_epidemiologist(townships[1], today) == township_epi

    response = roster_post(client, townships[1], users["cdc_epi"], week, week + timedelta(days=3))
    assert "值班时间不能重叠" in page_text(response)
    assert DutyRoster.objects.filter(region=townships[1]).count() == 1
    # Another region on the same days is fine.
    assert roster_post(client, townships[0], users["cdc_epi"], today, week).status_code == 302


def test_a_roster_period_ending_before_it_starts_is_refused(townships, today, client_for, users):
    response = roster_post(
        client_for("cdc_epi"), townships[0], users["cdc_epi"], today, today - timedelta(days=1)
    )
    assert re.search(r'id="error-end_date"><li>结束日期不能早于开始日期。', page_text(response))


def test_only_an_epidemiologist_covering_the_region_may_be_on_duty(
    townships, today, users, township_epi
):
    with pytest.raises(signals.SignalRuleError) as refused:
        signals.assign_duty(users["cdc_epi"], townships[0], township_epi, today, today)
    assert refused.value.field == "user"
    with pytest.raises(signals.SignalRuleError):
        signals.assign_duty(users["cdc_epi"], townships[0], users["commander"], today, today)
    assert not DutyRoster.objects.filter(region=townships[0], start_date=today).exists()


def test_a_commander_sees_the_roster_but_cannot_edit(townships, today, client_for, users):
    client = client_for("commander")
    assert 'id="roster-form"' not in page_text(client.get("/surveillance/roster/"))
    response = roster_post(client, townships[0], users["cdc_epi"], today, today)
    assert response.status_code == 404


def test_the_rules_page_names_diseases_and_parameters(client_for):
    html = page_text(client_for("commander").get("/surveillance/rules/"))
    rules = re.search(r'<table class="responsive" id="rules">(.*?)</table>', html, re.S).group(1)
    assert "鼠疫" in rules and "移动百分位数（CIDARS）" in rules and "percentile=90" in rules
    assert 'action="' not in rules


def test_timeliness_counts_verifications_within_the_limit(
    history, noisy, townships, today, client_for, users
):
    spike(history, noisy, townships, today, at=(0, 1, 2))
    detection.run_day(today)
    first, second, third = (township_signal(townships[i]) for i in range(3))
    signals.verify(users["cdc_epi"], first, suspected=False, notes="核实", reason="误报")
    # The second is verified after its 24 hours.
    tasks_of(second, Duty.VERIFY_SIGNAL).update(due_at=timezone.now() - timedelta(minutes=1))
    signals.verify(users["cdc_epi"], second, suspected=True, notes="核实")
    html = page_text(client_for("cdc_epi").get("/surveillance/timeliness/"))
    assert f'name="end" value="{today.isoformat()}"' in html
    total = re.search(r'<tr id="timeliness-total">(.*?)</tr>', html, re.S).group(1)
    raised = Signal.objects.primary().filter(day=today).count()
    assert f'class="raised">{raised}<' in total
    assert 'class="verified">2<' in total and 'class="on-time">1<' in total
    assert 'class="on-time-rate">50.0%<' in total
    assert third.status == Signal.Status.RAISED
