"""A spike in a township's fever-clinic rash counts (imported history) is detected when the
CDC epidemiologist runs the day from the runs page; they open the signal from the list on a
phone, verify it as a suspected event, start the field investigation and conclude it as a
confirmed event linked to a cluster; the list then shows 确认事件.

The history and the cluster are put in the server's own database (a `fangyi shell` run
with the server's environment)."""

import json

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import PHONE, problems_of, run_in_server

pytestmark = pytest.mark.e2e

ARRANGE = """
import json
from datetime import timedelta
import numpy as np
from django.utils import timezone
from fangyi.geo.models import Region
from fangyi.surveillance.models import DailyCount, Source
from fangyi.tracing.models import Cluster

township = Region.objects.filter(level=Region.Level.TOWNSHIP).order_by("code").first()
today = timezone.localdate()
values = np.random.default_rng(5).poisson(5, 60)
values[-1] = 60
DailyCount.objects.filter(source=Source.FEVER_CLINIC, topic="rash").delete()
DailyCount.objects.bulk_create(
    DailyCount(
        source=Source.FEVER_CLINIC,
        topic="rash",
        region=township,
        day=today - timedelta(days=59 - i),
        count=int(n),
        imported=True,
    )
    for i, n in enumerate(values)
    if n
)
cluster = Cluster.objects.create(name="端到端皮疹聚集", region=township)
print(json.dumps({"township": township.name, "cluster": cluster.name}))
"""


def test_an_epidemiologist_runs_the_day_and_answers_the_signal_on_a_phone(login, e2e_server):
    arranged = json.loads(run_in_server(e2e_server, ARRANGE))
    page = login("cdc_epi")

    page.goto("/surveillance/runs/")
    page.get_by_role("button", name="立即运行").click()
    expect(page.locator(".notice")).to_contain_text("新信号")

    page.goto("/surveillance/?status=open&source=fever_clinic")
    row = page.locator("#signals tbody tr", has_text=arranged["township"]).filter(has_text="皮疹")
    expect(row).to_have_count(1)
    expect(row.locator("td.status")).to_have_text("待核实")
    expect(row.locator("td.due")).to_contain_text("剩余")
    row.get_by_role("link", name="皮疹").click()

    expect(page.locator("#signal-status")).to_have_text("待核实")
    expect(page.locator("#signal-chart canvas")).to_have_count(1)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the signal page is {width}px wide on a 375px phone"

    page.get_by_label("疑似事件（开展现场调查）").check()
    page.locator("#id_notes").fill("电话联系发热门诊，皮疹患者集中在同一小学。")
    page.get_by_role("button", name="提交核实结果").click()
    expect(page.locator("#signal-status")).to_have_text("疑似事件")

    page.locator("#id_notes").fill("两人前往学校开展现场调查。")
    page.get_by_role("button", name="开始现场调查").click()
    expect(page.locator("#signal-status")).to_have_text("现场调查中")

    page.get_by_label("确认事件").check()
    page.locator("#id_notes").fill("确认为水痘聚集性疫情。")
    page.locator("#id_cluster").select_option(label=arranged["cluster"])
    page.get_by_role("button", name="提交调查结论").click()
    expect(page.locator("#signal-status")).to_have_text("确认事件")
    expect(page.locator("#cluster")).to_have_text(arranged["cluster"])
    expect(page.locator("#history")).to_contain_text("现场调查中")

    page.goto("/surveillance/?source=fever_clinic")
    row = page.locator("#signals tbody tr", has_text=arranged["township"]).filter(has_text="皮疹")
    expect(row.first.locator("td.status")).to_have_text("确认事件")
    assert problems_of(page) == []
