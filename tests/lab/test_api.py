"""The labs' API: result batches (saved, rejected, posted again), tube registration and
look-up, with the scope and the rights of the pages."""

from datetime import timedelta

from django.utils import timezone

from fangyi.accounts.services import create_api_token
from fangyi.cases.models import CaseReport
from fangyi.core.models import Alert
from fangyi.lab.models import ResultImport, Sample
from fangyi.lab.services import problem_reason

RESULTS = "/api/lab/results"


def item(tube, result="negative", hours_ago=1, **extra):
    moment = timezone.localtime() - timedelta(hours=hours_ago)
    return {"barcode": tube.barcode, "result": result, "result_at": moment.isoformat(), **extra}


def post(client, items, **headers):
    return client.post(RESULTS, {"results": items}, content_type="application/json", **headers)


def test_a_batch_is_saved_with_its_ct_values(client_for, collect, free):
    tubes = [collect([p]) for p in free("grid_a1", 2)]
    items = [
        item(tubes[0], "negative", method="rt_pcr", reviewer="王审核"),
        item(tubes[1], "阴性", ct_values={"ORF1ab": 36.5, "N": "35.2"}),
    ]
    response = post(client_for("lab_staff"), items)
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["outcome"], body["stored"], body["unchanged"], body["rejected"]) == (
        "saved",
        2,
        0,
        [],
    )
    assert ResultImport.objects.get(pk=body["import_id"]).source == "api"
    first, second = (Sample.objects.get(pk=t.pk) for t in tubes)
    assert (first.result, first.method, first.reviewer) == ("negative", "rt_pcr", "王审核")
    assert second.ct_values == {"ORF1ab": 36.5, "N": 35.2}


def test_a_batch_with_bad_items_is_rejected_whole_with_each_reason(client_for, collect, free):
    tubes = [collect([p]) for p in free("grid_a1", 2)]
    items = [
        item(tubes[0]),
        item(tubes[1], "maybe"),
        {"barcode": "NOSUCH0077", "result": "negative", "result_at": "2022-13-40 08:00"},
    ]
    response = post(client_for("lab_staff"), items)
    assert response.status_code == 422
    body = response.json()
    assert (body["outcome"], body["stored"]) == ("rejected", 0)
    assert [(r["line"], r["column"], r["reason"]) for r in body["rejected"]] == [
        (2, "result", "结果应为阴性、阳性或无效"),
        (3, "result_at", "结果时间格式不正确（如 2022-04-01 08:30）"),
    ]
    assert all(r["reason_en"] for r in body["rejected"])
    assert not Sample.objects.filter(pk__in=[t.pk for t in tubes], result__isnull=False).exists()


def test_posting_again_changes_nothing_and_a_conflict_is_refused(client_for, collect, free):
    client = client_for("lab_staff")
    tube = collect(free("grid_a1"))
    alerts = Alert.objects.count()
    first = post(client, [item(tube, "positive", ct_values={"ORF1ab": 24})]).json()
    assert (first["stored"], first["positives"]) == (1, 1)
    assert CaseReport.objects.filter(person=tube.examinees.get().person).count() == 1
    raised = Alert.objects.count() - alerts

    again = post(client, [item(tube, "positive", ct_values={"ORF1ab": 24})])
    assert again.status_code == 200
    assert (again.json()["stored"], again.json()["unchanged"], again.json()["positives"]) == (
        0,
        1,
        0,
    )
    conflict = post(client, [item(tube, "negative")])
    assert conflict.status_code == 422
    (row,) = conflict.json()["rejected"]
    assert (row["line"], row["column"], row["reason"]) == (
        1,
        "result",
        "与已入库结果（阳性）不一致",
    )
    assert row["reason_en"] == "Conflicts with the stored result (Positive)"
    assert CaseReport.objects.filter(person=tube.examinees.get().person).count() == 1
    assert Alert.objects.count() - alerts == raised
    assert Sample.objects.get(pk=tube.pk).result == "positive"


def test_reasons_stored_in_chinese_only_are_translated_by_the_catalogue():
    """Imports stored before both languages were kept."""
    stored = {"line": 2, "column": "result", "reason": "结果应为阴性、阳性或无效"}
    assert problem_reason(stored, "en") == "The result must be negative, positive or invalid"
    assert problem_reason(stored, "zh-hans") == "结果应为阴性、阳性或无效"


