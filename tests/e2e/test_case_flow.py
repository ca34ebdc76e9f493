"""Report → review → contact tracing in the browser: a clinician reports a case, the CDC
reviewer reviews it, an epidemiologist registers a close contact, and the contact shows in
the contact list of the grid worker of the contact's grid and not in another grid's."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.e2e.conftest import api_get, problems_of

pytestmark = pytest.mark.e2e


def without_cases(tab, persons: list[dict]) -> list[dict]:
    reported = {c["person"] for c in api_get(tab, "cases", page_size=100)["items"]}
    return [p for p in persons if p["id"] not in reported]


def test_case_goes_from_report_to_review_to_contacts(login):
    grid_a = login("grid_a1")
    grid_b = login("grid_b1")
    residents = without_cases(grid_a, api_get(grid_a, "persons", page_size=100)["items"])
    patient, exposed = residents[0], residents[1]

    clinician = login("clinician")
    clinician.goto("/cases/new/")
    clinician.locator("#person-search").fill(patient["name"])
    clinician.locator(f"#person-results a[href$='?person={patient['id']}']").click()
    diagnosed = timezone.localtime(timezone.now() - timedelta(hours=3))
    clinician.locator("#id_disease").select_option("covid19")
    clinician.locator("#id_classification").select_option("confirmed")
    clinician.locator("#id_onset_date").fill((diagnosed - timedelta(days=1)).strftime("%Y-%m-%d"))
    clinician.locator("#id_diagnosed_at").fill(diagnosed.strftime("%Y-%m-%dT%H:%M"))
    clinician.get_by_role("button", name="提交报告").click()
    if clinician.get_by_text("疑似重复报告").count():
        clinician.get_by_role("button", name="不是重复：确认提交新报告卡").click()
    expect(clinician.locator("#case-status")).to_contain_text("待审核")
    case_url = clinician.url

    reviewer = login("cdc_reviewer")
    reviewer.goto("/cases/review/")
    row = reviewer.locator("#review-queue tr", has_text=patient["name"]).first
    row.get_by_role("button", name="审核通过").click()
    reviewer.goto(case_url)
    expect(reviewer.locator("#case-status")).to_contain_text("已审核")
    expect(reviewer.locator("#case-tasks")).to_contain_text("报告卡审核")

    epidemiologist = login("cdc_epi")
    epidemiologist.goto(case_url.replace("/cases/", "/tracing/cases/") + "contacts/")
    epidemiologist.locator("#person-search").fill(exposed["name"])
    epidemiologist.locator(f"#person-results a[href$='?person={exposed['id']}']").click()
    epidemiologist.locator("#id_setting").select_option("household")
    epidemiologist.locator("#id_relation").fill("邻居")
    exposure = timezone.localtime(timezone.now() - timedelta(days=1))
    epidemiologist.locator("#id_last_exposure_at").fill(exposure.strftime("%Y-%m-%dT%H:%M"))
    epidemiologist.get_by_role("button", name="登记", exact=True).click()
    expect(epidemiologist.locator("#case-contacts")).to_contain_text(exposed["name"])

    grid_a.goto("/tracing/contacts/")
    expect(grid_a.locator("#contacts")).to_contain_text(exposed["name"])
    contact_ids = {c["id"] for c in api_get(grid_a, "contacts")["items"]}
    assert contact_ids
    grid_b.goto("/tracing/contacts/")
    for contact_id in contact_ids:
        expect(grid_b.locator(f"#contact-{contact_id}")).to_have_count(0)
    assert not contact_ids & {c["id"] for c in api_get(grid_b, "contacts")["items"]}
    for tab in (clinician, reviewer, epidemiologist, grid_a, grid_b):
        assert problems_of(tab) == []
