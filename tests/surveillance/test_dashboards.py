"""The dashboards: the epidemic curve counts exactly the reported cards (by onset or report
date, by township), Rt and the doubling time are analytics' on the same incidence,
positivity with its Wilson interval, each source's trends, signals by township and day;
all behind VIEW_SURVEILLANCE and the jurisdiction."""

from datetime import datetime, time, timedelta

import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from fangyi.analytics import doubling_time, estimate_rt, positivity_rate
from fangyi.cases import services as case_services
from fangyi.cases.models import CaseReport
from fangyi.core import deadlines
from fangyi.core.models import Duty
from fangyi.diseases.models import Disease
from fangyi.surveillance import dashboards
from fangyi.surveillance.models import (
    DailyCount,
    DetectorRule,
    DetectorRun,
    SerialInterval,
    Signal,
    Source,
)
from tests.builders import report_case

pytestmark = pytest.mark.django_db

# Diseases the demo county never reports: the test's cards are all there is.
DISEASE = "measles"
NO_SERIAL_INTERVAL = "pertussis"


def at_noon(day):
    return datetime.combine(day, time(12), timezone.get_current_timezone())


def card(user, person, day_of_onset, day_of_report, classification="confirmed", **extra):
    return report_case(
        user,
        person,
        extra.pop("disease", DISEASE),
        classification=classification,
        onset_date=day_of_onset,
        diagnosed_at=at_noon(day_of_report),
        **extra,
    )


def bulk_cards(person, disease, counts_by_day):
    """Reported cards straight into the table (many at once, for Rt)."""
    disease = Disease.objects.get(code=disease)
    CaseReport.objects.bulk_create(
        CaseReport(
            person=person,
            disease=disease,
            classification="confirmed",
            onset_date=day,
            diagnosed_at=at_noon(day + timedelta(days=2)),
            region=person.grid,
            status=CaseReport.Status.REVIEWED,
        )
        for day, n in counts_by_day.items()
        for _ in range(int(n))
    )


def make_signal(
    region,
    day,
    status=Signal.Status.RAISED,
    *,
    source=Source.FEVER_CLINIC,
    topic="fever",
    single_case=False,
    merged_into=None,
    raised_at=None,
    verified_after=None,
):
    run, _ = DetectorRun.objects.get_or_create(day=day, defaults={"started_at": timezone.now()})
    rule = DetectorRule.objects.filter(single_case=single_case).order_by("id").first()
    raised_at = raised_at or at_noon(day)
    verified_at = raised_at + verified_after if verified_after else None
    signal = Signal.objects.create(
        run=run,
        rule=rule,
        source=source,
        topic=topic,
        topic_label="发热",
        region=region,
        day=day,
        method=rule.method,
        observed=9,
        status=status,
        merged_into=merged_into,
        raised_at=raised_at,
        verified_at=verified_at,
    )
    if merged_into is None:  # a repeat has no verification of its own
        deadlines.open_task(
            Duty.VERIFY_SIGNAL, signal, region=region, started_at=raised_at, urgent=single_case
        )
        if verified_at is not None:
            deadlines.close_task(signal, Duty.VERIFY_SIGNAL, done_at=verified_at)
    return signal


@pytest.fixture
def three_cards(users, residents, today):
    """Three reported cards of street_a's township, a draft and a deleted one."""
    epi = users["cdc_epi"]
    people = residents("street_a", 5)
    cards = [
        card(epi, people[0], today - timedelta(days=5), today - timedelta(days=3)),
        card(epi, people[1], today - timedelta(days=5), today - timedelta(days=2), "clinical"),
        card(epi, people[2], today - timedelta(days=4), today - timedelta(days=2)),
    ]
    card(epi, people[3], today - timedelta(days=4), today - timedelta(days=2), submit=False)
    deleted = card(epi, people[4], today - timedelta(days=4), today - timedelta(days=2))
    case_services.delete_case(epi, deleted, "重复录入")
    return cards