def test_batches_are_limited_to_ten_thousand_items(client_for, collect, free):
    tube = collect(free("grid_a1"))
    response = post(client_for("lab_staff"), [item(tube)] * 10_001)
    assert response.status_code == 422
    assert Sample.objects.get(pk=tube.pk).result is None
    assert post(client_for("lab_staff"), []).status_code == 422


def test_only_a_labs_staff_may_post_results(users, client, client_for, collect, free):
    tube = collect(free("grid_a1"))
    assert post(client, [item(tube)]).status_code == 401
    assert post(client_for("grid_a1"), [item(tube)]).status_code == 404
    refused = post(client_for("county_admin"), [item(tube)])  # the health bureau, not a lab
    assert refused.status_code == 403
    assert "不是检测实验室" in refused.json()["detail"][0]["msg"]
    assert Sample.objects.get(pk=tube.pk).result is None


def test_a_labs_system_posts_with_its_token(users, client, collect, free):
    _, raw = create_api_token(users["lab_staff"], "LIS", created_by=users["lab_staff"])
    tube = collect(free("grid_a1"))
    response = post(client, [item(tube)], HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 200 and response.json()["stored"] == 1


# Tubes ------------------------------------------------------------------------------------


def register(client, **payload):
    return client.post("/api/lab/samples", payload, content_type="application/json")


def test_a_pooled_tube_is_registered_and_looked_up_with_masked_members(
    users, client_for, residents, new_barcode
):
    people = residents("grid_a1", 3)
    barcode = new_barcode("API")
    response = register(
        client_for("street_a"),
        barcode=barcode,
        purpose="mass_screening",
        pool_size=5,
        id_numbers=[p.id_number for p in people],
        lab_id=users["lab_staff"].organisation_id,
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["barcode"], body["pool_size"], body["lab"]) == (
        barcode,
        5,
        users["lab_staff"].organisation_id,
    )
    assert [m["person"] for m in body["members"]] == [p.pk for p in people]
    masked = [p.id_number_masked for p in people]
    assert [m["id_number"] for m in body["members"]] == masked
    assert all("*" in m["name"] and m["status"] == "pending" for m in body["members"])

    found = client_for("street_a").get(f"/api/lab/samples/{barcode.lower()}")
    assert found.status_code == 200 and found.json()["members"] == body["members"]
    assert client_for("commander").get(f"/api/lab/samples/{barcode}").status_code == 200
    for outsider in ("grid_b1", "street_b"):
        assert client_for(outsider).get(f"/api/lab/samples/{barcode}").status_code == 404


def test_tube_registration_errors_name_their_field(client_for, residents, new_barcode):
    client = client_for("grid_a1")
    person = residents("grid_a1", 1)[0]
    unknown = register(
        client,
        barcode=new_barcode("API"),
        purpose="fever_clinic",
        id_numbers=[person.id_number, "110101199003076515"],
        site_id=999999,
    )
    assert unknown.status_code == 422
    locations = [e["loc"] for e in unknown.json()["detail"]]
    assert locations == [["body", "id_numbers", 1], ["body", "site_id"]]

    barcode = new_barcode("API")
    first = register(client, barcode=barcode, purpose="fever_clinic", id_numbers=[person.id_number])
    assert first.status_code == 201
    used = register(client, barcode=barcode, purpose="fever_clinic", id_numbers=[person.id_number])
    assert used.status_code == 422
    (error,) = used.json()["detail"]
    assert (error["loc"], error["type"]) == (["body", "barcode"], "barcode_used")
    assert "已使用" in error["msg"] and error["msg_en"]
    assert Sample.objects.filter(barcode=barcode).count() == 1


def test_registering_tubes_needs_the_collect_right(client_for, residents, new_barcode):
    person = residents("grid_a1", 1)[0]
    response = register(
        client_for("commander"),
        barcode=new_barcode("API"),
        purpose="fever_clinic",
        id_numbers=[person.id_number],
    )
    assert response.status_code == 404
