from datetime import timedelta

import pytest
from django.utils import timezone

from fangyi.cases.models import CaseReport, CaseRevision
from fangyi.core import deadlines
from fangyi.core.models import ChangeLog, Duty, Task
from fangyi.diseases.models import Disease
from tests.builders import report_case


def card(person, disease="covid19", **overrides):
    diagnosed = timezone.localtime(timezone.now() - timedelta(hours=2))
    data = {
        "person": person.pk,
        "disease": disease,
        "classification": "confirmed",
        "onset_date": (diagnosed - timedelta(days=2)).date().isoformat(),
        "diagnosed_at": diagnosed.strftime("%Y-%m-%dT%H:%M"),
        "occupation": "农民",
    }
    return data | overrides


def task(case, duty) -> Task:
    return deadlines.tasks_of(case, duty).get()


def test_catalogue_follows_the_2025_law(db):
    statutory = Disease.objects.filter(parent__isnull=True, legal_class__in=["A", "B", "C"])
    counts = {c: statutory.filter(legal_class=c).count() for c in "ABC"}
    assert counts == {"A": 2, "B": 27, "C": 11}
    urgent = {d.code for d in Disease.objects.all() if d.is_urgent}
    assert {"plague", "cholera", "sars", "pulmonary_anthrax"} <= urgent
    assert Disease.objects.get(code="sars").report_within_hours == 2
    assert Disease.objects.get(code="influenza").report_within_hours == 24
    covid = Disease.objects.get(code="covid19")
    assert covid.history[0]["from"] == "2020-01-20" and covid.history[0]["managed_as_class_a"]
    assert Disease.objects.filter(code="other_infectious").exists()


def test_catalogue_edits_are_audited(client_for):
    disease = Disease.objects.get(code="dengue")
    client_for("county_admin").post(
        f"/admin/diseases/disease/{disease.pk}/change/",
        {
            "code": "dengue",
            "name": "登革热",
            "name_en": "Dengue",
            "legal_class": "B",
            "report_within_hours": 12,
            "kind": "disease",
            "allowed_classifications": '["confirmed"]',
            "history": "[]",
            "is_active": "on",
            "sort_order": 1,
        },
    )
    entry = ChangeLog.objects.get(object_id=str(disease.pk))
    assert entry.changes["report_within_hours"] == ["24", "12"]


def test_clinician_reports_and_deadlines_follow_the_card(users, client_for, person_of):
    person = person_of("street_a")
    response = client_for("clinician").post("/cases/new/", card(person) | {"submit": "1"})
    case = CaseReport.objects.get(person=person)
    assert response.status_code == 302 and case.status == "submitted"
    report = task(case, Duty.REPORT_CASE)
    assert report.status == "done" and report.due_at == case.diagnosed_at + timedelta(hours=24)
    review = task(case, Duty.REVIEW_CASE)
    assert review.status == "open" and review.due_at == case.submitted_at + timedelta(hours=24)
    assert task(case, Duty.INVESTIGATE_CASE).status == "open"

    client_for("cdc_reviewer").post(f"/cases/{case.pk}/review/")
    case.refresh_from_db()
    assert case.status == "reviewed" and case.reviewed_by == users["cdc_reviewer"]
    assert task(case, Duty.REVIEW_CASE).status == "done"


def test_class_a_cards_get_two_hours(users, person_of):
    case = report_case(users["clinician"], person_of("street_a"), "plague")
    assert task(case, Duty.REPORT_CASE).due_at == case.diagnosed_at + timedelta(hours=2)
    assert task(case, Duty.REVIEW_CASE).due_at == case.submitted_at + timedelta(hours=2)


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"onset_date": "2099-01-01"}, "onset_date", "发病日期不能晚于诊断时间"),
        ({"death_date": "2000-01-01"}, "death_date", "死亡日期不能早于发病日期"),
        ({"diagnosed_at": "2099-01-01T10:00"}, "diagnosed_at", "诊断时间不能晚于现在"),
        ({"disease": "gonorrhoea", "classification": "suspected"}, "classification", "不使用"),
    ],
)
def test_bad_cards_are_refused_in_chinese(client_for, person_of, overrides, field, message):
    person = person_of("street_a")
    page = client_for("clinician").post("/cases/new/", card(person, **overrides) | {"submit": "1"})
    content = page.content.decode()
    assert f'id="error-{field}"' in content and message in content
    assert not CaseReport.objects.filter(person=person).exists()


def test_duplicate_asks_the_reporter_and_can_link(users, client_for, person_of):
    person = person_of("street_a")
    earlier = report_case(users["clinician"], person)
    client = client_for("clinician")
    page = client.post("/cases/new/", card(person) | {"submit": "1"}).content.decode()
    assert "疑似重复报告" in page and f"/cases/{earlier.pk}/" in page
    draft = CaseReport.objects.exclude(pk=earlier.pk).get(person=person)
    assert draft.status == "draft"
    client.post(f"/cases/{draft.pk}/submit/", {"duplicate": "link", "earlier": earlier.pk})
    draft.refresh_from_db()
    assert draft.status == "deleted" and draft.duplicate_of == earlier
    assert str(earlier.pk) in draft.deleted_reason


