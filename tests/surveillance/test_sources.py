"""The signal sources below the pages: a sale's validation, its fever buyer handed to the
grid and counted at once, the follow-up and the logged reveal, the all-or-nothing reading
of sales and history files, history re-imported, visits registering a new patient once, and
a school's day replaced."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from fangyi.core.deadlines import tasks_of
from fangyi.core.models import AccessLog, ChangeLog, Duty, Task
from fangyi.core.rules import RuleError
from fangyi.geo.models import Region
from fangyi.people.models import Person
from fangyi.surveillance import counts, sources
from fangyi.surveillance.models import (
    DailyCount,
    FeverClinicVisit,
    PharmacySale,
    SchoolAbsence,
    Source,
    Syndrome,
)
from fangyi.surveillance.source_forms import (
    SaleForm,
    VisitForm,
    grids_of,
    read_history,
    read_sales,
    register_visits,
)
from tests import builders

pytestmark = pytest.mark.django_db


def csv_upload(text: str, name: str = "file.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, ("\ufeff" + text).encode("utf-8"))


def sale(receipt="R1", buyer_id="", *, fever=True, **fields) -> sources.SaleRow:
    return sources.SaleRow(
        receipt=receipt,
        sold_at=fields.pop("sold_at", timezone.now() - timedelta(minutes=5)),
        buyer_name=fields.pop("buyer_name", "张三"),
        drug_category=fields.pop("drug_category", "antipyretic"),
        buyer_id_number=buyer_id or builders.resident_id(sequence="901"),
        buyer_phone="13912345678",
        temperature=Decimal("38.2") if fever else None,
        **fields,
    )


@pytest.fixture
def pharmacy(users):
    return users["pharmacy_clerk"].organisation


def test_fever_buyer_is_handed_to_their_grid_and_counted_at_once(users, pharmacy, person_of):
    buyer = person_of("grid_a1")
    township = counts.township_of(pharmacy.region)
    outcome = sources.record_sales(users["pharmacy_clerk"], pharmacy, [sale("R1", buyer.id_number)])
    assert (outcome.created, outcome.unchanged) == (1, 0)
    stored = PharmacySale.objects.get(pharmacy=pharmacy, receipt="R1")
    assert stored.has_fever and stored.person == buyer
    assert stored.follow_up_region == buyer.grid
    task = tasks_of(stored, Duty.FOLLOW_UP_BUYER).get()
    assert task.status == Task.Status.OPEN and task.region == buyer.grid
    count = DailyCount.objects.get(
        source=Source.PHARMACY, topic="antipyretic", region=township, day=stored.day, imported=False
    )
    assert count.count == 1
    again = sources.record_sales(users["pharmacy_clerk"], pharmacy, [sale("R1", buyer.id_number)])
    assert (again.created, again.unchanged) == (0, 1)
    assert PharmacySale.objects.filter(pharmacy=pharmacy).count() == 1


def test_following_up_closes_the_task_and_keeps_the_note(users, pharmacy, person_of):
    buyer = person_of("grid_a1")
    sources.record_sales(users["pharmacy_clerk"], pharmacy, [sale("R2", buyer.id_number)])
    stored = PharmacySale.objects.get(receipt="R2")
    sources.follow_up(users["grid_a1"], stored, "已电话联系，已到发热门诊就诊")
    assert tasks_of(stored, Duty.FOLLOW_UP_BUYER).get().status == Task.Status.DONE
    entry = ChangeLog.objects.get(object_id=str(stored.pk), changes__has_key="follow_up")
    assert entry.actor == users["grid_a1"]
    assert entry.changes["follow_up"][1] == "已电话联系，已到发热门诊就诊"
    with pytest.raises(RuleError):
        sources.follow_up(users["grid_a1"], stored, "再次")


def test_revealing_a_buyers_phone_is_logged(users, pharmacy):
    sources.record_sales(users["pharmacy_clerk"], pharmacy, [sale("R3")])
    stored = PharmacySale.objects.get(receipt="R3")
    revealed = sources.reveal_buyer(users["street_a"], stored)
    assert revealed == {"phone": "13912345678"}
    log = AccessLog.objects.get(actor=users["street_a"], object_id=str(stored.pk))
    assert log.action == AccessLog.Action.REVEAL and log.detail == {"fields": ["buyer_phone"]}
    assert "13912345678" not in log.object_repr


def sale_form(**values) -> SaleForm:
    data = {
        "buyer_name": "李四",
        "buyer_id_number": builders.resident_id(sequence="902"),
        "drug_category": "cough",
    } | values
    return SaleForm(data)


def test_sale_form_explains_each_mistake_in_chinese():
    form = sale_form(
        buyer_id_number=builders.with_wrong_check_digit(builders.resident_id()),
        buyer_phone="123",
        drug_category="vitamins",
        sold_at=(timezone.localtime() + timedelta(hours=2)).strftime("%Y-%m-%d %H:%M"),
        temperature="45",
    )
    assert not form.is_valid()
    assert "校验位不正确" in form.errors["buyer_id_number"][0]
    assert "电话号码无效" in form.errors["buyer_phone"][0]
    assert "药品类别无效" in form.errors["drug_category"][0]
    assert "不能晚于当前时间" in form.errors["sold_at"][0]
    assert "35.0–42.0" in form.errors["temperature"][0]


def test_a_page_sale_gets_a_receipt_and_the_time_of_entry():
    form = sale_form(buyer_id_number="e1234 5678")
    assert form.is_valid(), form.errors
    row = form.sale_row()
    assert row.receipt.startswith("W") and len(row.receipt) == 19
    assert abs(row.sold_at - timezone.now()) < timedelta(seconds=5)
    assert row.buyer_id_number == "E12345678" and row.quantity == 1
    other = sale_form()
    assert other.is_valid() and other.sale_row().receipt != row.receipt


def test_a_file_sale_must_give_its_receipt_and_time():
    form = SaleForm(
        {"buyer_name": "李四", "buyer_id_number": builders.resident_id(), "drug_category": "cough"},
        batch=True,
    )
    assert not form.is_valid()
    assert form.errors["receipt"] == ["请填写销售单号。"]
    assert form.errors["sold_at"] == ["请填写时间。"]


SALES_HEADINGS = "销售单号,销售时间,购药人姓名,证件号码,联系电话,药品类别,药品名称,数量,体温,症状\n"


def test_a_sales_file_is_read_whole_and_every_bad_row_reported():
    good = builders.resident_id(sequence="903")
    bad = builders.with_wrong_check_digit(good)
    text = (
        SALES_HEADINGS
        + f"A1,2022-03-01 08:30,王五,{good},13912340000,退热药,布洛芬,2,38.5,发热、干咳\n"
        + f"A2,2022-03-01 09:00,赵六,{bad},,止咳药,,1,,\n"
        + f"A3,2022/3/1 9:10,钱七,{good},,维生素,,0,,\n"
        + f"A1,2022-03-01 09:20,孙八,{good},,止泻药,,1,,\n"
    )
    reading = read_sales(csv_upload(text))
    problems = {(p["line"], p["column"]) for p in reading.problems}
    assert problems == {(3, "证件号码"), (4, "药品类别"), (4, "数量"), (5, "销售单号")}
    assert len(reading.rows) == 1
    row = reading.rows[0]
    assert row.drug_category == "antipyretic" and row.symptoms == ["fever", "dry_cough"]
    assert timezone.localtime(row.sold_at).strftime("%H:%M") == "08:30"


def test_a_sales_file_without_the_required_columns_is_refused():
    from fangyi.core.tabular import ImportFileError

    with pytest.raises(ImportFileError, match="缺少必填列：销售单号"):
        read_sales(csv_upload("购药人姓名,证件号码,药品类别,销售时间\n"))


HISTORY_HEADINGS = "来源,类别,区划代码,日期,数量\n"


def test_history_is_imported_and_a_second_import_replaces_its_counts(users, townships):
    code = townships[0].code
    text = (
        HISTORY_HEADINGS
        + f"药店购药登记,退热药,{code},2021-01-04,7\n"
        + f"fever_clinic,fever,{code},2021-01-04,3\n"
        + f"传染病报告,covid19,{code},2021-01-05,1\n"
    )
    reading = read_history(csv_upload(text), users["cdc_epi"])
    assert not reading.problems
    assert counts.import_history(reading.rows) == (3, 0)
    assert counts.import_history(reading.rows) == (0, 0)
    changed = read_history(
        csv_upload(HISTORY_HEADINGS + f"pharmacy,antipyretic,{code},2021-01-04,9\n"),
        users["cdc_epi"],
    )
    assert counts.import_history(changed.rows) == (0, 1)
    imported = DailyCount.objects.filter(imported=True, region=townships[0])
    assert dict(imported.values_list("topic", "count")) == {
        "antipyretic": 9,
        "fever": 3,
        "covid19": 1,
    }


def test_history_rows_out_of_scope_or_of_unknown_topics_are_refused(users):
    street_b = users["street_b"].region
    epi_a = users["street_a"]
    text = (
        HISTORY_HEADINGS
        + f"pharmacy,antipyretic,{street_b.code},2021-01-04,7\n"
        + f"pharmacy,fever,{epi_a.region.code},2021-01-04,7\n"
        + f"pharmacy,antipyretic,{epi_a.region.code},2021-01-04,-1\n"
        + f"pharmacy,antipyretic,{epi_a.region.code},2021-01-05,2\n"
        + f"药店购药登记,退热药,{epi_a.region.code},2021-01-05,3\n"
    )
    reading = read_history(csv_upload(text), epi_a)
    reasons = {p["line"]: p["reason"] for p in reading.problems}
    assert "不是您管辖范围内" in reasons[2]
    assert "类别与来源不符" in reasons[3]
    assert "不能为负数" in reasons[4]
    assert "与第 5 行" in reasons[6]


def test_a_batch_of_visits_registers_a_new_patient_once(users):
    clinician = users["clinician"]
    clinic = clinician.organisation
    grid = users["grid_a1"].region
    number = builders.resident_id(sequence="904")
    entries = []
    for n in (1, 2):
        form = VisitForm(
            {
                "id_number": number,
                "name": "周九",
                "address": "柳溪村1号",
                "grid": grid.pk,
                "temperature": "38.6",
                "symptoms": ["dry_cough"],
                "disposition": "home",
                "external_id": f"V{n}",
                "visited_at": timezone.localtime().strftime("%Y-%m-%d %H:%M"),
            },
            grids=grids_of(clinician),
            batch=True,
        )
        assert form.is_valid(), form.errors
        entries.append(form.visit_entry())
    outcome = register_visits(clinician, clinic, entries)
    assert outcome.created == 2
    person = Person.objects.get(name="周九")
    assert person.grid == grid and person.sex == "female"  # 17th digit even
    visits = FeverClinicVisit.objects.filter(person=person)
    assert {v.external_id for v in visits} == {"V1", "V2"}
    assert all(v.syndromes == ["fever", "respiratory"] for v in visits)
    assert all(v.region == counts.township_of(grid) for v in visits)


def test_a_visit_of_someone_registered_checks_the_name(users, person_of):
    patient = person_of("grid_b1")
    form = VisitForm(
        {"id_number": patient.id_number, "name": "不是本人", "disposition": "home"},
        grids=grids_of(users["clinician"]),
    )
    assert not form.is_valid()
    assert "姓名与该证件号码已登记的姓名不一致" in form.errors["name"][0]
    unknown = VisitForm(
        {"id_number": builders.resident_id(sequence="905"), "disposition": "home"},
        grids=grids_of(users["clinician"]),
    )
    assert not unknown.is_valid()
    assert set(unknown.errors) == {"name", "address", "grid"}


def test_a_schools_day_entered_again_replaces_its_counts(users, today):
    school = users["school_doctor"].organisation
    township = Region.objects.get(pk=counts.township_of(school.region).pk)
    rows = [sources.AbsenceRow(today, Syndrome.FEVER, 4, 300)]
    sources.record_absences(users["school_doctor"], school, rows)
    sources.record_absences(
        users["school_doctor"], school, [sources.AbsenceRow(today, Syndrome.FEVER, 2, 300)]
    )
    assert SchoolAbsence.objects.get(school=school, day=today).absent == 2
    count = DailyCount.objects.get(
        source=Source.SCHOOL_ABSENCE, topic="fever", region=township, day=today
    )
    assert count.count == 2
