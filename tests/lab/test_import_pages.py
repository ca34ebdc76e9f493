"""Importing a lab's result file from the pages: columns mapped once and remembered, the
outcome with its rejected rows and their report, GBK and Excel files; and (PostgreSQL)
two overlapping files imported at the same moment."""

import csv
import io
import threading
from datetime import datetime, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from openpyxl import Workbook, load_workbook

from fangyi.cases.models import CaseReport
from fangyi.core.models import Alert, ChangeLog, Task
from fangyi.core.tabular import heading
from fangyi.geo.models import Organisation
from fangyi.lab import imports, services
from fangyi.lab.models import ColumnMapping, Purpose, ResultImport, Sample

TEMPLATE = [
    "样本条码",
    "检测结果",
    "结果时间",
    "检测方法",
    "审核人",
    "ORF1ab Ct值",
    "N Ct值",
    "E Ct值",
]


@pytest.fixture(autouse=True)
def uploads(settings, tmp_path):
    """Files kept between the two steps go to a directory of the test's own."""
    settings.VAR_DIR = tmp_path
    return tmp_path / "uploads"


@pytest.fixture
def remembered(lab):
    """The lab's columns remembered as those of the import template."""
    columns = imports.guess_mapping([heading(h) for h in TEMPLATE])
    ColumnMapping.objects.update_or_create(lab=lab, defaults={"columns": columns})
    return columns


def when(hours_ago: float = 1) -> str:
    moment = timezone.localtime() - timedelta(hours=hours_ago)
    return moment.strftime("%Y-%m-%d %H:%M")


def line(tube, result="阴性", hours_ago=1, ct=""):
    return [tube.barcode, result, when(hours_ago), "荧光定量 PCR", "王审核", ct, "", ""]


def csv_upload(lines, headings=TEMPLATE, encoding="utf-8", name="结果.csv"):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(headings)
    writer.writerows(lines)
    return SimpleUploadedFile(name, buffer.getvalue().encode(encoding), content_type="text/csv")


def post_file(client, upload):
    return client.post("/lab/import/", {"file": upload})


def imported(response) -> ResultImport:
    assert response.status_code == 302, response.content.decode()[:2000]
    assert response["Location"].startswith("/lab/import/")
    return ResultImport.objects.get(pk=int(response["Location"].rstrip("/").split("/")[-1]))


def test_first_file_asks_for_columns_and_the_next_is_imported_at_once(
    client_for, lab, collect, free, uploads
):
    ColumnMapping.objects.filter(lab=lab).delete()
    client = client_for("lab_staff")
    first, second = (collect([p]) for p in free("grid_a1", 2))
    headings = ["管号", "检测结论", "报告日期时间", "ORF1ab基因"]

    response = post_file(client, csv_upload([[first.barcode, "阴性", when(), "33.1"]], headings))
    assert response.status_code == 302 and response["Location"] == "/lab/import/columns/"
    assert len(list(uploads.iterdir())) == 1
    page = client.get("/lab/import/columns/").content.decode()
    assert '<option value="管号">管号</option>' in page and "ORF1ab 基因 Ct 值" in page
    mapping = {
        "barcode": "管号",
        "result": "检测结论",
        "result_at": "报告日期时间",
        "ct_ORF1ab": "ORF1ab基因",
    }
    log = imported(client.post("/lab/import/columns/", mapping))
    assert (log.outcome, log.stored) == (ResultImport.Outcome.SAVED, 1)
    first.refresh_from_db()
    assert first.result == "negative" and first.ct_values == {"ORF1ab": 33.1}
    assert list(uploads.iterdir()) == []  # the kept file is gone once imported

    response = post_file(client, csv_upload([[second.barcode, "阳性", when(), ""]], headings))
    log = imported(response)
    assert log.stored == 1 and Sample.objects.get(pk=second.pk).result == "positive"
    page = client.get(response["Location"]).content.decode()
    assert "已导入：新入库 1 条" in page and 'id="count-positives">1<' in page


