"""Risk-area pages: publishing a notice through preview and confirm, the areas in force on
a day, asking about an address, the grids' flags (scoped, masked, handled, exported) and the
public page (no personal data, refuses floods)."""

import io
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import load_workbook

from fangyi.core.masking import mask_name
from fangyi.core.models import AccessLog
from fangyi.travel.models import AreaList, RiskFlag

pytestmark = pytest.mark.django_db

NOTICE = """关于公布风险地区的通告
现将风险地区公布如下：
一、高风险地区（1个）：
湖北省武汉市：江汉区花楼街道
二、中风险地区（2个）：
广东省深圳市南山区、江西省南昌市东湖区
特此通告。"""


@pytest.fixture(autouse=True)
def fresh_counters():
    cache.clear()  # the public page's rate limit counts per test


def form_data(today, **overrides):
    return {"title": "第一号通告", "effective_from": today.isoformat(), "text": NOTICE, **overrides}


def test_publishing_a_notice_previews_every_line_then_publishes_on_confirm(
    client_for, residents, stay, today
):
    (traveller,) = residents("grid_a1", 1)
    stay(traveller, "广东省深圳市南山区科技园", 3, 1)
    client = client_for("cdc_epi")
    since = today - timedelta(days=5)  # in force while the stay lasted
    preview = client.post("/travel/risk-areas/publish/", form_data(since))
    page = preview.content.decode()
    assert preview.status_code == 200 and 'id="confirm-form"' in page
    assert "湖北省武汉市江汉区 · 花楼街道" in page and "广东省深圳市南山区" in page
    assert not AreaList.objects.filter(title="第一号通告").exists()  # not before confirming

    token = preview.context["token"]
    done = client.post("/travel/risk-areas/publish/confirm/", {"token": token})
    area_list = AreaList.objects.get(title="第一号通告")
    assert (
        done.status_code == 302 and done["Location"] == f"/travel/risk-areas/lists/{area_list.pk}/"
    )
    assert area_list.areas_added == 3 and area_list.persons_flagged == 1
    assert area_list.source == NOTICE
    assert RiskFlag.objects.get(area__area_list=area_list).person_id == traveller.pk
    # Confirming twice publishes once.
    again = client.post("/travel/risk-areas/publish/confirm/", {"token": token})
    assert again.status_code == 302 and AreaList.objects.filter(title="第一号通告").count() == 1

    detail = client.get(done["Location"]).content.decode()
    assert traveller.grid.full_name in detail and "花楼街道" in detail


def test_a_notice_with_problems_shows_them_and_cannot_be_published(client_for, today):
    text = NOTICE.replace("江西省南昌市东湖区", "火星基地、朝阳区")
    response = client_for("cdc_epi").post(
        "/travel/risk-areas/publish/", form_data(today, text=text)
    )
    page = response.content.decode()
    assert 'id="confirm-form"' not in page and response.context["token"] is None
    assert "第 6 行" in page and "火星基地" in page and "无法识别的地区名称" in page
    assert "有多处同名" in page
    # Nothing waits in the session to be confirmed.
    refused = client_for("cdc_epi").post("/travel/risk-areas/publish/confirm/", {"token": "x"})
    assert refused.status_code == 302 and not AreaList.objects.filter(title="第一号通告").exists()


def test_publishing_from_a_file_and_the_right_to_publish(client_for, today):
    upload = SimpleUploadedFile(
        "名单.csv", "地区,风险等级\r\n陕西省西安市碑林区,中风险\r\n".encode("utf-8-sig")
    )
    data = {"title": "文件名单", "effective_from": today.isoformat(), "file": upload}
    client = client_for("cdc_epi")
    preview = client.post("/travel/risk-areas/publish/", data)
    assert "陕西省西安市碑林区" in preview.content.decode()
    client.post("/travel/risk-areas/publish/confirm/", {"token": preview.context["token"]})
    assert AreaList.objects.get(title="文件名单").source == "名单.csv"
    assert client_for("grid_a1").get("/travel/risk-areas/publish/").status_code == 404
    empty = client.post("/travel/risk-areas/publish/", {"title": "x", "effective_from": today})
    assert "请粘贴通告原文或上传名单文件" in empty.content.decode()


def test_the_areas_page_answers_for_past_days(client_for, publish, today):
    publish([("四川省成都市武侯区", "high")], effective_from=today - timedelta(days=10))
    publish([("四川省成都市武侯区", "high", "lift")], effective_from=today - timedelta(days=2))
    client = client_for("commander")
    now = client.get("/travel/risk-areas/").content.decode()
    then = client.get(
        "/travel/risk-areas/", {"on": (today - timedelta(days=5)).isoformat()}
    ).content.decode()
    assert "四川省成都市武侯区" not in now.split('id="area-lists"')[0]
    assert "四川省成都市武侯区" in then.split('id="area-lists"')[0]
    assert "测试名单" in now  # the lists published


