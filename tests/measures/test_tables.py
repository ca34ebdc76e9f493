"""The daily tables of a community: health monitoring (健康监测表) and release (解除隔离表)."""

import io
from datetime import datetime, time, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from openpyxl import load_workbook

from fangyi.core.models import AccessLog
from fangyi.measures import services, tables
from fangyi.measures.models import Category
from fangyi.measures.services import CheckEntry
from fangyi.people.models import Person
from tests.measures.test_services import negative_all, place

YESTERDAY = timezone.localdate() - timedelta(days=1)


def at(day, hour, minute=0):
    return timezone.make_aware(datetime.combine(day, time(hour, minute)))


@pytest.fixture
def community(users):
    """The community (village) of grid_a1's grid, in street_a's township."""
    return users["grid_a1"].region.parent


def community_persons(community, count):
    persons = Person.objects.filter(grid__path__startswith=community.path).order_by("id")
    return list(persons[:count])


def row_of(table, name):
    return next(row for row in table.rows if row.cells[1] == name)


def cell(table, row, column):
    return row.cells[[str(c) for c in table.columns].index(column)]


def test_monitoring_table_splits_morning_and_afternoon_and_flags_the_abnormal(
    users, community, residents
):
    checked, short, boundary = residents("grid_a1", 3)
    start = YESTERDAY - timedelta(days=6)  # yesterday is day 7: the returnee's test day
    first, second, third = [
        place(users["grid_a1"], person, category=Category.RETURNEE, start_date=start)
        for person in (checked, short, boundary)
    ]
    services.record_checks(
        None,
        [
            CheckEntry(first, Decimal("36.5"), at(YESTERDAY, 8)),
            CheckEntry(first, Decimal("36.7"), at(YESTERDAY, 10)),
            CheckEntry(first, Decimal("36.6"), at(YESTERDAY, 15)),
            CheckEntry(first, Decimal("37.6"), at(YESTERDAY, 19), symptoms=["dry_cough"]),
            CheckEntry(second, Decimal("36.4"), at(YESTERDAY, 9)),
            CheckEntry(second, Decimal("38.0"), at(YESTERDAY - timedelta(days=1), 15)),
            CheckEntry(third, Decimal("36.8"), at(YESTERDAY, 11, 59)),
            CheckEntry(third, Decimal("36.9"), at(YESTERDAY, 12)),
        ],
        source="staff",
    )
    test = first.tests.get(due_date=YESTERDAY)
    services.record_test_result(None, test, result="negative", sampled_at=at(YESTERDAY, 10))

    table = tables.monitoring_table(users["street_a"], community, YESTERDAY)

    row = row_of(table, checked.name)
    assert cell(table, row, "上午体温") == "36.5"  # the first reading before noon
    assert cell(table, row, "下午体温") == "37.6"  # the last reading from noon
    assert cell(table, row, "症状") == "干咳"
    assert cell(table, row, "是否异常") == "是" and row.abnormal
    assert cell(table, row, "第几天") == "第7天"
    assert cell(table, row, "核酸检测（当日）") == f"{YESTERDAY:%m-%d}/阴性"
    assert cell(table, row, "联系电话") == checked.phone_masked
    row = row_of(table, short.name)
    assert (cell(table, row, "上午体温"), cell(table, row, "下午体温")) == ("36.4", "")
    assert cell(table, row, "是否异常") == "否" and not row.abnormal
    assert cell(table, row, "核酸检测（当日）") == f"{YESTERDAY:%m-%d}/待采样"
    assert cell(table, row, "备注") == "已测1次/应测2次"
    row = row_of(table, boundary.name)
    assert (cell(table, row, "上午体温"), cell(table, row, "下午体温")) == ("36.8", "36.9")
    assert table.title == f"{community.name} 返乡人员健康监测表"


def test_monitoring_table_holds_only_that_day_and_that_community(users, community, residents):
    home, later = residents("grid_a1", 2)
    elsewhere = residents("grid_b1", 1)[0]
    place(users["grid_a1"], home, category=Category.RETURNEE, start_date=YESTERDAY)
    place(users["grid_a1"], later, category=Category.RETURNEE)
    place(users["grid_b1"], elsewhere, category=Category.RETURNEE, start_date=YESTERDAY)

    names = [
        row.cells[1]
        for row in tables.monitoring_table(users["county_admin"], community, YESTERDAY).rows
    ]

    assert home.name in names and later.name not in names and elsewhere.name not in names


