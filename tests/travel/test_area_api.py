"""The risk-area API: areas in force on a day, publishing a list (whole or not at all, with
each line's problem in Chinese and English), asking about an address, and the grids' flags
(scoped, masked) with their handling."""

from datetime import timedelta

import pytest

from fangyi.core.masking import mask_name
from fangyi.travel.models import AreaList, RiskFlag

pytestmark = pytest.mark.django_db


def post(client, url, body):
    return client.post(url, body, content_type="application/json")


def test_publishing_a_list_flags_and_answers_with_its_counts(client_for, residents, stay, today):
    (traveller,) = residents("grid_a1", 1)
    stay(traveller, "山东省青岛市市南区八大关街道", 6, 2)
    body = {
        "title": "接口名单",
        "effective_from": (today - timedelta(days=8)).isoformat(),
        "lines": [
            {"text": "山东省青岛市市南区", "level": "高风险"},
            {"text": "山东省济南市历下区", "level": "medium"},
        ],
    }
    response = post(client_for("cdc_epi"), "/api/risk-areas/lists", body)
    assert response.status_code == 201, response.json()
    data = response.json()
    assert (data["areas_added"], data["persons_flagged"]) == (2, 1)
    assert RiskFlag.objects.get(area__area_list_id=data["id"]).person_id == traveller.pk

    areas = client_for("grid_a1").get("/api/risk-areas", {"level": "high"}).json()
    assert [(a["name"], a["region_name"]) for a in areas] == [
        ("山东省青岛市市南区", "山东省青岛市市南区")
    ]
    before = client_for("grid_a1").get(
        "/api/risk-areas", {"on": (today - timedelta(days=9)).isoformat()}
    )
    assert before.json() == []


def test_a_list_with_bad_lines_is_refused_whole_with_each_problem(client_for, today):
    body = {
        "title": "坏名单",
        "effective_from": today.isoformat(),
        "lines": [
            {"text": "山东省青岛市市北区", "level": "high"},
            {"text": "火星基地", "level": "high"},
            {"text": "朝阳区", "level": "medium"},
        ],
    }
    response = post(client_for("cdc_epi"), "/api/risk-areas/lists", body)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert [d["loc"] for d in detail] == [
        ["body", "lines", 1, "text"],
        ["body", "lines", 2, "text"],
    ]
    assert "无法识别" in detail[0]["msg"] and detail[0]["msg_en"]
    assert not AreaList.objects.filter(title="坏名单").exists()

    body["lines"] = [{"text": "山东省青岛市市北区", "level": "很高"}]
    wrong_level = post(client_for("cdc_epi"), "/api/risk-areas/lists", body)
    assert wrong_level.status_code == 422
    assert wrong_level.json()["detail"][0]["loc"] == ["body", "lines", 0, "level"]
    assert post(client_for("grid_a1"), "/api/risk-areas/lists", body).status_code == 404


def test_checking_an_address_on_a_day(client_for, publish, today):
    publish([("福建省厦门市思明区", "high")], effective_from=today - timedelta(days=2))
    client = client_for("grid_b1")
    answer = client.get("/api/risk-areas/check", {"address": "厦门思明区中山路"}).json()
    assert answer["adcode"] == "350203" and answer["level"] == "high"
    assert answer["region_name"] == "福建省厦门市思明区" and answer["detail"] == "中山路"
    earlier = client.get(
        "/api/risk-areas/check",
        {"address": "厦门思明区中山路", "on": (today - timedelta(days=3)).isoformat()},
    ).json()
    assert earlier["level"] == "" and earlier["areas"] == []
    unknown = client.get("/api/risk-areas/check", {"address": "火星基地"})
    assert unknown.status_code == 422 and unknown.json()["detail"][0]["type"] == "unresolved"
    shared = client.get("/api/risk-areas/check", {"address": "朝阳区"})
    assert shared.status_code == 422 and shared.json()["detail"][0]["type"] == "ambiguous"


def test_flags_are_scoped_masked_and_handled(client_for, residents, stay, publish, today):
    mine, theirs = residents("grid_a1", 1)[0], residents("grid_b1", 1)[0]
    for person in (mine, theirs):
        stay(person, "河南省郑州市金水区", 4, 1)
    publish([("河南省郑州市金水区", "medium")], effective_from=today - timedelta(days=6))
    client = client_for("grid_a1")
    items = client.get("/api/risk-flags").json()["items"]
    assert {item["person"] for item in items} == {mine.pk}
    (item,) = items
    assert item["name"] == mask_name(mine.name) and item["level"] == "medium"
    if mine.id_number:
        assert item["id_number"] == mine.id_number_masked != mine.id_number

    theirs_flag = RiskFlag.objects.get(person=theirs)
    assert (
        post(client, f"/api/risk-flags/{theirs_flag.pk}", {"status": "verified"}).status_code == 404
    )
    refused = post(client, f"/api/risk-flags/{item['id']}", {"status": "dismissed"})
    assert refused.status_code == 400 and refused.json()["detail"][0]["loc"] == ["body", "note"]
    done = post(client, f"/api/risk-flags/{item['id']}", {"status": "verified", "note": "已落实"})
    assert done.status_code == 200 and done.json()["status"] == "verified"
    assert client.get("/api/risk-flags").json()["items"] == []
    assert len(client.get("/api/risk-flags", {"status": "all"}).json()["items"]) == 1
    again = post(client, f"/api/risk-flags/{item['id']}", {"status": "verified"})
    assert again.status_code == 400
    commander = client_for("commander")
    assert (
        post(commander, f"/api/risk-flags/{item['id']}", {"status": "verified"}).status_code == 404
    )
