"""The weekly risk assessment: the figures of a constructed week against the week before,
the conclusions (one per jurisdiction and week, changes audited, only with
MANAGE_SURVEILLANCE) and the PDF with the same figures."""

from datetime import timedelta

import pytest

from fangyi.cases.models import CaseReport
from fangyi.core.audit import history_of
from fangyi.core.models import ChangeLog
from fangyi.core.rules import RuleError
from fangyi.surveillance import assessment
from fangyi.surveillance.models import RiskAssessment, Signal, Source
from tests.surveillance.test_dashboards import card, make_signal

pytestmark = pytest.mark.django_db


@pytest.fixture
def week(today):
    return assessment.last_complete_week(today)


@pytest.fixture
def constructed_week(users, residents, history, townships, week):
    """Cards, counts and signals of the week (Monday `week`) and the week before."""
    epi = users["cdc_epi"]
    before = week - timedelta(days=7)
    people = residents("street_a", 6)
    card(epi, people[0], week, week + timedelta(days=1))
    card(epi, people[1], week, week + timedelta(days=6), death_date=week + timedelta(days=6))
    card(epi, people[2], before, before + timedelta(days=2))
    card(epi, people[3], week, week + timedelta(days=7))  # reported the Monday after
    card(epi, people[4], week, week + timedelta(days=2), disease="pertussis")
    card(epi, people[5], week, week + timedelta(days=3), submit=False)  # a draft

    township = townships[0]
    history(Source.PHARMACY, "antipyretic", township, [5] * 7, week + timedelta(days=6))
    history(Source.PHARMACY, "cough", township, [1] * 7, week + timedelta(days=6))
    history(Source.PHARMACY, "antipyretic", township, [2] * 7, week - timedelta(days=1))
    history(Source.FEVER_CLINIC, "visits", township, [10] * 7, week + timedelta(days=6))
    history(Source.FEVER_CLINIC, "fever", township, [6] * 7, week + timedelta(days=6))
    history(Source.LAB, "tested", township, [100] * 14, week + timedelta(days=6))
    history(Source.LAB, "positive", township, [0] * 7 + [1] * 7, week + timedelta(days=6))

    make_signal(township, week + timedelta(days=1))  # not verified
    quick = make_signal(
        township,
        week + timedelta(days=2),
        Signal.Status.DISMISSED,
        single_case=True,
        verified_after=timedelta(minutes=30),
    )
    make_signal(
        township,
        week + timedelta(days=3),
        Signal.Status.SUSPECTED,
        topic="respiratory",
        verified_after=timedelta(hours=30),
    )
    make_signal(township, week + timedelta(days=4), merged_into=quick, topic="rash")
    make_signal(township, before + timedelta(days=3), Signal.Status.CONFIRMED, topic="other")


@pytest.fixture
def no_world_cards(db):
    """The demo's cards out of the way, so the week's totals are the test's."""
    CaseReport.objects.update(status=CaseReport.Status.DELETED)


def test_the_figures_of_a_constructed_week(users, no_world_cards, constructed_week, week):
    figures = assessment.weekly_figures(users["cdc_epi"], week)
    rows = {row.disease.code: row for row in figures.diseases}
    assert set(rows) == {"measles", "pertussis"}
    assert (rows["measles"].cases.current, rows["measles"].cases.previous) == (2, 1)
    assert (rows["measles"].deaths.current, rows["measles"].deaths.previous) == (1, 0)
    assert rows["measles"].cases.percent == 100.0
    assert (figures.cases.current, figures.cases.previous) == (3, 1)
    assert figures.main_disease.code == "measles"
    assert figures.rt is None and not figures.has_serial_interval

    sources = {row.source: row.total for row in figures.sources}
    assert (sources[Source.PHARMACY].current, sources[Source.PHARMACY].previous) == (42, 14)
    assert sources[Source.FEVER_CLINIC].current == 70  # visits, not visits + syndromes
    assert sources[Source.LAB].current == 700 and sources[Source.SCHOOL_ABSENCE].current == 0
    assert (figures.tested.current, figures.positive.current) == (700, 7)
    assert (figures.tested.previous, figures.positive.previous) == (700, 0)
    assert figures.positivity.rate == pytest.approx(0.01)
    assert figures.previous_positivity.rate == 0

    assert len(figures.signals) == 3  # the merged repeat and last week's are left out
    status = {key: n for key, _label, n in figures.signal_status}
    assert status == {
        "raised": 1,
        "dismissed": 1,
        "suspected": 1,
        "investigating": 0,
        "confirmed": 0,
    }
    assert figures.verified == 2 and figures.verified_within_limit == 1
    assert figures.median_minutes == (30 + 30 * 60) / 2
    late = [row for row in figures.signals if row.within_limit is False]
    assert [row.signal.topic for row in late] == ["respiratory"]


