import io
from datetime import datetime, timedelta

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from openpyxl import Workbook, load_workbook

from fangyi.core.models import AccessLog, Duty, Task
from fangyi.people.models import Person
from fangyi.tracing.models import Contact
from tests.builders import resident_id, with_wrong_check_digit

HEADER = "姓名,证件类型,证件号码,联系电话,所属网格代码,住址,关系,接触场景,末次接触时间"


def when(hours_ago: float) -> str:
    return (timezone.localtime() - timedelta(hours=hours_ago)).strftime("%Y-%m-%d %H:%M")


def csv_file(*lines: str, encoding="utf-8-sig") -> SimpleUploadedFile:
    text = "\n".join([HEADER, *lines]) + "\n"
    return SimpleUploadedFile("contacts.csv", text.encode(encoding), content_type="text/csv")


def upload(client, case, file, **fields):
    return client.post(
        f"/tracing/cases/{case.pk}/contacts/import/",
        {"file": file, "found_by": "investigation", **fields},
    )


def good_lines(users, known: Person) -> list[str]:
    grid = users["grid_a1"].region.code
    new_number = resident_id(birth="19651111", sequence="372")
    return [
        f"新密接甲,居民身份证,{new_number},13800001234,{grid},一组3号,邻居,家庭,{when(5)}",
        f"{known.name},,{known.id_number},,{grid},,同事,workplace,{when(8).replace('-', '/')}",
    ]


def test_a_file_with_bad_rows_saves_nothing_and_reports_every_bad_line(
    users, client_for, residents, case_of
):
    patient, known = residents("grid_a1")[:2]
    case = case_of(patient)
    grid = users["grid_a1"].region.code
    stranger = residents("grid_b1")[0]
    bad_number = with_wrong_check_digit(resident_id(sequence="555"))
    lines = [
        *good_lines(users, known),
        f"校验错,居民身份证,{bad_number},,{grid},,,家庭,{when(3)}",  # line 4
        f"未来人,,{resident_id(sequence='556')},,{grid},,,家庭,{when(-3)}",  # line 5
        f"场景错,,{resident_id(sequence='557')},,{grid},,,火星,{when(3)}",  # line 6
        f"网格错,,{resident_id(sequence='558')},,999999999999999,,,家庭,{when(3)}",  # line 7
        f"{stranger.name},,{stranger.id_number},,{grid},,,家庭,{when(3)}",  # line 8
        f"重复,,{resident_id(sequence='557')},,{grid},,,家庭,{when(3)}",  # line 9
        f"{patient.name},,{patient.id_number},,{grid},,,家庭,{when(3)}",  # line 10
    ]
    response = upload(client_for("grid_a1"), case, csv_file(*lines))
    page = response.content.decode()
    assert not Contact.objects.filter(case=case).exists()
    assert not Person.objects.filter(name="新密接甲").exists()
    rejected = response.context["result"].rejected
    reasons = {row.line: row.reason for row in rejected}
    assert sorted(reasons) == [4, 5, 6, 7, 8, 9, 10]
    assert "校验位不正确" in reasons[4]
    assert "末次接触时间" in reasons[5]
    assert "接触场景无法识别：火星" in reasons[6]
    assert "999999999999999" in reasons[7]
    assert "已在其他辖区登记" in reasons[8] and stranger.name not in page.split("rejected-rows")[0]
    assert "与第 6 行是同一人" in reasons[9]
    assert "本人" in reasons[10]
    assert 'id="line-4"' in page and "整个文件未导入" in page


def test_checking_a_file_takes_the_same_queries_for_3_rows_or_30(
    users, client_for, residents, case_of
):
    case = case_of(residents("grid_a1")[0])
    grid = users["grid_a1"].region.code
    client = client_for("grid_a1")

    def queries(count: int) -> int:
        lines = [
            f"人{n},,{resident_id(sequence=f'{n:03d}')},,{grid},,,火星,{when(3)}"
            for n in range(count)
        ]
        with CaptureQueriesContext(connection) as captured:
            result = upload(client, case, csv_file(*lines)).context["result"]
        assert len(result.rejected) == count
        return len(captured)

    assert queries(3) == queries(30)


def test_import_registers_new_and_known_persons_and_reimport_skips_them(
    users, client_for, residents, case_of
):
    patient, known = residents("grid_a1")[:2]
    case = case_of(patient)
    client = client_for("grid_a1")
    persons_before = Person.objects.count()

    response = upload(client, case, csv_file(*good_lines(users, known)))
    result = response.context["result"]
    assert result.saved and len(result.created) == 2 and result.new_persons == 1
    assert Person.objects.count() == persons_before + 1
    contacts = Contact.objects.filter(case=case).select_related("person")
    assert {c.person.name for c in contacts} == {"新密接甲", known.name}
    assert {c.setting for c in contacts} == {"household", "workplace"}
    assert (
        Task.objects.filter(
            duty=Duty.CONTROL_CONTACT, object_id__in=[c.pk for c in contacts], status="open"
        ).count()
        == 2
    )
    assert "新登记密接 2 人" in response.content.decode()

    # GBK, as Excel saves CSV in China: the same rows again change nothing.
    again = upload(client, case, csv_file(*good_lines(users, known), encoding="gb18030"))
    result = again.context["result"]
    assert result.saved and not result.created and result.new_persons == 0
    assert [row.line for row in result.existing] == [2, 3]
    assert "已存在" in again.content.decode()
    assert Contact.objects.filter(case=case).count() == 2
    assert Person.objects.count() == persons_before + 1