def test_release_table_lists_the_day_releases_and_the_home_phase_joins_monitoring(
    users, community, facility, residents
):
    person = residents("grid_a1", 1)[0]
    start = timezone.localdate() - timedelta(days=14)
    measure = place(users["cdc_epi"], person, facility=facility, start_date=start)
    negative_all(measure)
    services.release(users["facility_staff"], measure)
    today = timezone.localdate()

    released = tables.release_table(users["street_a"], community, today)
    row = row_of(released, person.name)
    assert cell(released, row, "身份证号") == person.id_number_masked
    assert cell(released, row, "管控类型") == "集中隔离医学观察"
    assert cell(released, row, "隔离地点") == f"{facility.name} 101房间"
    assert cell(released, row, "解除日期") == today.isoformat()
    assert cell(released, row, "管控天数") == 14
    assert cell(released, row, "核酸检测次数及结果") == "9次，均阴性"
    assert cell(released, row, "解除后措施") == "居家健康监测14天"
    assert not tables.release_table(users["street_a"], community, today - timedelta(days=1)).rows

    monitoring = tables.monitoring_table(users["street_a"], community, today)
    assert cell(monitoring, row_of(monitoring, person.name), "管控类型") == "居家健康监测"
    yesterday = tables.monitoring_table(users["street_a"], community, today - timedelta(days=1))
    assert cell(yesterday, row_of(yesterday, person.name), "管控类型") == "集中隔离医学观察"


def test_excel_has_the_heading_and_signature_lines_is_masked_and_logged(
    users, client_for, community
):
    person = community_persons(community, 1)[0]
    place(users["grid_a1"], person, category=Category.RETURNEE, start_date=YESTERDAY)

    response = client_for("street_a").get(
        "/measures/tables/monitoring.xlsx",
        {"community": community.pk, "day": YESTERDAY.isoformat()},
    )

    assert response.status_code == 200
    lines = [
        [value for value in row if value is not None]
        for row in load_workbook(io.BytesIO(response.content)).active.iter_rows(values_only=True)
    ]
    assert lines[0] == [f"{community.name} 返乡人员健康监测表"]
    assert lines[1] == [f"日期：{YESTERDAY.isoformat()}"]
    assert lines[2][0].startswith("填报单位：")
    assert lines[3][:5] == ["序号", "姓名", "性别", "年龄", "联系电话"]
    row = next(line for line in lines if person.name in line)
    assert person.phone_masked in row and person.phone not in row
    assert any(str(line[0]).startswith("填报人：") for line in lines if line)
    export = AccessLog.objects.get(actor=users["street_a"], action=AccessLog.Action.EXPORT)
    assert "健康监测表" in export.object_repr and export.detail["rows"] == 1


def test_communities_follow_the_jurisdiction(users, client_for, community):
    street_a = set(tables.communities_for(users["street_a"]))
    assert community in street_a
    assert all(c.path.startswith(users["street_a"].region.path) for c in street_a)
    assert list(tables.communities_for(users["grid_a1"])) == [community]

    client = client_for("street_b")
    query = {"community": community.pk, "day": YESTERDAY.isoformat()}
    assert client.get("/measures/tables/monitoring.xlsx", query).status_code == 404
    page = client.get("/measures/tables/monitoring/", query)
    assert page.status_code == 200 and "daily-table" not in page.content.decode()
    own = client_for("street_a").get("/measures/tables/monitoring/", query)
    assert "daily-table" in own.content.decode()
    assert client_for("lab_staff").get("/measures/tables/").status_code == 404


def test_tables_take_a_fixed_number_of_queries(users, client_for, community):
    persons = community_persons(community, 30)
    client = client_for("street_a")
    query = {"community": community.pk, "day": timezone.localdate().isoformat()}

    def arrange(batch):
        """Half under control with a check today, half released today."""
        for index, person in enumerate(batch):
            if index % 2:
                measure = place(users["grid_a1"], person, category=Category.RETURNEE)
                services.record_checks(
                    None, [CheckEntry(measure, Decimal("36.5"), timezone.now())], source="staff"
                )
            else:
                start = timezone.localdate() - timedelta(days=14)
                measure = place(
                    users["grid_a1"], person, category=Category.RETURNEE, start_date=start
                )
                negative_all(measure)
                services.release(None, measure)

    def queries(batch):
        counts = []
        for url in [
            "/measures/tables/monitoring/",
            "/measures/tables/release/",
            "/measures/tables/release.xlsx",
        ]:
            with CaptureQueriesContext(connection) as captured:
                response = client.get(url, query)
            counts.append(len(captured))
            if url.endswith("/"):  # the batch's last two: one under control, one released
                assert sum(p.name in response.content.decode() for p in batch[-2:]) == 1
        return counts

    arrange(persons[:10])
    few = queries(persons[:10])
    arrange(persons[10:])
    assert queries(persons[10:]) == few