def test_asking_about_an_address_on_a_day(client_for, publish, today):
    publish([("湖北省武汉市江汉区", "medium")], effective_from=today - timedelta(days=3))
    client = client_for("grid_a1")
    page = client.get(
        "/travel/risk-areas/check/", {"address": "武汉江汉区前进四路", "on": today.isoformat()}
    ).content.decode()
    assert "识别为 湖北省武汉市江汉区" in page and "中风险（管控区）" in page
    before = client.get(
        "/travel/risk-areas/check/",
        {"address": "武汉江汉区前进四路", "on": (today - timedelta(days=4)).isoformat()},
    ).content.decode()
    assert "不在风险地区" in before
    assert (
        "有多处同名"
        in client.get("/travel/risk-areas/check/", {"address": "朝阳区望京"}).content.decode()
    )
    assert (
        "无法识别该地址"
        in client.get("/travel/risk-areas/check/", {"address": "火星基地"}).content.decode()
    )


@pytest.fixture
def flagged(residents, stay, publish, today):
    """One flagged person in grid_a1 and one in grid_b1."""
    mine, theirs = residents("grid_a1", 1)[0], residents("grid_b1", 1)[0]
    stay(mine, "江苏省苏州市姑苏区", 5, 2)
    stay(theirs, "江苏省苏州市姑苏区", 5, 2)
    area_list = publish(
        [("江苏省苏州市姑苏区", "medium")], effective_from=today - timedelta(days=7)
    )
    flags = {f.person_id: f for f in RiskFlag.objects.filter(area__area_list=area_list)}
    return flags[mine.pk], flags[theirs.pk]


def test_the_flags_page_shows_my_grid_only_masked(
    client_for, flagged, django_assert_max_num_queries
):
    mine, theirs = flagged
    client = client_for("grid_b1")
    with django_assert_max_num_queries(12):
        page = client.get("/travel/risk-flags/").content.decode()
    assert f'id="flag-{theirs.pk}"' in page and f'id="flag-{mine.pk}"' not in page
    person = theirs.person
    assert mask_name(person.name) in page
    if person.id_number:
        assert person.id_number not in page and person.id_number_masked in page
    assert f"?person={person.pk}" in page  # register the arrival
    assert (
        client.post(f"/travel/risk-flags/{mine.pk}/handle/", {"status": "verified"}).status_code
        == 404
    )


def test_handling_a_flag(client_for, flagged):
    mine, _ = flagged
    client = client_for("grid_a1")
    refused = client.post(
        f"/travel/risk-flags/{mine.pk}/handle/", {"status": "dismissed"}, follow=True
    )
    assert "核查排除须说明原因" in refused.content.decode()
    mine.refresh_from_db()
    assert mine.status == "open"
    client.post(
        f"/travel/risk-flags/{mine.pk}/handle/", {"status": "dismissed", "note": "未曾前往"}
    )
    mine.refresh_from_db()
    assert (mine.status, mine.note) == ("dismissed", "未曾前往")
    assert f'id="flag-{mine.pk}"' not in client.get("/travel/risk-flags/").content.decode()
    shown = client.get("/travel/risk-flags/", {"status": "dismissed"}).content.decode()
    assert f'id="flag-{mine.pk}"' in shown
    # Viewing is not handling: the commander sees but cannot mark.
    assert (
        client_for("commander")
        .post(f"/travel/risk-flags/{mine.pk}/handle/", {"status": "verified"})
        .status_code
        == 404
    )


def test_the_export_of_flags_is_masked_scoped_and_logged(client_for, users, flagged):
    mine, theirs = flagged
    response = client_for("grid_a1").get("/travel/risk-flags/export.xlsx")
    rows = list(load_workbook(io.BytesIO(response.content)).active.iter_rows(values_only=True))
    ids = {row[0] for row in rows[1:] if isinstance(row[0], int)}
    assert mine.pk in ids and theirs.pk not in ids
    cells = {cell for row in rows for cell in row}
    assert mine.person.name not in cells and mask_name(mine.person.name) in cells
    log = AccessLog.objects.filter(actor=users["grid_a1"], action=AccessLog.Action.EXPORT).latest(
        "at"
    )
    assert log.object_repr == "风险地区旅居人员" and log.detail["rows"] == len(ids)
    assert client_for("commander").get("/travel/risk-flags/export.xlsx").status_code == 404


def test_the_public_page_lists_areas_without_personal_data(client, flagged, settings):
    mine, _ = flagged
    response = client.get("/travel/risk-areas/public/")
    page = response.content.decode()
    assert response.status_code == 200
    assert "江苏省苏州市姑苏区" in page and "中风险（管控区）" in page
    assert mine.person.name not in page and mask_name(mine.person.name) not in page
    assert mine.grid.full_name not in page
    assert "max-age=60" in response["Cache-Control"]


def test_the_public_page_refuses_floods(client, settings):
    settings.PUBLIC_RISK_AREAS_REQUESTS_PER_ADDRESS_HOUR = 3
    codes = [client.get("/travel/risk-areas/public/").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    other = client.get("/travel/risk-areas/public/", REMOTE_ADDR="10.1.2.3")
    assert other.status_code == 200
    assert "访问过于频繁" in client.get("/travel/risk-areas/public/").content.decode()


def test_risk_area_pages_need_the_right(client_for):
    client = client_for("hotel_clerk")
    for url in ["/travel/risk-areas/", "/travel/risk-flags/", "/travel/risk-areas/check/"]:
        assert client.get(url).status_code == 404