def test_curve_counts_reported_cards_by_onset_or_by_report_date(users, three_cards, today):
    measles = Disease.objects.get(code=DISEASE)
    start = today - timedelta(days=9)
    by_onset = dashboards.epicurve(users["cdc_epi"], measles, start=start, end=today)
    assert by_onset.total == 3
    assert by_onset.series["confirmed"][(today - timedelta(days=5) - start).days] == 1
    assert by_onset.series["confirmed"][(today - timedelta(days=4) - start).days] == 1
    assert by_onset.series["clinical"][(today - timedelta(days=5) - start).days] == 1
    assert list(by_onset.series) == ["clinical", "confirmed"]

    by_report = dashboards.epicurve(
        users["cdc_epi"], measles, start=start, end=today, by=dashboards.By.REPORT
    )
    assert by_report.total == 3
    assert by_report.series["confirmed"][(today - timedelta(days=3) - start).days] == 1
    assert by_report.series["confirmed"][(today - timedelta(days=2) - start).days] == 1
    assert by_report.series["clinical"][(today - timedelta(days=2) - start).days] == 1


def test_curve_page_and_api_filter_by_township(users, client_for, three_cards, townships):
    client = client_for("cdc_epi")
    street_a, street_b = users["street_a"].region, users["street_b"].region
    page = client.get("/surveillance/epicurve/", {"disease": DISEASE}).content.decode()
    assert "共 3 例" in page and 'id="epicurve-chart"' in page
    page = client.get("/surveillance/epicurve/", {"disease": DISEASE, "region": street_b.pk})
    assert "所选条件下没有病例" in page.content.decode()

    def total(**query):
        body = client.get("/api/surveillance/epicurve", {"disease": DISEASE, **query}).json()
        return sum(sum(series["data"]) for series in body["series"])

    assert total() == 3 and total(region=street_a.pk) == 3 and total(region=street_b.pk) == 0
    assert total(by="report") == 3


def test_curve_defaults_to_the_disease_most_reported_in_90_days(
    users, residents, client_for, today
):
    person = residents("street_a", 1)[0]
    long_ago = today - timedelta(days=120)
    bulk_cards(person, DISEASE, {long_ago: 5})
    bulk_cards(person, NO_SERIAL_INTERVAL, {today - timedelta(days=10): 2})
    assert dashboards.counted_cases(users["cdc_epi"]).count() == 7  # the world has none
    page = client_for("cdc_epi").get("/surveillance/epicurve/").content.decode()
    assert f'<option value="{NO_SERIAL_INTERVAL}" selected>' in page
    assert f'value="{(today - timedelta(days=59)).isoformat()}"' in page  # the default range


def test_pages_and_api_need_the_surveillance_capability(client_for):
    street = client_for("street_a")
    for url in [
        "/surveillance/epicurve/",
        "/surveillance/positivity/",
        "/surveillance/trends/",
        "/surveillance/signal-map/",
        "/api/surveillance/epicurve",
        "/api/surveillance/positivity",
    ]:
        assert street.get(url).status_code == 404, url


def test_a_region_out_of_the_list_is_refused(client_for, users):
    # A grid is not a township: not among the choices.
    grid = users["grid_a1"].region
    response = client_for("cdc_epi").get("/api/surveillance/epicurve", {"region": grid.pk})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "region"]


def test_rt_is_estimate_rt_on_the_daily_onset_incidence(users, residents, today, client_for):
    SerialInterval.objects.create(
        disease=Disease.objects.get(code=DISEASE), mean_days=6.5, sd_days=2.5
    )
    counts = [1, 0, 1, 2, 1, 2, 3, 2, 4, 3, 5, 4, 6, 5, 7, 8, 7, 9, 10, 9, 12, 11, 13, 14, 15]
    first = today - timedelta(days=len(counts) - 1)
    bulk_cards(
        residents("street_a", 1)[0],
        DISEASE,
        {first + timedelta(days=i): n for i, n in enumerate(counts)},
    )
    start = first + timedelta(days=10)  # the first days feed the infection pressure only
    curve = dashboards.epicurve(
        users["cdc_epi"], Disease.objects.get(code=DISEASE), start=start, end=today
    )

    expected = estimate_rt(counts, 6.5, 2.5, window=7)
    seen = np.cumsum(counts)
    windows = zip(expected.t_end, expected.mean, expected.q025, expected.q975, strict=True)
    wanted = [
        (first + timedelta(days=int(t) - 1), m, lo, hi)
        for t, m, lo, hi in windows
        if first + timedelta(days=int(t) - 1) >= start and np.isfinite(m) and seen[t - 1] >= 12
    ]
    got = [(p.t_end_day, p.mean, p.q025, p.q975) for p in curve.rt.points]
    assert [g[0] for g in got] == [w[0] for w in wanted] and got[-1][0] == today
    assert np.allclose([g[1:] for g in got], [w[1:] for w in wanted])
    assert curve.rt.latest.mean > 1

    growth = doubling_time(counts[-14:])
    assert curve.doubling.growing and curve.doubling.days == pytest.approx(growth.days)

    page = (
        client_for("cdc_epi")
        .get(
            "/surveillance/epicurve/",
            {
                "disease": DISEASE,
                "start": start.isoformat(),
            },
        )
        .content.decode()
    )
    latest = curve.rt.latest
    assert f"Rt 最新估计 {latest.mean:.2f}（95%CrI {latest.q025:.2f}–{latest.q975:.2f}）" in page
    assert "最近 14 天倍增时间" in page

    api = (
        client_for("cdc_epi")
        .get(
            "/api/surveillance/epicurve",
            {
                "disease": DISEASE,
                "from": start.isoformat(),
            },
        )
        .json()
    )
    assert api["rt"][-1]["t_end_day"] == today.isoformat()
    assert api["rt"][-1]["mean"] == pytest.approx(latest.mean)