def test_one_heading_cannot_fill_two_fields(client_for, lab, collect, free):
    ColumnMapping.objects.filter(lab=lab).delete()
    client = client_for("lab_staff")
    tube = collect(free("grid_a1"))
    post_file(
        client, csv_upload([[tube.barcode, "阴性", when(), ""]], ["管号", "结论", "时间", "x"])
    )
    response = client.post(
        "/lab/import/columns/", {"barcode": "管号", "result": "管号", "result_at": "时间"}
    )
    assert response.status_code == 200
    assert "“管号”已对应“样本条码”，一列只能对应一个字段。" in response.content.decode()
    assert Sample.objects.get(pk=tube.pk).result is None


def test_the_same_file_again_changes_nothing(client_for, lab, remembered, collect, free):
    client = client_for("lab_staff")
    positive, negative = (collect([p]) for p in free("grid_a1", 2))
    lines = [line(positive, "阳性", ct="24.5"), line(negative)]
    first = imported(post_file(client, csv_upload(lines)))
    assert (first.stored, first.unchanged, first.positives) == (2, 0, 1)
    alerts, cases = Alert.objects.count(), CaseReport.objects.count()

    again = imported(post_file(client, csv_upload(lines)))
    assert (again.outcome, again.stored, again.unchanged, again.positives) == ("saved", 0, 2, 0)
    assert (Alert.objects.count(), CaseReport.objects.count()) == (alerts, cases)
    page = client.get(f"/lab/import/{again.pk}/").content.decode()
    assert "新入库 0 条，已有相同结果 2 条" in page


def test_one_bad_row_commits_nothing_and_the_report_names_it(
    client_for, lab, remembered, collect, free
):
    client = client_for("lab_staff")
    tubes = [collect([p]) for p in free("grid_a1", 2)]
    lines = [line(tubes[0]), line(tubes[1], result="阳x"), ["NOSUCH0042", "阴性", when()]]
    log = imported(post_file(client, csv_upload(lines)))
    assert (log.outcome, log.stored, log.rejected) == ("rejected", 0, 2)
    assert not Sample.objects.filter(pk__in=[t.pk for t in tubes], result__isnull=False).exists()

    page = client.get(f"/lab/import/{log.pk}/").content.decode()
    assert "有 2 行未通过检查，整个文件未导入" in page
    assert "第 3 行" in page and "结果应为阴性、阳性或无效" in page
    assert "第 4 行" in page and "条码不存在（未登记采样）" in page

    report = client.get(f"/lab/import/{log.pk}/report.xlsx")
    assert report.status_code == 200
    rows = list(load_workbook(io.BytesIO(report.content)).active.iter_rows(values_only=True))
    assert rows[:3] == [
        ("行号", "列", "原因"),
        (3, "检测结果", "结果应为阴性、阳性或无效"),
        (4, "样本条码", "条码不存在（未登记采样）"),
    ]


def test_rejected_rows_read_in_english_with_their_values(
    client_for, lab, remembered, collect, free
):
    client = client_for("lab_staff")
    tube = collect(free("grid_a1"))
    log = imported(post_file(client, csv_upload([line(tube), line(tube)])))
    assert log.outcome == "rejected"
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    page = client.get(f"/lab/import/{log.pk}/").content.decode()
    assert "Barcode repeats line 2" in page
    assert "条码与第" not in page


def test_gbk_csv_as_excel_saves_it_is_read(client_for, lab, remembered, collect, free):
    tube = collect(free("grid_a1"))
    upload = csv_upload([line(tube, "阴性")], encoding="gbk")
    log = imported(post_file(client_for("lab_staff"), upload))
    assert log.stored == 1
    tube.refresh_from_db()
    assert (tube.result, tube.reviewer, tube.method) == ("negative", "王审核", "rt_pcr")