def test_duplicate_confirmed_as_a_new_case(users, client_for, person_of):
    person = person_of("street_a")
    earlier = report_case(users["clinician"], person)
    client = client_for("clinician")
    client.post("/cases/new/", card(person) | {"submit": "1"})
    draft = CaseReport.objects.exclude(pk=earlier.pk).get(person=person)
    client.post(f"/cases/{draft.pk}/submit/", {"duplicate": "new", "earlier": earlier.pk})
    draft.refresh_from_db()
    assert draft.status == "submitted" and draft.duplicate_of is None


def test_revision_keeps_the_old_version(users, client_for, person_of):
    case = report_case(users["clinician"], person_of("street_a"), classification="suspected")
    assert not deadlines.tasks_of(case, Duty.INVESTIGATE_CASE).exists()
    client = client_for("cdc_reviewer")
    form = card(case.person, classification="confirmed") | {"reason": "核酸阳性"}
    assert client.post(f"/cases/{case.pk}/edit/", form).status_code == 302
    case.refresh_from_db()
    revision = CaseRevision.objects.get(case=case)
    assert (case.version, revision.version) == (2, 1)
    assert revision.snapshot["classification"] == "疑似病例" and revision.reason == "核酸阳性"
    assert task(case, Duty.INVESTIGATE_CASE).status == "open"
    page = client.post(f"/cases/{case.pk}/edit/", card(case.person)).content.decode()
    assert "订正需要填写原因" in page


def test_deletion_needs_a_reason_and_cancels_deadlines(users, client_for, person_of):
    case = report_case(users["clinician"], person_of("street_a"))
    client = client_for("cdc_reviewer")
    client.post(f"/cases/{case.pk}/delete/", {"reason": " "})
    case.refresh_from_db()
    assert case.status == "submitted"
    client.post(f"/cases/{case.pk}/delete/", {"reason": "误报"})
    case.refresh_from_db()
    assert case.status == "deleted" and case.deleted_reason == "误报"
    assert not deadlines.tasks_of(case).filter(status="open").exists()
    assert ChangeLog.objects.filter(object_id=str(case.pk), action="delete", reason="误报").exists()
    assert case.pk not in [c.pk for c in client.get("/cases/").context["page"]]


def test_cases_are_scoped(users, client_for, person_of):
    case = report_case(users["clinician"], person_of("street_a"))
    other = client_for("street_b")
    assert other.get(f"/cases/{case.pk}/").status_code == 404
    assert other.get(f"/api/cases/{case.pk}").status_code == 404
    assert case.pk not in {c["id"] for c in other.get("/api/cases").json()["items"]}
    assert f"/cases/{case.pk}/" not in other.get("/cases/").content.decode()
    mine = client_for("street_a")
    assert f"/cases/{case.pk}/" in mine.get("/cases/").content.decode()
    assert mine.get("/cases/export.xlsx").status_code == 200


def test_review_queue_lists_submitted_cards_for_reviewers_only(users, client_for, person_of):
    case = report_case(users["clinician"], person_of("street_a"))
    assert f"/cases/{case.pk}/" in client_for("cdc_reviewer").get("/cases/review/").content.decode()
    assert client_for("grid_a1").get("/cases/review/").status_code == 404


def test_api_reports_with_bilingual_errors_and_duplicate_conflict(users, client_for, person_of):
    person = person_of("street_a")
    client = client_for("clinician")
    payload = {
        "person": person.pk,
        "disease": "covid19",
        "classification": "confirmed",
        "diagnosed_at": (timezone.now() - timedelta(hours=1)).isoformat(),
        "submit": True,
    }
    bad = client.post(
        "/api/cases", payload | {"onset_date": "2099-01-01"}, content_type="application/json"
    )
    assert bad.status_code == 422
    error = bad.json()["detail"][0]
    assert error["loc"] == ["body", "onset_date"] and "发病日期" in error["msg"]
    created = client.post("/api/cases", payload, content_type="application/json")
    assert created.status_code == 201 and created.json()["status"] == "submitted"
    again = client.post("/api/cases", payload, content_type="application/json")
    assert again.status_code == 409 and again.json()["earlier_case"] == created.json()["id"]
    reviewed = client_for("cdc_reviewer").post(f"/api/cases/{created.json()['id']}/review")
    assert reviewed.json()["status"] == "reviewed"


def test_only_epidemiologists_investigate_and_clinicians_do_not_trace(users, client_for, person_of):
    case = report_case(users["clinician"], person_of("grid_a1"))
    url = f"/api/cases/{case.pk}/investigation/complete"
    assert client_for("clinician").post(url).status_code == 404
    assert client_for("grid_a1").post(url).status_code == 404
    assert (
        client_for("clinician").get(f"/tracing/cases/{case.pk}/contacts/import/").status_code == 404
    )
    assert client_for("cdc_epi").post(url).status_code != 404
