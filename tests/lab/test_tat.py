"""Turnaround: the figures per lab and purpose of a hand-made set of tubes, the list of
tubes waiting past (or close to) their due time, their exports and the periodic job."""

import io
import re
from datetime import date, datetime, time, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from openpyxl import load_workbook

from fangyi.core.models import AccessLog, Duty, Task
from fangyi.geo.models import Organisation
from fangyi.lab import services, tat
from fangyi.lab.models import Purpose
from fangyi.lab.tasks import open_late_result_tasks

DAY = date(2021, 3, 2)


@pytest.fixture
def test_lab(users) -> Organisation:
    """A lab of its own, so the demo's tubes stay out of the figures."""
    return Organisation.objects.create(
        name="时效测试检验所", type=Organisation.Type.LAB, region=users["lab_staff"].region
    )


def at(hour: float, day: date = DAY) -> datetime:
    return timezone.make_aware(datetime.combine(day, time())) + timedelta(hours=hour)


@pytest.fixture
def resulted(users, residents, test_lab, new_barcode):
    """resulted(purpose, received=hour, result=hour, collected=hour) → a tube of one person
    collected, received by the test lab and resulted at those hours of DAY."""
    people = iter(residents("street_a", 40))

    def make(purpose, *, result, received=None, collected=0.0, day=DAY):
        tube = services.collect_sample(
            users["clinician"],
            barcode=new_barcode("TAT"),
            purpose=purpose,
            persons=[next(people)],
            collected_at=at(collected, day),
            lab=test_lab,
        )
        if received is not None:
            services.receive_samples(None, test_lab, [tube.barcode], at=at(received, day))
        row = services.ResultRow(1, tube.barcode, "negative", at(result, day))
        assert services.store_results(None, test_lab, [row]).outcome == "saved"
        return tube

    return make


@pytest.fixture
def hand_made_set(resulted):
    # Fever clinic (limit 6 h from receipt): received at 1:00, results 2, 4, 5, 7, 10 h on.
    for hours in (2, 4, 5, 7, 10):
        resulted(Purpose.FEVER_CLINIC, received=1, result=1 + hours)
    # Outpatient (12 h): received at 0:00, results 11 and 13 h on.
    resulted(Purpose.OUTPATIENT, received=0, result=11)
    resulted(Purpose.OUTPATIENT, received=0, result=13)
    # Resulted outside the period: not counted.
    resulted(Purpose.FEVER_CLINIC, received=1, result=2, day=DAY + timedelta(days=10))


def test_turnaround_figures_of_a_hand_made_set(users, test_lab, hand_made_set):
    report = tat.turnaround(users["commander"], DAY, DAY + timedelta(days=6), test_lab)
    rows = {row.purpose: row for row in report.by_lab_purpose}
    fever, outpatient = rows[Purpose.FEVER_CLINIC], rows[Purpose.OUTPATIENT]
    assert (fever.count, fever.median_hours, fever.p90_hours) == (5, 5.0, 8.8)
    assert (fever.on_time, fever.limit_hours, fever.lab_name) == (3, 6, "时效测试检验所")
    assert (outpatient.count, outpatient.median_hours, outpatient.on_time) == (2, 12.0, 1)
    assert outpatient.limit_hours == 12
    (lab_row,) = report.by_lab
    assert (lab_row.count, lab_row.on_time, lab_row.median_hours) == (7, 4, 7.0)
    assert [row.purpose for row in report.by_purpose] == ["fever_clinic", "outpatient"]
    assert report.total.count == 7 and round(report.total.on_time_rate, 3) == 0.571


def row_of(page: str, table: str, purpose: str) -> str:
    body = page.split(f'id="{table}"')[1].split("</table>")[0]
    return re.search(rf'<tr data-lab="\d*" data-purpose="{purpose}">(.*?)</tr>', body, re.S)[1]


def test_turnaround_page_shows_the_figures_in_scope(client_for, test_lab, hand_made_set):
    query = {"start": "2021-03-01", "end": "2021-03-07", "lab": test_lab.pk}
    page = client_for("commander").get("/lab/tat/", query).content.decode()
    fever = row_of(page, "tat-lab-purpose", "fever_clinic")
    assert 'class="count">5<' in fever and 'class="median">5.0<' in fever
    assert 'class="p90">8.8<' in fever and "60%" in fever and "3/5" in fever
    # The tubes were collected for a county hospital: a grid worker sees none of them.
    page = client_for("grid_a1").get("/lab/tat/", query).content.decode()
    assert 'id="tat-empty"' in page