def test_excel_file_with_date_cells_is_read(client_for, lab, remembered, collect, free):
    tube = collect(free("grid_a1"))
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(TEMPLATE)
    result_at = datetime.now().replace(microsecond=0, second=0) - timedelta(hours=1)
    sheet.append([tube.barcode, "阳性", result_at, "", "", 31.5, 30.2, None])
    buffer = io.BytesIO()
    workbook.save(buffer)
    upload = SimpleUploadedFile("结果.xlsx", buffer.getvalue())
    log = imported(post_file(client_for("lab_staff"), upload))
    assert (log.stored, log.positives) == (1, 1)
    tube.refresh_from_db()
    assert tube.ct_values == {"ORF1ab": 31.5, "N": 30.2}
    assert timezone.localtime(tube.result_at).replace(tzinfo=None) == result_at


def test_unreadable_file_is_refused_on_the_page(client_for, lab):
    upload = SimpleUploadedFile("结果.txt", b"barcode,result")
    response = post_file(client_for("lab_staff"), upload)
    assert response.status_code == 200
    assert "只支持 .xlsx 或 .csv 文件。" in response.content.decode()


def test_the_template_headings_are_recognised_without_asking(client_for):
    response = client_for("lab_staff").get("/lab/import/template.csv")
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff")
    headings = [heading(h) for h in text.lstrip("\ufeff").strip().split(",")]
    mapping = imports.guess_mapping(headings)
    assert set(mapping) == {*imports.FIELDS, *(f"ct:{gene}" for gene in imports.GENES)}


def test_only_lab_staff_import_in_their_labs_name(users, client_for, collect, free):
    tube = collect(free("grid_a1"))
    admin = client_for("county_admin")  # may record results, but works at the health bureau
    page = admin.get("/lab/import/").content.decode()
    assert 'id="not-a-lab"' in page and 'id="upload-form"' not in page
    admin.post("/lab/import/", {"file": csv_upload([line(tube)])})
    assert Sample.objects.get(pk=tube.pk).result is None
    assert client_for("grid_a1").get("/lab/import/").status_code == 404


def test_imports_are_seen_within_the_labs_jurisdiction_only(
    client_for, lab, remembered, collect, free
):
    tube = collect(free("grid_a1"))
    log = imported(post_file(client_for("lab_staff"), csv_upload([line(tube)])))
    assert client_for("commander").get(f"/lab/import/{log.pk}/").status_code == 200
    for outsider in ("street_a", "grid_a1"):
        client = client_for(outsider)
        assert client.get(f"/lab/import/{log.pk}/").status_code == 404
        assert client.get(f"/lab/import/{log.pk}/report.xlsx").status_code == 404


def test_history_lists_imports_in_a_fixed_number_of_queries(
    client_for, lab, remembered, collect, free
):
    client = client_for("lab_staff")
    people = free("grid_a1", 4)
    imported(post_file(client, csv_upload([line(collect([people[0]]))])))
    with CaptureQueriesContext(connection) as few:
        client.get("/lab/import/")
    for person in people[1:]:
        imported(post_file(client, csv_upload([line(collect([person]))])))
    with CaptureQueriesContext(connection) as more:
        page = client.get("/lab/import/").content.decode()
    assert page.count('<tr id="import-') >= 4
    assert len(more) == len(few)


# Two files at the same moment (PostgreSQL) ------------------------------------------------

postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SQLite serialises writers; the race is PostgreSQL's"
)


