"""The surveillance dashboards in a browser at phone width: every chart is drawn (ECharts
canvas), no script error, no script refused by the Content-Security-Policy."""

import json

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import problems_of, run_in_server

pytestmark = pytest.mark.e2e

ARRANGE = """
import json
from datetime import datetime, time, timedelta
from django.utils import timezone
from fangyi.cases.models import CaseReport
from fangyi.diseases.models import Disease
from fangyi.geo.models import Region
from fangyi.people.models import Person
from fangyi.surveillance.models import DailyCount, DetectorRule, DetectorRun, Signal

today = timezone.localdate()
tz = timezone.get_current_timezone()
person = Person.objects.filter(grid__isnull=False).order_by("id").first()
influenza = Disease.objects.get(code="influenza")
cards = []
for ago in range(40):
    day = today - timedelta(days=ago)
    for n in range(max(1, (40 - ago) // 3)):
        cards.append(CaseReport(
            person=person, disease=influenza, classification="confirmed", onset_date=day,
            diagnosed_at=datetime.combine(day, time(12), tz), region=person.grid,
            status=CaseReport.Status.REVIEWED,
        ))
CaseReport.objects.bulk_create(cards)
township = Region.objects.filter(level=Region.Level.TOWNSHIP).order_by("code").first()
counts = []
for ago in range(60):
    day = today - timedelta(days=ago)
    counts += [
        DailyCount(source="lab", topic="tested", region=township, day=day, count=200,
                   imported=True),
        DailyCount(source="lab", topic="positive", region=township, day=day, count=ago % 5,
                   imported=True),
        DailyCount(source="pharmacy", topic="antipyretic", region=township, day=day,
                   count=10 + ago % 7, imported=True),
    ]
DailyCount.objects.bulk_create(counts, ignore_conflicts=True)
rule = DetectorRule.objects.filter(source="pharmacy").first() or DetectorRule.objects.first()
run, _ = DetectorRun.objects.get_or_create(day=today, defaults={"started_at": timezone.now()})
Signal.objects.get_or_create(
    rule=rule, topic="antipyretic", region=township, day=today,
    defaults=dict(run=run, source="pharmacy", topic_label="退热药", method=rule.method,
                  observed=30),
)
print(json.dumps({"township": township.pk}))
"""


def test_every_dashboard_draws_its_charts_on_a_phone(login, e2e_server):
    arranged = json.loads(run_in_server(e2e_server, ARRANGE))
    phone = login("cdc_epi")
    pages = {
        "/surveillance/epicurve/?disease=influenza": ["#epicurve-chart", "#rt-chart"],
        "/surveillance/positivity/": ["#positivity-chart"],
        "/surveillance/trends/": ["#trend-pharmacy [data-chart]"],
        "/surveillance/signal-map/": ["#signal-heatmap"],
    }
    for url, charts in pages.items():
        phone.goto(url)
        for chart in charts:
            expect(phone.locator(f"{chart} canvas")).to_have_count(1)
    phone.goto("/surveillance/epicurve/?disease=influenza")
    expect(phone.locator("#rt-latest")).to_contain_text("Rt 最新估计")
    phone.goto("/surveillance/signal-map/")
    expect(
        phone.locator(f'#signal-townships tr[data-region="{arranged["township"]}"]')
    ).to_contain_text("1")
    phone.goto("/surveillance/assessment/")
    expect(phone.locator("#conclusion-form")).to_be_visible()
    assert problems_of(phone) == []