def test_without_a_serial_interval_rt_is_not_drawn(users, residents, today, client_for):
    person = residents("street_a", 1)[0]
    card(users["cdc_epi"], person, today - timedelta(days=3), today, disease=NO_SERIAL_INTERVAL)
    page = client_for("cdc_epi").get("/surveillance/epicurve/", {"disease": NO_SERIAL_INTERVAL})
    content = page.content.decode()
    assert "未设置代际间隔，无法估计 Rt" in content and 'id="rt-chart"' not in content
    api = client_for("cdc_epi").get("/api/surveillance/epicurve", {"disease": NO_SERIAL_INTERVAL})
    assert api.json()["rt"] is None


def test_falling_counts_are_not_growing(users, residents, today):
    counts = [9, 8, 8, 7, 6, 6, 5, 4, 4, 3, 3, 2, 2, 1]
    first = today - timedelta(days=len(counts) - 1)
    bulk_cards(
        residents("street_a", 1)[0],
        DISEASE,
        {first + timedelta(days=i): n for i, n in enumerate(counts)},
    )
    curve = dashboards.epicurve(
        users["cdc_epi"], Disease.objects.get(code=DISEASE), start=first, end=today
    )
    assert curve.doubling.estimated and not curve.doubling.growing


def test_curve_queries_do_not_grow_with_the_cards(users, residents, today, client_for):
    client = client_for("cdc_epi")
    person = residents("street_a", 1)[0]

    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/surveillance/epicurve/", {"disease": DISEASE}).status_code == 200
        return len(captured)

    bulk_cards(person, DISEASE, {today - timedelta(days=3): 1})
    few = queries()
    bulk_cards(person, DISEASE, {today - timedelta(days=n): n for n in range(1, 40)})
    assert queries() == few


def test_positivity_by_day_and_township_with_wilson_intervals(
    users, history, townships, today, client_for
):
    first, second = townships[0], townships[1]
    history(Source.LAB, "tested", first, [100] * 10, today)
    history(Source.LAB, "positive", first, [0] * 9 + [5], today)
    history(Source.LAB, "tested", second, [50] * 10, today - timedelta(days=6))
    history(Source.LAB, "positive", second, [1] * 10, today - timedelta(days=6))

    figures = dashboards.positivity(users["cdc_epi"], start=today - timedelta(days=59), end=today)
    assert figures.period.tested == 1500 and figures.period.positive == 15
    assert figures.last_week.tested == 700 + 50 and figures.last_week.positive == 5 + 1
    expected = positivity_rate(5, 100)
    latest = figures.daily[-1]
    assert (latest.rate, latest.lower, latest.upper) == pytest.approx(
        (float(expected.rate), float(expected.lower), float(expected.upper))
    )
    assert figures.daily[0].rate is None  # nothing tested that day
    rows = {row.region_id: row for row in figures.townships}
    assert rows[first.pk].period.tested == 1000 and rows[first.pk].last_week.positive == 5
    assert rows[second.pk].period.positive == 10 and rows[second.pk].last_week.tested == 50

    client = client_for("cdc_epi")
    page = client.get("/surveillance/positivity/", {"region": first.pk}).content.decode()
    assert 'id="period-tested">1000<' in page and 'id="week-positive">5<' in page
    api = client.get("/api/surveillance/positivity", {"region": second.pk}).json()
    assert api["period"]["tested"] == 500 and api["period"]["positive"] == 10
    assert api["period"]["lower"] == pytest.approx(float(positivity_rate(10, 500).lower))


