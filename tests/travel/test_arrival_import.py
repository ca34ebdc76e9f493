"""Importing arrivals from a file: all rows or none, every bad row reported (line, column,
reason, on the page and as Excel), and an arrival already reported merged, not doubled."""

import csv
import io
from datetime import datetime, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import Workbook, load_workbook

from fangyi.geo.models import Region
from fangyi.travel import services
from fangyi.travel.arrival_forms import import_headings
from fangyi.travel.models import Arrival
from tests.builders import resident_id, with_wrong_check_digit

pytestmark = pytest.mark.django_db
URL = "/travel/arrivals/import/"


def row(grid, today, n, **overrides) -> dict:
    fields = {
        "姓名": f"导入{n}",
        "证件类型": "居民身份证",
        "证件号码": resident_id(sequence=f"{500 + n:03d}"),
        "联系电话": f"1381234{n:04d}",
        "来源地": "湖南省长沙市岳麓区",
        "在来源地起始日期": (today - timedelta(days=10)).isoformat(),
        "出发日期": (today - timedelta(days=1)).isoformat(),
        "抵达日期": (today - timedelta(days=1)).isoformat(),
        "交通方式": "高铁",
        "车次航班": f"G{n}",
        "目的地址": f"导入测试地址{n}号",
        "网格": grid.code,
        "核酸证明采样时间": "",
        "体温": "36.6",
        "备注": "",
    }
    return fields | overrides


def csv_file(rows: list[dict]) -> SimpleUploadedFile:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=import_headings())
    writer.writeheader()
    writer.writerows(rows)
    return SimpleUploadedFile("arrivals.csv", out.getvalue().encode("utf-8-sig"))


def imported() -> int:
    return Arrival.objects.filter(destination__startswith="导入测试地址").count()


def test_a_good_file_registers_every_row(client_for, grid, today, risk_list):
    rows = [row(grid, today, n) for n in range(1, 4)]
    rows[1]["网格"] = grid.full_name
    rows[2] |= {"来源地": "湖北省武汉市江汉区花楼街道", "核酸证明采样时间": "2020-01-01 08:00"}
    response = client_for("grid_a1").post(URL, {"file": csv_file(rows)})
    summary = response.context["summary"]
    assert (summary["rows"], summary["created"], summary["merged"]) == (3, 3, 0)
    arrivals = Arrival.objects.filter(destination__startswith="导入测试地址")
    assert {a.channel for a in arrivals} == {Arrival.Channel.IMPORT}
    assert {a.grid for a in arrivals} == {grid}
    high = arrivals.get(destination="导入测试地址3号")
    assert high.origin_level == "high" and high.certificate_missing
    assert arrivals.get(destination="导入测试地址1号").transport == "train"


def test_one_bad_row_stores_nothing_and_every_bad_row_is_reported(client_for, grid, today, users):
    rows = [row(grid, today, n) for n in range(1, 6)]
    rows[1]["证件号码"] = with_wrong_check_digit(rows[1]["证件号码"])  # line 3
    rows[2]["网格"] = users["grid_b1"].region.code  # line 4: outside the jurisdiction
    rows[3] |= {"出发日期": today.isoformat(), "抵达日期": "不知道", "交通方式": "骑马"}  # line 5
    client = client_for("grid_a1")
    response = client.post(URL, {"file": csv_file(rows)})
    assert imported() == 0
    problems = {(p["line"], p["column"]) for p in response.context["problems"]}
    assert problems == {(3, "证件号码"), (4, "网格"), (5, "抵达日期"), (5, "交通方式")}
    page = response.content.decode()
    assert "校验位不正确" in page and "有 3 行未通过检查" in page

    report = client.get("/travel/arrivals/import/report.xlsx")
    sheet = load_workbook(io.BytesIO(report.content)).active
    lines = [r[0] for r in sheet.iter_rows(min_row=2, values_only=True) if isinstance(r[0], int)]
    assert sorted(lines) == [3, 4, 5, 5]


def test_a_row_the_service_refuses_rolls_back_the_whole_file(client_for, grid, today):
    too_early = (today + timedelta(days=5)).isoformat()
    rows = [row(grid, today, 1), row(grid, today, 2, 出发日期=too_early, 抵达日期=too_early)]
    response = client_for("grid_a1").post(URL, {"file": csv_file(rows)})
    assert imported() == 0
    assert [p["line"] for p in response.context["problems"]] == [3]
    assert "最多可提前 3 天" in response.content.decode()


def test_an_arrival_already_reported_is_merged(client_for, grid, today, arrival_data, risk_list):
    first = row(grid, today, 1)
    data = arrival_data(
        grid,
        origin="湖南省长沙市岳麓区",
        id_type="resident_id",
        id_number=first["证件号码"],
        destination="导入测试地址1号",
        transport_number="",
    )
    earlier, _ = services.register_arrival(None, data, channel="self")
    response = client_for("grid_a1").post(URL, {"file": csv_file([first, row(grid, today, 2)])})
    assert response.context["summary"]["merged"] == 1
    earlier.refresh_from_db()
    assert earlier.reports == 2 and earlier.channels == ["self", "import"]
    assert earlier.transport_number == "G1"  # filled in from the file
    assert imported() == 2


def test_the_same_person_twice_in_a_file_is_one_arrival(client_for, grid, today, risk_list):
    rows = [row(grid, today, 1), row(grid, today, 1)]
    response = client_for("grid_a1").post(URL, {"file": csv_file(rows)})
    assert response.context["summary"]["merged"] == 1 and imported() == 1


def test_an_excel_file_with_date_cells(client_for, grid, today, risk_list):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(import_headings())
    values = row(grid, today, 1)
    for name in ("在来源地起始日期", "出发日期", "抵达日期"):
        day = datetime.fromisoformat(values[name])
        values[name] = day
    sheet.append([values[h] for h in import_headings()])
    out = io.BytesIO()
    workbook.save(out)
    upload = SimpleUploadedFile("arrivals.xlsx", out.getvalue())
    response = client_for("grid_a1").post(URL, {"file": upload})
    assert response.context["summary"]["created"] == 1


def test_a_file_without_the_required_columns_is_refused(client_for):
    upload = SimpleUploadedFile("x.csv", "姓名,电话\n张三,13800000000\n".encode())
    response = client_for("grid_a1").post(URL, {"file": upload})
    assert "缺少必填列" in response.content.decode() and imported() == 0


def test_an_ambiguous_grid_name_is_refused(client_for, grid, today):
    village = grid.parent.parent.children.exclude(pk=grid.parent_id).first()
    Region.objects.create(
        code=f"{village.code}99", name=grid.name, level=Region.Level.GRID, parent=village
    )
    rows = [row(grid, today, 1, 网格=grid.name)]
    response = client_for("street_a").post(URL, {"file": csv_file(rows)})
    reasons = [p["reason"] for p in response.context["problems"]]
    assert reasons == ["有多个同名网格，请填写网格代码或全称。"]


def test_the_template_has_the_headings(client_for):
    response = client_for("grid_a1").get("/travel/arrivals/import/template.csv")
    assert response.content.decode("utf-8-sig").strip().split(",") == import_headings()


def test_a_hotel_imports_as_itself(client_for, users, grid, today, risk_list):
    client_for("hotel_clerk").post(URL, {"file": csv_file([row(grid, today, 1)])})
    arrival = Arrival.objects.get(destination="导入测试地址1号")
    assert arrival.channel == Arrival.Channel.HOTEL
    assert arrival.reporting_organisation == users["hotel_clerk"].organisation