def test_page_shows_the_figures_and_the_form_only_to_managers(
    client_for, no_world_cards, constructed_week, week
):
    page = client_for("cdc_epi").get("/surveillance/assessment/", {"week": week.isoformat()})
    content = page.content.decode()
    assert 'id="total-cases">3<' in content and 'id="status-dismissed">1<' in content
    assert 'id="conclusion-form"' in content
    viewer = client_for("commander")
    content = viewer.get("/surveillance/assessment/").content.decode()
    assert 'id="total-cases">3<' in content and 'id="conclusion-form"' not in content
    refused = viewer.post("/surveillance/assessment/", {"risk_level": "low", "conclusion": "x"})
    assert refused.status_code == 404 and not RiskAssessment.objects.exists()
    assert client_for("street_a").get("/surveillance/assessment/").status_code == 404


def test_saving_conclusions_twice_updates_one_row(users, client_for, week):
    client = client_for("cdc_epi")
    url = f"/surveillance/assessment/?week={(week + timedelta(days=3)).isoformat()}"
    first = {"risk_level": "medium", "conclusion": "流感样病例上升", "recommendations": ""}
    assert client.post(url, first).status_code == 302
    second = {**first, "risk_level": "high", "recommendations": "加强学校晨午检"}
    assert client.post(url, second).status_code == 302

    saved = RiskAssessment.objects.get()
    assert saved.week_start == week and saved.region == users["cdc_epi"].region
    assert (saved.risk_level, saved.recommendations) == ("high", "加强学校晨午检")
    changes = list(history_of(saved).order_by("id"))
    assert [c.action for c in changes] == [ChangeLog.Action.CREATE, ChangeLog.Action.UPDATE]
    assert set(changes[1].changes) == {"risk_level", "recommendations"}
    page = client.get(url).content.decode()
    assert "加强学校晨午检" in page and "更新研判结论" in page


def test_conclusions_need_a_monday_not_in_the_future(users, today):
    epi = users["cdc_epi"]
    monday = assessment.week_start_of(today)
    with pytest.raises(RuleError):
        assessment.save_conclusions(
            epi, epi.region, monday + timedelta(days=1), risk_level="low", conclusion="x"
        )
    with pytest.raises(RuleError):
        assessment.save_conclusions(
            epi, epi.region, monday + timedelta(days=7), risk_level="low", conclusion="x"
        )
    assessment.save_conclusions(epi, epi.region, monday, risk_level="low", conclusion="本周平稳")
    assert RiskAssessment.objects.filter(week_start=monday).count() == 1


def test_pdf_shows_the_same_figures(users, client_for, no_world_cards, constructed_week, week):
    epi = users["cdc_epi"]
    assessment.save_conclusions(
        epi, epi.region, week, risk_level="medium", conclusion="麻疹病例增加"
    )
    response = client_for("cdc_epi").get(
        "/surveillance/assessment/pdf/", {"week": week.isoformat()}
    )
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF") and len(response.content) > 5000
    figures = response.context["figures"]
    assert figures.cases.current == 3 and figures.verified_within_limit == 1
    assert response.context["assessment"].conclusion == "麻疹病例增加"
    assert "每周疫情分析研判报告" in response.templates[0].source
    assert client_for("street_a").get("/surveillance/assessment/pdf/").status_code == 404


def test_api_gives_the_same_figures(client_for, no_world_cards, constructed_week, week):
    body = client_for("cdc_epi").get("/api/surveillance/assessment", {"week": week}).json()
    assert body["week_start"] == week.isoformat()
    assert body["cases"] == {"current": 3, "previous": 1}
    assert body["signal_status"]["dismissed"] == 1 and body["verified_within_limit"] == 1
    assert body["tested"] == {"current": 700, "previous": 700} and body["conclusion"] is None
    assert client_for("street_a").get("/api/surveillance/assessment").status_code == 404