def test_trends_show_each_source_top_five_topics_and_its_signals(
    users, history, townships, today, client_for
):
    for rank, topic in enumerate(["antipyretic", "cough", "antidiarrhoeal", "antibiotic"]):
        history(Source.PHARMACY, topic, townships[0], [10 - rank] * 5, today)
    for rank, topic in enumerate(["fever", "respiratory", "diarrhoea", "rash", "other", "visits"]):
        history(Source.FEVER_CLINIC, topic, townships[0], [20 + rank] * 5, today)
    history(Source.FEVER_CLINIC, "fever", townships[0], [99], today - timedelta(days=120))
    make_signal(townships[0], today - timedelta(days=2))
    primary = make_signal(townships[0], today - timedelta(days=10))
    make_signal(townships[0], today - timedelta(days=9), merged_into=primary)

    figures = dashboards.trends(users["cdc_epi"], end=today)
    by_source = {trend.source: trend for trend in figures.sources}
    clinic = by_source[Source.FEVER_CLINIC]
    assert [topic for topic, _label, _data in clinic.topics] == [
        "visits",
        "other",
        "rash",
        "diarrhoea",
        "respiratory",
    ]
    assert clinic.total == (25 + 24 + 23 + 22 + 21) * 5  # the count of 120 days ago is out
    assert [day for day, _label in clinic.signal_days] == [
        today - timedelta(days=10),
        today - timedelta(days=2),
    ]
    assert len(by_source[Source.PHARMACY].topics) == 4
    assert by_source[Source.PHARMACY].topics[0][1] == "退热药"
    assert by_source[Source.SCHOOL_ABSENCE].topics == []
    assert len(figures.days) == dashboards.TREND_DAYS

    page = client_for("cdc_epi").get("/surveillance/trends/", {"region": townships[1].pk})
    assert "期间无数据" in page.content.decode() and 'data-series="fever_clinic"' not in (
        page.content.decode()
    )
    page = client_for("cdc_epi").get("/surveillance/trends/").content.decode()
    assert 'data-series="fever_clinic"' in page and "预警信号 2 条" in page


def test_signal_map_counts_primary_signals_by_township_and_day(
    users, clean_slate, townships, today, client_for
):
    first, second = townships[0], townships[1]
    day = today - timedelta(days=1)
    primary = make_signal(first, day)
    make_signal(first, day, Signal.Status.DISMISSED, topic="respiratory")
    make_signal(first, day, merged_into=primary, topic="rash")
    make_signal(second, today - timedelta(days=3), Signal.Status.CONFIRMED)
    make_signal(second, today - timedelta(days=40), Signal.Status.CONFIRMED)
    county = users["cdc_epi"].region
    make_signal(county, today, Signal.Status.SUSPECTED)

    figures = dashboards.signal_map(users["cdc_epi"], end=today)
    assert figures.cells == {
        (first.pk, day): 2,
        (second.pk, today - timedelta(days=3)): 1,
        (county.pk, today): 1,
    }
    rows = {row.region.pk: row for row in figures.rows}
    assert (rows[first.pk].open, rows[first.pk].dismissed, rows[first.pk].confirmed) == (1, 1, 0)
    assert (rows[second.pk].open, rows[second.pk].confirmed) == (0, 1)
    assert rows[county.pk].open == 1
    assert all(township.pk in rows for township in townships)
    chart = figures.chart()
    [(x, y, n)] = [cell for cell in chart["cells"] if cell[2] == 2]
    assert chart["days"][x] == day.isoformat() and chart["region_ids"][y] == first.pk

    page = client_for("cdc_epi").get("/surveillance/signal-map/").content.decode()
    assert 'id="signal-heatmap"' in page and f'data-region="{first.pk}"' in page


def test_daily_counts_of_other_jurisdictions_stay_out(users, history, townships, today):
    """A county user filtering on one township sees that township's counts only."""
    history(Source.LAB, "tested", townships[0], [10] * 3, today)
    history(Source.LAB, "tested", townships[1], [20] * 3, today)
    figures = dashboards.positivity(
        users["cdc_epi"], start=today - timedelta(days=6), end=today, region=townships[1]
    )
    assert figures.period.tested == 60
    assert DailyCount.objects.filter(source=Source.LAB).count() == 6
