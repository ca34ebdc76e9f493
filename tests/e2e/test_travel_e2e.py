"""A person arriving from a medium-risk area scans their community's QR code, reports on a
phone-sized page and gets a receipt; the grid worker then finds the arrival in their list,
classified into home health monitoring.

The risk list is published in the server's own database (a `fangyi shell` run with the
server's environment). The arithmetic challenge is answered the way the page checks it: its
answer is read from the server's cache with the page's own signed challenge id; nothing is
exposed over HTTP for the test."""

import json
import secrets
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from tests.builders import resident_id
from tests.e2e.conftest import PHONE, problems_of, run_in_server

pytestmark = pytest.mark.e2e

ARRANGE = """
import json
from datetime import timedelta
from django.utils import timezone
from fangyi.accounts.models import User
from fangyi.travel import matching, selfreport

epidemiologist = User.objects.get(username="cdc_epi")
matching.publish(
    epidemiologist,
    title="端到端测试名单",
    effective_from=timezone.localdate() - timedelta(days=30),
    entries=[matching.AreaEntry(line=1, text="湖南省长沙市岳麓区", level="medium")],
)
grid = User.objects.get(username="grid_a1").region
print(json.dumps({"url": selfreport.community_path(grid.parent), "grid": grid.name}))
"""

ANSWER = """
from django.core.cache import cache
from fangyi.travel import selfreport
print(cache.get(selfreport.captcha_key(selfreport.read_challenge({challenge!r}))))
"""


def test_a_person_self_reports_on_a_phone_and_the_grid_sees_the_arrival(browser, login, e2e_server):
    arranged = json.loads(run_in_server(e2e_server, ARRANGE))
    context = browser.new_context(base_url=e2e_server.url, viewport=PHONE, locale="zh-CN")
    context.set_default_timeout(10_000)
    person = context.new_page()
    person.goto(arranged["url"])
    expect(person.get_by_role("heading", name="来返人员报备")).to_be_visible()

    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()  # the server's day
    name = f"端到端{secrets.choice('甲乙丙丁戊')}"
    person.locator("#id_name").fill(name)
    person.locator("#id_id_number").fill(resident_id(sequence=f"{secrets.randbelow(900) + 100}"))
    person.locator("#id_phone").fill("13912345678")
    person.locator("#id_origin").fill("湖南省长沙市岳麓区橘子洲街道")
    person.locator("#id_stay_from").fill((today - timedelta(days=9)).isoformat())
    person.locator("#id_departure_date").fill((today - timedelta(days=1)).isoformat())
    person.locator("#id_arrival_date").fill(today.isoformat())
    person.locator("#id_transport").select_option(label="火车/高铁")
    person.locator("#id_transport_number").fill("G1346")
    person.locator("#id_destination").fill("柳溪村3组8号")
    person.locator("#id_grid").select_option(label=arranged["grid"])
    person.locator("#id_temperature").fill("36.4")
    challenge = person.locator("input[name=challenge]").get_attribute("value")
    person.locator("#id_captcha").fill(
        run_in_server(e2e_server, ANSWER.format(challenge=challenge))
    )
    width = person.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the form is {width}px wide on a 375px phone"
    person.get_by_role("button", name="提交报备").click()

    expect(person.get_by_role("heading", name="报备已提交")).to_be_visible()
    code = person.locator("#receipt-code").inner_text()
    assert len(code) == 10
    expect(person.locator("#outcome")).to_have_text("居家健康监测")
    expect(person.locator("#advice")).to_contain_text("居家健康监测14天")
    expect(person.locator("main")).not_to_contain_text(name)

    grid_worker = login("grid_a1")
    grid_worker.goto("/travel/arrivals/")
    row = grid_worker.locator("#arrivals tbody tr", has_text=name)
    expect(row).to_have_count(1)
    expect(row.locator("td.level")).to_have_text("中风险（管控区）")
    expect(row.locator("td.status")).to_have_text("居家健康监测")
    expect(row).to_contain_text(arranged["grid"])
    expect(row).to_contain_text("本人扫码报备")
    assert problems_of(grid_worker) == []
    context.close()