def test_children_without_id_sharing_a_phone_are_matched_on_reimport(
    users, client_for, residents, case_of
):
    case = case_of(residents("grid_a1")[0])
    grid = users["grid_a1"].region.code
    text = "\n".join(
        [
            f"{HEADER},出生日期,性别",
            f"小明,无证件,,13900001111,{grid},,子女,家庭,{when(4)},2019-05-01,男",
            f"小红,无证件,,13900001111,{grid},,子女,家庭,{when(4)},2021-07-09,女",
        ]
    )
    client = client_for("grid_a1")
    first = upload(client, case, SimpleUploadedFile("kids.csv", text.encode()))
    assert len(first.context["result"].created) == 2
    again = upload(client, case, SimpleUploadedFile("kids.csv", text.encode()))
    assert len(again.context["result"].existing) == 2
    assert Person.objects.filter(name__in=["小明", "小红"]).count() == 2
    assert Person.objects.get(name="小红").sex == "female"


def test_xlsx_assistance_list_keeps_the_sender_and_flags_people_elsewhere(
    users, client_for, residents, case_of
):
    patient, known = residents("grid_a1")[:2]
    case = case_of(patient)
    workbook = Workbook()
    sheet = workbook.active
    sheet.append([*HEADER.split(","), "外地(需协查)地址"])
    exposed_at = datetime.now() - timedelta(hours=6)  # a spreadsheet holds naive local times
    sheet.append(
        [
            known.name,
            "居民身份证",
            known.id_number,
            None,
            None,
            None,
            None,
            "交通工具",
            exposed_at,
            "宁波市某区某路8号",
        ]
    )
    content = io.BytesIO()
    workbook.save(content)
    file = SimpleUploadedFile("list.xlsx", content.getvalue())

    client = client_for("cdc_epi")
    refused = upload(client, case, file, found_by="assistance")
    assert "请填写发来协查的地区或单位" in refused.content.decode()
    file.seek(0)
    response = upload(
        client, case, file, found_by="assistance", sending_jurisdiction="宁波市疾控中心"
    )
    assert response.context["result"].saved
    contact = Contact.objects.get(case=case)
    assert contact.found_by == "assistance" and contact.setting == "transport"
    assert contact.needs_assistance and contact.source_note == "宁波市某区某路8号"
    assert abs(contact.last_exposure_at - timezone.make_aware(exposed_at)) < timedelta(seconds=1)


def test_unreadable_files_are_refused_as_a_whole(client_for, residents, case_of):
    case = case_of(residents("grid_a1")[0])
    client = client_for("cdc_epi")
    page = upload(client, case, SimpleUploadedFile("x.txt", b"abc")).content.decode()
    assert "只支持 .xlsx 或 .csv 文件" in page
    headless = SimpleUploadedFile("x.csv", "姓名,电话\n张三,1\n".encode())
    assert "缺少必需的列" in upload(client, case, headless).content.decode()
    assert (
        "无法读取" in upload(client, case, SimpleUploadedFile("x.xlsx", b"no zip")).content.decode()
    )


def test_import_is_for_editors_within_scope(client_for, residents, case_of):
    case = case_of(residents("grid_a1")[0])
    assert (
        client_for("grid_b1").get(f"/tracing/cases/{case.pk}/contacts/import/").status_code == 404
    )
    assert (
        client_for("commander").get(f"/tracing/cases/{case.pk}/contacts/import/").status_code == 404
    )
    template = client_for("grid_a1").get("/tracing/contacts/import-template.xlsx")
    header = next(load_workbook(io.BytesIO(template.content)).active.iter_rows(values_only=True))
    assert list(header[:9]) == HEADER.split(",")


def test_assistance_export_needs_the_reveal_right_and_is_logged(
    users, client_for, residents, case_of, register
):
    patient, away, home = residents("grid_a1")[:3]
    case = case_of(patient)
    left = register(away, case=case, needs_assistance=True, source_note="上海市浦东新区某路1号")
    register(home, case=case)
    url = f"/tracing/cases/{case.pk}/contacts/assistance.xlsx"
    assert client_for("commander").get(url).status_code == 404  # may view, not reveal
    assert client_for("grid_b1").get(url).status_code == 404  # out of scope

    response = client_for("cdc_epi").get(url)
    rows = list(load_workbook(io.BytesIO(response.content)).active.iter_rows(values_only=True))
    names = [row[0] for row in rows[1:] if row and row[0] and row[0] != home.name]
    assert home.name not in [row[0] for row in rows]
    data = next(row for row in rows if row[0] == away.name)
    assert data[4] == away.id_number and data[5] == away.phone
    assert data[6] == "上海市浦东新区某路1号" and names[0] == away.name
    log = AccessLog.objects.filter(actor=users["cdc_epi"], action="export").latest("at")
    assert log.detail["revealed"] == ["id_number", "phone"]
    assert log.detail["contacts"] == [left.pk] and log.detail["case"] == case.pk
    assert away.id_number not in repr(log.detail) + log.object_repr
