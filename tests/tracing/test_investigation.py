from datetime import timedelta

from django.utils import timezone

from fangyi.core import deadlines
from fangyi.core.audit import history_of
from fangyi.core.models import Duty, Task
from fangyi.geo.models import Place
from fangyi.tracing.models import CaseLink, Investigation


def moment(hours_ago: float) -> str:
    return (timezone.localtime() - timedelta(hours=hours_ago)).strftime("%Y-%m-%dT%H:%M")


def investigation_data(**overrides):
    data = {
        "exposure_history": "发病前3天参加家庭聚餐",
        "travel_history": "14天内无外出",
        "suspected_source_type": "unknown",
        "notes": "",
    }
    return data | overrides


def test_completing_the_investigation_closes_the_24_hour_task(
    users, client_for, residents, case_of
):
    case = case_of(residents("grid_a1")[0])
    task = deadlines.tasks_of(case, Duty.INVESTIGATE_CASE).get()
    assert task.status == Task.Status.OPEN
    assert task.due_at - task.started_at == timedelta(hours=24)
    client = client_for("cdc_epi")
    url = f"/tracing/cases/{case.pk}/investigation/"
    assert client.post(url, investigation_data()).status_code == 302
    investigation = Investigation.objects.get(case=case)
    assert investigation.region == case.region and investigation.investigator == users["cdc_epi"]
    assert investigation.exposure_history == "发病前3天参加家庭聚餐"

    response = client.post(f"{url}complete/")
    assert response.status_code == 302
    investigation.refresh_from_db()
    task.refresh_from_db()
    assert investigation.completed_at is not None
    assert task.status == Task.Status.DONE and task.done_at == investigation.completed_at
    actions = history_of(investigation).values_list("action", flat=True)
    assert sorted(actions) == ["create", "update", "update"]
    assert "已于" in client.get(url).content.decode()


def test_completing_twice_is_refused(client_for, residents, case_of):
    case = case_of(residents("grid_a1")[0])
    client = client_for("cdc_epi")
    url = f"/tracing/cases/{case.pk}/investigation/"
    client.post(url, investigation_data())
    client.post(f"{url}complete/")
    page = client.post(f"{url}complete/", follow=True).content.decode()
    assert "该调查已完成" in page


def test_known_source_case_needs_its_number_and_becomes_a_link(client_for, residents, case_of):
    first, second = residents("grid_a1")[:2]
    source, case = case_of(first), case_of(second)
    client = client_for("cdc_epi")
    url = f"/tracing/cases/{case.pk}/investigation/"
    page = client.post(url, investigation_data(suspected_source_type="case")).content.decode()
    assert 'id="error-source_case"' in page and "请填写来源病例的报告卡编号" in page
    page = client.post(
        url, investigation_data(suspected_source_type="case", source_case=case.pk)
    ).content.decode()
    assert 'id="error-source_case"' in page
    client.post(url, investigation_data(suspected_source_type="case", source_case=source.pk))
    client.post(f"{url}complete/")
    assert CaseLink.objects.filter(infector=source, infectee=case).exists()


def test_trajectory_needs_end_after_start_and_is_audited(client_for, residents, case_of, users):
    case = case_of(residents("grid_a1")[0])
    client = client_for("cdc_epi")
    url = f"/tracing/cases/{case.pk}/investigation/trajectory/"
    page = client.post(
        url, {"place_text": "老街饭店", "start": moment(5), "end": moment(6)}
    ).content.decode()
    assert 'id="error-end"' in page and "结束时间必须晚于开始时间" in page
    page = client.post(url, {"start": moment(6), "end": moment(5)}).content.decode()
    assert 'id="error-place_text"' in page and "请选择场所或填写地点" in page

    place = Place.objects.visible_to(users["street_a"]).first()
    assert (
        client.post(url, {"place": place.pk, "start": moment(6), "end": moment(5)}).status_code
        == 302
    )
    investigation = Investigation.objects.get(case=case)
    entry = investigation.trajectory.get()
    assert entry.place == place
    page = client.get(f"/tracing/cases/{case.pk}/investigation/").content.decode()
    assert place.name in page

    client.post(f"{url}{entry.pk}/delete/")
    assert not investigation.trajectory.exists()
    logged = history_of(entry).filter(region=case.region)
    assert sorted(logged.values_list("action", flat=True)) == ["create", "delete"]


def test_other_grid_cannot_reach_the_investigation(client_for, residents, case_of):
    case = case_of(residents("grid_a1")[0])
    url = f"/tracing/cases/{case.pk}/investigation/"
    assert client_for("grid_a1").get(url).status_code == 200
    other = client_for("grid_b1")
    assert other.get(url).status_code == 404
    assert other.post(url, investigation_data()).status_code == 404
    assert other.post(f"{url}complete/").status_code == 404
    assert other.get(f"/api/cases/{case.pk}/investigation").status_code == 404
    assert not Investigation.objects.filter(case=case).exists()


def test_viewer_without_edit_right_cannot_save(client_for, residents, case_of):
    case = case_of(residents("grid_a1")[0])
    url = f"/tracing/cases/{case.pk}/investigation/"
    viewer = client_for("commander")
    assert viewer.get(url).status_code == 200
    assert viewer.post(url, investigation_data()).status_code == 404


def test_api_investigation_put_complete_and_422(client_for, residents, case_of):
    first, second = residents("grid_a1")[:2]
    source, case = case_of(first), case_of(second)
    client = client_for("cdc_epi")
    url = f"/api/cases/{case.pk}/investigation"
    body = client.get(url).json()
    assert body["id"] is None and body["trajectory"] == []
    response = client.post(f"{url}/complete")
    assert response.status_code == 422
    assert response.json()["detail"][0]["msg"] == "请先填写并保存调查内容。"

    response = client.put(
        url,
        {"suspected_source_type": "case", "source_case": 999999},
        content_type="application/json",
    )
    assert response.status_code == 422
    error = response.json()["detail"][0]
    assert error["loc"] == ["body", "source_case"] and "不存在" in error["msg"]
    assert "msg_en" in error

    response = client.put(
        url,
        {"exposure_history": "聚餐", "suspected_source_type": "case", "source_case": source.pk},
        content_type="application/json",
    )
    assert response.status_code == 200
    assert response.json()["source_case"] == source.pk and response.json()["id"]
    done = client.post(f"{url}/complete").json()
    assert done["completed_at"] is not None
    assert deadlines.tasks_of(case, Duty.INVESTIGATE_CASE).get().status == Task.Status.DONE