def in_threads(*functions):
    """Run the functions at the same moment, each in its own thread and connection; their
    results (or exceptions) in order."""
    start = threading.Barrier(len(functions))
    outcomes = [{} for _ in functions]

    def run(function, outcome):
        try:
            start.wait(5)
            outcome["value"] = function()
        except Exception as error:  # noqa: BLE001 - handed back to the test
            outcome["error"] = error
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=run, args=pair) for pair in zip(functions, outcomes, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for outcome in outcomes:
        if "error" in outcome:
            raise outcome["error"]
    return [outcome["value"] for outcome in outcomes]


def committed(function):
    return in_threads(function)[0]


@pytest.fixture
def race_lab(db, users, free):
    """A committed lab with six committed single tubes of persons free of cases; removed
    afterwards with everything their results set off."""
    people = free("street_b", 6)
    county = users["lab_staff"].organisation.region
    clinician = users["clinician"]
    marks = {
        model: (model.objects.order_by("-pk").values_list("pk", flat=True).first() or 0)
        for model in (Task, Alert, ChangeLog, CaseReport)
    }

    def arrange():
        lab = Organisation.objects.create(name="并发测试实验室", type="lab", region=county)
        tubes = [
            services.collect_sample(
                clinician,
                barcode=f"RACE{n:06d}",
                purpose=Purpose.FEVER_CLINIC,
                persons=[person],
                collected_at=timezone.now() - timedelta(hours=3),
                lab=lab,
            )
            for n, person in enumerate(people)
        ]
        return lab, tubes

    lab, tubes = committed(arrange)
    yield lab, tubes

    def clean_up():
        cases = CaseReport.objects.filter(pk__gt=marks[CaseReport], person__in=people)
        case_ids = list(cases.values_list("pk", flat=True))
        Sample.objects.filter(lab=lab).delete()
        ResultImport.objects.filter(lab=lab).delete()
        for model in (Alert, Task, ChangeLog):
            model.objects.filter(pk__gt=marks[model]).delete()
        cases.delete()
        assert not CaseReport.objects.filter(pk__in=case_ids).exists()
        lab.delete()

    committed(clean_up)


def import_lines(lab, lines, name):
    def run():
        return imports.import_file(None, lab, csv_upload(lines, name=name), IMPORT_MAPPING)

    return run


IMPORT_MAPPING = imports.guess_mapping([heading(h) for h in TEMPLATE])


@postgresql_only
def test_two_overlapping_files_with_the_same_results_both_save_once(race_lab):
    lab, tubes = race_lab
    results = ["阳性", "阴性", "阴性", "阳性", "阴性", "阴性"]
    lines = [line(tube, result) for tube, result in zip(tubes, results, strict=True)]
    first, second = in_threads(
        import_lines(lab, lines[:4], "a.csv"), import_lines(lab, lines[2:], "b.csv")
    )

    assert (first.outcome, second.outcome) == ("saved", "saved")
    assert first.stored + second.stored == 6 and first.unchanged + second.unchanged == 2
    assert first.positives + second.positives == 2
    stored = Sample.objects.filter(pk__in=[t.pk for t in tubes])
    assert list(stored.order_by("barcode").values_list("result", flat=True)) == [
        "positive",
        "negative",
        "negative",
        "positive",
        "negative",
        "negative",
    ]
    for tube in (tubes[0], tubes[3]):
        person = tube.examinees.get().person
        assert CaseReport.objects.filter(person=person).count() == 1


@postgresql_only
def test_two_overlapping_files_that_disagree_one_is_rejected_whole(race_lab):
    lab, tubes = race_lab
    first_lines = [line(t) for t in tubes[:4]]
    second_lines = [line(t) for t in tubes[2:]]
    second_lines[1] = line(tubes[3], "阳性")  # the first file says negative
    outcomes = in_threads(
        import_lines(lab, first_lines, "a.csv"), import_lines(lab, second_lines, "b.csv")
    )

    assert sorted(log.outcome for log in outcomes) == ["rejected", "saved"]
    saved = next(log for log in outcomes if log.outcome == "saved")
    rejected = next(log for log in outcomes if log.outcome == "rejected")
    conflict_line = 3 if rejected is outcomes[1] else 5  # tubes[3]'s line in that file
    assert [(p["line"], p["column"]) for p in rejected.problems] == [(conflict_line, "检测结果")]
    assert rejected.problems[0]["reason"].startswith("与已入库结果")
    assert saved.stored == 4
    resulted = Sample.objects.filter(pk__in=[t.pk for t in tubes], result__isnull=False)
    mine = {t.pk for t in (tubes[:4] if saved is outcomes[0] else tubes[2:])}
    assert set(resulted.values_list("pk", flat=True)) == mine
    assert not Sample.objects.filter(result_import=rejected).exists()
