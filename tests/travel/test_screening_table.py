"""The arrivals screening table (外来返乡人员排查表) of seed 003, beside the measures' tables."""

import io
from decimal import Decimal

from openpyxl import load_workbook

from fangyi.core.models import AccessLog
from fangyi.travel import services, tables
from tests.builders import resident_id


def cell(table, row, column):
    return row.cells[[str(c) for c in table.columns].index(column)]


def test_rows_are_the_communitys_arrivals_within_14_days_masked(users, area, arrival_data, today):
    community, (grid, _), _ = area
    number = resident_id(sequence="555")
    recent, _ = services.register_arrival(
        None,
        arrival_data(
            grid,
            days_ago=2,
            id_type="resident_id",
            id_number=number,
            phone="13912345678",
            transport_number="G1234",
            temperature=Decimal("37.8"),
            symptoms=["cough"],
        ),
        channel="self",
    )
    services.register_arrival(None, arrival_data(grid, days_ago=13), channel="self")
    services.register_arrival(None, arrival_data(grid, days_ago=14), channel="self")  # over
    services.register_arrival(None, arrival_data(grid, days_ago=-1), channel="self")  # ahead
    elsewhere = users["grid_b1"].region
    services.register_arrival(None, arrival_data(elsewhere, days_ago=1), channel="self")

    table = tables.screening_table(users["street_a"], community, today)
    assert len(table.rows) == 2
    row = table.rows[1]
    assert cell(table, row, "姓名") == recent.person.name
    assert cell(table, row, "身份证号") == number[:6] + "********" + number[-4:]
    assert cell(table, row, "联系电话") == "139****5678"
    assert cell(table, row, "交通方式及车次") == "火车/高铁 G1234"
    assert cell(table, row, "旅居地风险等级") == "非风险地区"
    assert "37.8℃" in cell(table, row, "健康状况") and row.abnormal
    assert cell(table, row, "管控措施") == "查验健康码"
    assert table.unit == "测试社区居委会"
    assert "审核人（支部书记签字）" in table.footer
    # A grid worker elsewhere sees none of these rows.
    assert tables.screening_table(users["grid_b1"], community, today).rows == []


def test_page_and_excel_sit_with_the_measures_tables(
    users, area, arrival_data, today, client_for, django_assert_max_num_queries
):
    community, (grid, _), _ = area
    for days_ago in range(5):
        services.register_arrival(None, arrival_data(grid, days_ago=days_ago), channel="self")
    client = client_for("street_a")
    query = {"community": community.pk, "day": today.isoformat()}
    with django_assert_max_num_queries(20):
        page = client.get("/measures/tables/screening/", query)
    html = page.content.decode()
    assert page.status_code == 200 and "外来返乡人员排查表" in html and "盖章" in html
    index = client.get("/measures/tables/").content.decode()
    assert "/measures/tables/screening/" in index

    response = client.get("/measures/tables/screening.xlsx", query)
    rows = list(load_workbook(io.BytesIO(response.content)).active.iter_rows(values_only=True))
    assert rows[0][0].endswith("外来返乡人员排查表")
    assert rows[3][:3] == ("序号", "姓名", "性别")
    assert len([r for r in rows if isinstance(r[0], int)]) == 5
    assert AccessLog.objects.filter(actor=users["street_a"], action="export").exists()


def test_other_street_cannot_open_the_table(users, area, client_for, today):
    community = area[0]
    response = client_for("street_b").get(
        "/measures/tables/screening/", {"community": community.pk, "day": today.isoformat()}
    )
    assert 'id="daily-table"' not in response.content.decode()  # back to the index
    xlsx = client_for("street_b").get(
        "/measures/tables/screening.xlsx", {"community": community.pk}
    )
    assert xlsx.status_code == 404