def test_turnaround_period_defaults_to_the_last_seven_days_and_is_checked(client_for):
    client = client_for("commander")
    page = client.get("/lab/tat/").content.decode()
    today = timezone.localdate()
    assert f"{today - timedelta(days=6):%Y-%m-%d} 至 {today:%Y-%m-%d}" in page
    page = client.get("/lab/tat/", {"start": "2021-03-09", "end": "2021-03-01"}).content
    assert "结束日期不能早于开始日期。" in page.decode()


def test_turnaround_export_is_logged(users, client_for, test_lab, hand_made_set):
    before = AccessLog.objects.filter(actor=users["lab_staff"]).count()
    query = {"start": "2021-03-01", "end": "2021-03-07", "lab": test_lab.pk}
    response = client_for("lab_staff").get("/lab/tat/export.xlsx", query)
    rows = list(load_workbook(io.BytesIO(response.content)).active.iter_rows(values_only=True))
    assert ("时效测试检验所", "发热门诊", 5, 5.0, 8.8, 3, 0.6, 6) in rows
    assert AccessLog.objects.filter(actor=users["lab_staff"]).count() == before + 1
    assert client_for("commander").get("/lab/tat/export.xlsx").status_code == 404


@pytest.fixture
def waiting_tubes(users, residents, test_lab, collect):
    """Fever-clinic tubes (due 6 h after collection) sent to the test lab."""
    people = iter(residents("street_a", 40))

    def make(hours_ago):
        return collect([next(people)], hours_ago=hours_ago, lab=test_lab)

    late = make(8)  # 2 h past its due time
    soon = make(5.5)  # due in half an hour
    make(1)  # due in 5 hours
    done = make(8)
    row = services.ResultRow(1, done.barcode, "negative", timezone.now())
    services.store_results(None, test_lab, [row])
    return late, soon


def test_late_list_shows_exactly_the_late_tubes_and_those_due_soon(
    client_for, test_lab, waiting_tubes
):
    late, soon = waiting_tubes
    page = client_for("lab_staff").get("/lab/late/", {"lab": test_lab.pk}).content.decode()
    assert set(re.findall(r'<tr id="late-([A-Z0-9]+)"', page)) == {late.barcode, soon.barcode}
    assert f'<tr id="late-{soon.barcode}" class="due-soon">' in page
    assert f'<tr id="late-{late.barcode}" class="late">' in page
    assert "超时 2.0 小时" in page
    groups = page.split('id="late-groups"')[1].split("</table>")[0]
    assert 'class="late"><mark>1</mark>' in groups and 'class="soon">1<' in groups


def test_late_list_is_scoped_and_its_queries_do_not_grow_with_rows(
    client_for, test_lab, waiting_tubes, residents, collect
):
    client = client_for("lab_staff")
    with CaptureQueriesContext(connection) as few:
        client.get("/lab/late/", {"lab": test_lab.pk})
    for person in residents("street_b", 5):
        collect([person], hours_ago=9, lab=test_lab)
    with CaptureQueriesContext(connection) as more:
        page = client.get("/lab/late/", {"lab": test_lab.pk}).content.decode()
    assert page.count('<tr id="late-') == 7
    assert len(more) == len(few)
    page = client_for("street_b").get("/lab/late/").content.decode()
    assert waiting_tubes[0].barcode not in page


def test_late_export_lists_the_tubes_and_is_logged(users, client_for, test_lab, waiting_tubes):
    late, soon = waiting_tubes
    response = client_for("lab_staff").get("/lab/late/export.xlsx", {"lab": test_lab.pk})
    rows = list(load_workbook(io.BytesIO(response.content)).active.iter_rows(values_only=True))
    assert rows[0][:2] == ("条码", "检测目的")
    assert {row[0] for row in rows[1:] if row and row[0] and row[0].startswith("T")} == {
        late.barcode,
        soon.barcode,
    }
    log = AccessLog.objects.filter(actor=users["lab_staff"]).latest("pk")
    assert log.detail == {"rows": 2, "filters": {"lab": test_lab.pk, "purpose": ""}}


def test_late_export_beyond_the_limit_is_refused(settings, client_for, test_lab, waiting_tubes):
    settings.EXPORT_MAX_ROWS = 1
    response = client_for("lab_staff").get("/lab/late/export.xlsx", {"lab": test_lab.pk})
    assert response.status_code == 302 and response["Location"].startswith("/lab/late/")


def test_periodic_job_gives_late_tubes_a_duty_once(test_lab, waiting_tubes):
    late, soon = waiting_tubes
    open_late_result_tasks.call_local()
    open_late_result_tasks.call_local()
    duties = Task.objects.filter(duty=Duty.RESULT_SAMPLE, object_id__in=[late.pk, soon.pk])
    assert list(duties.values_list("object_id", flat=True)) == [late.pk]
