"""The signal API: the scoped, filtered, paged list and one signal, the response steps with
bilingual 422 refusals, and the detector runs."""

import json
from datetime import timedelta

import pytest
from django.test import Client

from fangyi.core.deadlines import tasks_of
from fangyi.core.models import Duty, Task
from fangyi.surveillance import detection, signals
from fangyi.surveillance.models import DetectorRun, Signal
from fangyi.tracing.models import Cluster
from tests.surveillance.test_signal_pages import (
    make_township_epidemiologist,
    raise_fever_signals,
    spike,
    township_signal,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def raised(history, noisy, townships, today):
    return raise_fever_signals(history, noisy, townships, today)


@pytest.fixture
def township_epi(townships):
    return make_township_epidemiologist(townships[1])


def post(client, url: str, body: dict):
    return client.post(url, json.dumps(body), content_type="application/json")


def client_of(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_list_is_scoped_filtered_and_paged(raised, townships, township_epi, client_for):
    body = client_for("cdc_epi").get("/api/surveillance/signals").json()
    ids = {item["id"] for item in body["items"]}
    other = township_signal(townships[1])
    assert {raised.pk, other.pk} <= ids and body["count"] == len(ids)
    item = next(i for i in body["items"] if i["id"] == raised.pk)
    assert item["status"] == "raised" and item["topic_label"] == "发热"
    assert item["observed"] == 40 and item["verify_due_at"] is not None

    mine = client_of(township_epi).get("/api/surveillance/signals").json()
    assert [i["id"] for i in mine["items"]] == [other.pk]

    filtered = client_for("cdc_epi").get(
        "/api/surveillance/signals", {"region": townships[0].pk, "status": "open"}
    )
    assert [i["id"] for i in filtered.json()["items"]] == [raised.pk]
    wrong = client_for("cdc_epi").get("/api/surveillance/signals", {"status": "nonsense"})
    assert wrong.status_code == 422 and wrong.json()["detail"][0]["loc"] == ["query", "status"]


def test_out_of_scope_or_without_capability_is_404(raised, township_epi, client_for):
    assert client_of(township_epi).get(f"/api/surveillance/signals/{raised.pk}").status_code == 404
    verify = f"/api/surveillance/signals/{raised.pk}/verify"
    assert (
        post(client_of(township_epi), verify, {"suspected": True, "notes": "x"}).status_code == 404
    )
    street = client_for("street_a")
    assert street.get("/api/surveillance/signals").status_code == 404
    assert street.get("/api/surveillance/runs").status_code == 404
    assert post(street, verify, {"suspected": True, "notes": "x"}).status_code == 404
    raised.refresh_from_db()
    assert raised.status == Signal.Status.RAISED


def test_the_full_response_over_the_api(raised, client_for):
    client = client_for("cdc_epi")
    url = f"/api/surveillance/signals/{raised.pk}"
    verified = post(client, url + "/verify", {"suspected": True, "notes": "电话核实"})
    assert verified.status_code == 200 and verified.json()["status"] == "suspected"
    assert verified.json()["verify_due_at"] is None
    assert tasks_of(raised, Duty.VERIFY_SIGNAL).get().status == Task.Status.DONE

    investigating = post(client, url + "/investigate", {"notes": "出发"})
    assert investigating.json()["status"] == "investigating"

    cluster = Cluster.objects.create(name="接口聚集", region=raised.region)
    concluded = post(
        client, url + "/conclude", {"confirmed": True, "notes": "确认", "cluster_id": cluster.pk}
    )
    assert concluded.status_code == 200
    assert concluded.json()["status"] == "confirmed" and concluded.json()["cluster"] == cluster.pk
    assert client.get(url).json()["investigation_notes"] == "确认"


def test_wrong_steps_and_missing_reasons_are_422_in_both_languages(raised, client_for):
    client = client_for("cdc_epi")
    url = f"/api/surveillance/signals/{raised.pk}"
    wrong = post(client, url + "/investigate", {"notes": "x"})
    assert wrong.status_code == 422
    detail = wrong.json()["detail"][0]
    assert detail["type"] == "wrong_status" and "待核实" in detail["msg"] and detail["msg_en"]

    dismissed = post(client, url + "/verify", {"suspected": False, "notes": "已核实"})
    assert dismissed.status_code == 422
    assert dismissed.json()["detail"][0]["loc"] == ["body", "reason"]
    assert dismissed.json()["detail"][0]["msg"] == "排除信号须填写排除原因。"

    post(client, url + "/verify", {"suspected": False, "notes": "已核实", "reason": "重复"})
    again = post(client, url + "/verify", {"suspected": True, "notes": "x"})
    assert again.status_code == 422 and "已排除" in again.json()["detail"][0]["msg"]


def test_a_cluster_out_of_scope_is_refused(raised, townships, township_epi):
    mine = township_signal(townships[1])
    signals.verify(township_epi, mine, suspected=True, notes="核实")
    signals.start_investigation(township_epi, mine)
    elsewhere = Cluster.objects.create(name="他处", region=townships[0])
    response = post(
        client_of(township_epi),
        f"/api/surveillance/signals/{mine.pk}/conclude",
        {"confirmed": True, "notes": "确认", "cluster_id": elsewhere.pk},
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "cluster_id"]
    mine.refresh_from_db()
    assert mine.status == Signal.Status.INVESTIGATING and mine.cluster is None


def test_runs_are_listed_and_a_day_is_run(history, noisy, townships, today, client_for, users):
    spike(history, noisy, townships, today, at=(3,))
    client = client_for("cdc_epi")
    response = post(client, "/api/surveillance/runs", {"day": today.isoformat()})
    assert response.status_code == 200
    body = response.json()
    assert body["new_this_run"] >= 1 and body["triggered_by"] == users["cdc_epi"].pk
    assert township_signal(townships[3]).day == today
    again = post(client, "/api/surveillance/runs", {"day": today.isoformat()}).json()
    assert again["new_this_run"] == 0 and again["runs"] == 2
    runs = client.get("/api/surveillance/runs").json()
    assert runs["items"][0]["day"] == today.isoformat()


def test_a_future_run_is_422_and_a_commander_may_not_run(clean_slate, today, client_for):
    tomorrow = (today + timedelta(days=1)).isoformat()
    refused = post(client_for("cdc_epi"), "/api/surveillance/runs", {"day": tomorrow})
    assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["body", "day"]
    commander = client_for("commander")
    assert commander.get("/api/surveillance/runs").status_code == 200
    today_run = {"day": today.isoformat()}
    assert post(commander, "/api/surveillance/runs", today_run).status_code == 404
    assert not DetectorRun.objects.exists()


def test_the_detail_lists_merged_repeats(history, noisy, townships, today, client_for):
    spike(history, noisy, townships, today, at=(0,), ago=(1, 0))
    detection.run_day(today - timedelta(days=1))
    detection.run_day(today)
    repeat = Signal.objects.get(region=townships[0], day=today, merged_into__isnull=False)
    body = client_for("cdc_epi").get(f"/api/surveillance/signals/{repeat.merged_into_id}").json()
    assert body["repeats"] == [repeat.pk] and body["repeat_count"] == 1
