"""The pages of the signal sources as their users meet them: a pharmacy enters a buyer on
its phone and imports a file, the grid follows its fever buyers up, a clinic enters a
visit, a school its day, the CDC reads the lists and imports history; users without the
capability or out of scope get 404."""

import io
from datetime import datetime, time, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from openpyxl import load_workbook

from fangyi.accounts.models import Role, User
from fangyi.accounts.roles import RoleCode
from fangyi.core.deadlines import tasks_of
from fangyi.core.models import AccessLog, Duty, Task
from fangyi.people.models import Person
from fangyi.surveillance import sources
from fangyi.surveillance.models import (
    DailyCount,
    FeverClinicVisit,
    PharmacySale,
    SchoolAbsence,
    Source,
)
from tests import builders

pytestmark = pytest.mark.django_db


def upload(text: str, name="sales.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, ("\ufeff" + text).encode("utf-8"))


def sheet_rows(content: bytes) -> list[tuple]:
    return list(load_workbook(io.BytesIO(content)).active.iter_rows(values_only=True))


def enter_sale(client, **values):
    data = {
        "buyer_name": "王小明",
        "buyer_id_number": builders.resident_id(sequence="911"),
        "buyer_phone": "13912345678",
        "drug_category": "antipyretic",
        "quantity": "1",
    } | values
    return client.post("/surveillance/sales/new/", data, follow=True)


@pytest.fixture
def fever_buyer(users, person_of) -> PharmacySale:
    """A sale to a registered resident of grid_a1 with fever, as the pharmacy entered it."""
    buyer = person_of("grid_a1")
    row = sources.SaleRow(
        receipt="FB1",
        sold_at=timezone.now() - timedelta(minutes=30),
        buyer_name=buyer.name,
        drug_category="antipyretic",
        buyer_id_number=buyer.id_number,
        buyer_phone="13912345678",
        symptoms=["fever"],
    )
    pharmacy = users["pharmacy_clerk"].organisation
    sources.record_sales(users["pharmacy_clerk"], pharmacy, [row])
    return PharmacySale.objects.get(pharmacy=pharmacy, receipt="FB1")


# Pharmacy --------------------------------------------------------------------------------


def test_pharmacy_enters_a_fever_buyer_and_is_ready_for_the_next(users, client_for, today):
    client = client_for("pharmacy_clerk")
    page = client.get("/surveillance/sales/new/")
    assert page.status_code == 200 and 'name="buyer_id_number"' in page.content.decode()
    response = enter_sale(client, temperature="38.5")
    html = response.content.decode()
    assert response.redirect_chain[-1][0] == "/surveillance/sales/new/"
    assert "已登记：王*明" in html and "购药人发热，已推送至" in html
    sale = PharmacySale.objects.get(buyer_name="王小明")
    assert (
        sale.receipt.startswith("W")
        and sale.has_fever
        and sale.recorded_by.username == ("pharmacy_clerk")
    )
    assert 'value="王小明"' not in html  # the form is empty again
    assert (
        DailyCount.objects.get(
            source=Source.PHARMACY, topic="antipyretic", day=today, region=sale.region
        ).count
        == PharmacySale.objects.filter(
            region=sale.region, day=today, drug_category="antipyretic"
        ).count()
    )
    calm = enter_sale(client, buyer_name="李小红", drug_category="cough")
    assert "未发热，无需网格跟进" in calm.content.decode()


def test_pharmacy_page_shows_each_mistake_in_chinese(client_for):
    wrong = builders.with_wrong_check_digit(builders.resident_id())
    response = enter_sale(client_for("pharmacy_clerk"), buyer_id_number=wrong, buyer_name=" ")
    html = response.content.decode()
    assert "请更正下面标红的内容后再提交" in html
    assert "身份证号码校验位不正确" in html and "请填写购药人姓名" in html
    assert not PharmacySale.objects.filter(buyer_name__startswith="王").exists()


def test_pharmacy_list_masks_buyers_marks_late_reports_and_logs_its_export(
    users, client_for, django_assert_max_num_queries
):
    clerk = users["pharmacy_clerk"]
    yesterday = timezone.localdate() - timedelta(days=1)
    sold_at = timezone.make_aware(datetime.combine(yesterday, time(9)))
    for receipt, delay in (("L1", timedelta(hours=3)), ("L2", timedelta(minutes=30))):
        row = sources.SaleRow(receipt, sold_at, "欧阳娜娜", "cough")
        sources.record_sales(clerk, clerk.organisation, [row], now=sold_at + delay)
    client = client_for("pharmacy_clerk")
    day = {"day": yesterday.isoformat()}
    with django_assert_max_num_queries(12):
        html = client.get("/surveillance/sales/", day).content.decode()
    assert "欧**娜" in html and "欧阳娜娜" not in html
    rows = html.split('id="sale-')[1:]
    assert len(rows) == 2 and sum("迟报" in row for row in rows) == 1
    assert 'id="sale-' not in client.get("/surveillance/sales/").content.decode()
    exported = client.get("/surveillance/sales/", {**day, "format": "xlsx"})
    names = [row[5] for row in sheet_rows(exported.content)[1:3]]
    assert names == ["欧**娜", "欧**娜"]
    assert AccessLog.objects.filter(actor=clerk, action=AccessLog.Action.EXPORT).exists()


SALES_HEADINGS = "销售单号,销售时间,购药人姓名,证件号码,药品类别,体温\n"


def test_sales_import_stores_nothing_when_a_row_is_wrong_and_reports_it(users, client_for):
    client = client_for("pharmacy_clerk")
    good = builders.resident_id(sequence="912")
    text = (
        SALES_HEADINGS
        + f"I1,2022-03-01 08:30,王五,{good},退热药,38.5\n"
        + f"I2,2022-03-01 08:40,赵六,{good},维生素,\n"
    )
    html = client.post("/surveillance/sales/import/", {"file": upload(text)}).content.decode()
    assert "有 1 行未通过检查，整个文件未导入" in html and "药品类别无效" in html
    assert not PharmacySale.objects.filter(receipt__in=["I1", "I2"]).exists()
    report = sheet_rows(client.get("/surveillance/sales/import/report.xlsx").content)
    assert report[1][:2] == (3, "药品类别")

    fixed = text.replace("维生素", "止咳药")
    done = client.post("/surveillance/sales/import/", {"file": upload(fixed)}).content.decode()
    assert "新登记 2 条" in done
    again = client.post("/surveillance/sales/import/", {"file": upload(fixed)}).content.decode()
    assert "新登记 0 条，已登记过 2 条" in again
    assert PharmacySale.objects.filter(receipt__in=["I1", "I2"]).count() == 2
    template = client.get("/surveillance/sales/import/template.csv")
    assert template.content.decode("utf-8-sig").startswith("销售单号,销售时间,购药人姓名")


# Grid follow-up ----------------------------------------------------------------------------


def test_fever_buyer_is_listed_for_their_grid_only(fever_buyer, client_for):
    listed = client_for("grid_a1").get("/surveillance/fever-buyers/").content.decode()
    assert f'id="buyer-{fever_buyer.pk}"' in listed and "139****5678" in listed
    assert "13912345678" not in listed
    other = client_for("grid_b1").get("/surveillance/fever-buyers/").content.decode()
    assert f'id="buyer-{fever_buyer.pk}"' not in other
    street = client_for("street_a").get("/surveillance/fever-buyers/").content.decode()
    assert f'id="buyer-{fever_buyer.pk}"' in street


def test_revealing_the_buyers_phone_is_logged_and_out_of_scope_is_404(
    fever_buyer, users, client_for
):
    url = f"/surveillance/fever-buyers/{fever_buyer.pk}/reveal/"
    assert client_for("grid_b1").post(url).status_code == 404
    response = client_for("grid_a1").post(url)
    assert "13912345678" in response.content.decode()
    log = AccessLog.objects.get(action=AccessLog.Action.REVEAL, object_id=str(fever_buyer.pk))
    assert log.actor == users["grid_a1"] and log.region == fever_buyer.follow_up_region


def test_following_up_closes_the_task_and_leaves_the_pending_list(fever_buyer, client_for):
    client = client_for("grid_a1")
    url = f"/surveillance/fever-buyers/{fever_buyer.pk}/follow-up/"
    assert client_for("grid_b1").post(url, {"note": "x"}).status_code == 404
    empty = client.post(url, {"note": ""}, follow=True).content.decode()
    assert "请填写跟进情况" in empty
    assert tasks_of(fever_buyer, Duty.FOLLOW_UP_BUYER).get().status == Task.Status.OPEN
    done = client.post(url, {"note": "已引导至发热门诊"}, follow=True).content.decode()
    assert "已记录跟进" in done and f'id="buyer-{fever_buyer.pk}"' not in done
    assert tasks_of(fever_buyer, Duty.FOLLOW_UP_BUYER).get().status == Task.Status.DONE
    everything = client.get("/surveillance/fever-buyers/", {"show": "all"}).content.decode()
    assert "已跟进：已引导至发热门诊" in everything


# Fever clinics -----------------------------------------------------------------------------


def visit_data(**values) -> dict:
    return {
        "id_number": builders.resident_id(sequence="913"),
        "temperature": "38.9",
        "symptoms": ["dry_cough"],
        "history_asked": "on",
        "history": "无",
        "disposition": "observation",
    } | values


def test_clinic_registers_a_new_patient_with_the_visit(users, client_for):
    client = client_for("clinician")
    grid = users["grid_b1"].region
    missing = client.post("/surveillance/fever-visits/new/", visit_data()).content.decode()
    assert "该证件号码尚未登记，请填写姓名" in missing and "新登记的患者请选择所属网格" in missing
    response = client.post(
        "/surveillance/fever-visits/new/",
        visit_data(name="吴十", address="青石镇1号", grid=grid.pk, sample_barcode="S0001"),
        follow=True,
    )
    assert "已登记就诊：吴*（新登记人员）" in response.content.decode()
    visit = FeverClinicVisit.objects.get(person__name="吴十")
    assert visit.clinic == users["clinician"].organisation and visit.sample_taken
    assert visit.external_id.startswith("V") and visit.person.grid == grid


def test_clinic_enters_a_visit_of_a_registered_person_by_document_number(
    users, client_for, person_of
):
    patient = person_of("grid_a1")
    client = client_for("clinician")
    response = client.post(
        "/surveillance/fever-visits/new/",
        visit_data(id_number=patient.id_number, external_id="MZ-1"),
        follow=True,
    )
    assert "已登记就诊" in response.content.decode()
    assert FeverClinicVisit.objects.get(external_id="MZ-1").person == patient
    listed = client.get("/surveillance/fever-visits/").content.decode()
    assert patient.name not in listed and patient.id_number_masked in listed


# Schools -----------------------------------------------------------------------------------


def test_school_saves_its_day_and_saving_again_replaces_it(users, client_for, today):
    client = client_for("school_doctor")
    school = users["school_doctor"].organisation
    page = client.get("/surveillance/absences/").content.decode()
    assert 'name="absent_respiratory"' in page
    day = today.isoformat()
    client.post(
        "/surveillance/absences/",
        {"day": day, "enrolled": "300", "absent_fever": "3", "absent_respiratory": "2"},
    )
    response = client.post(
        "/surveillance/absences/",
        {"day": day, "enrolled": "300", "absent_fever": "1"},
        follow=True,
    )
    assert "已保存" in response.content.decode()
    counts = dict(
        SchoolAbsence.objects.filter(school=school, day=today).values_list("syndrome", "absent")
    )
    assert counts == {"fever": 1, "respiratory": 0, "diarrhoea": 0, "rash": 0, "other": 0}
    assert 'value="1"' in client.get("/surveillance/absences/", {"day": day}).content.decode()
    too_many = client.post(
        "/surveillance/absences/", {"day": day, "enrolled": "2", "absent_fever": "5"}
    ).content.decode()
    assert "因病缺勤人数合计不能超过在校人数" in too_many
    future = (today + timedelta(days=1)).isoformat()
    ahead = client.post("/surveillance/absences/", {"day": future}).content.decode()
    assert "日期不能晚于今天" in ahead


# The CDC's lists and history ------------------------------------------------------------------


def township_epidemiologist(region) -> User:
    user = User.objects.create_user("epi_src", region=region, last_name="乙", first_name="疾控")
    user.roles.add(Role.objects.get(code=RoleCode.CDC_EPIDEMIOLOGIST))
    return user


def test_cdc_lists_are_scoped_filtered_and_exported(
    fever_buyer, users, client_for, django_assert_max_num_queries
):
    from django.test import Client

    client = client_for("cdc_epi")
    with django_assert_max_num_queries(12):
        html = client.get("/surveillance/sales/all/", {"fever_only": "on"}).content.decode()
    assert f'id="sale-{fever_buyer.pk}"' in html
    cough = client.get("/surveillance/sales/all/", {"drug_category": "cough"}).content.decode()
    assert f'id="sale-{fever_buyer.pk}"' not in cough
    exported = client.get("/surveillance/sales/all/", {"format": "xlsx"})
    assert "FB1" in [row[4] for row in sheet_rows(exported.content)]
    other_side = Client()
    other_side.force_login(township_epidemiologist(users["street_b"].region))
    theirs = other_side.get("/surveillance/sales/all/").content.decode()
    assert f'id="sale-{fever_buyer.pk}"' not in theirs


def test_cdc_imports_history_with_a_rejection_report(users, client_for, townships):
    client = client_for("cdc_epi")
    code = townships[0].code
    text = f"来源,类别,区划代码,日期,数量\npharmacy,antipyretic,{code},2021-01-04,7\n"
    bad = text + f"pharmacy,antipyretic,{code},2021-01-05,x\n"
    url = "/surveillance/history/import/"
    refused = client.post(url, {"file": upload(bad, "h.csv")}).content.decode()
    assert "整个文件未导入" in refused and "数量请填写整数" in refused
    assert not DailyCount.objects.filter(imported=True, region__code=code).exists()
    assert "新增 1 条" in client.post(url, {"file": upload(text, "h.csv")}).content.decode()
    assert "新增 0 条，更新 0 条" in client.post(url, {"file": upload(text)}).content.decode()


@pytest.mark.parametrize(
    ("username", "url"),
    [
        ("grid_a1", "/surveillance/sales/new/"),
        ("grid_a1", "/surveillance/sales/"),
        ("grid_a1", "/surveillance/sales/import/"),
        ("pharmacy_clerk", "/surveillance/sales/all/"),
        ("pharmacy_clerk", "/surveillance/fever-buyers/"),
        ("school_doctor", "/surveillance/fever-visits/new/"),
        ("pharmacy_clerk", "/surveillance/fever-visits/"),
        ("clinician", "/surveillance/absences/"),
        ("school_doctor", "/surveillance/absences/all/"),
        ("commander", "/surveillance/history/import/"),
        ("clinician", "/surveillance/fever-visits/?format=xlsx"),
    ],
)
def test_users_without_the_capability_get_404(client_for, username, url):
    assert client_for(username).get(url).status_code == 404


def test_visits_of_new_patients_register_them_in_the_registry(users, client_for):
    before = Person.objects.count()
    client_for("cdc_epi").post(
        "/surveillance/fever-visits/new/",
        visit_data(
            unit=users["clinician"].organisation.pk,
            name="郑十一",
            address="青石镇2号",
            grid=users["grid_a1"].region_id,
        ),
    )
    assert Person.objects.count() == before + 1
    visit = FeverClinicVisit.objects.get(person__name="郑十一")
    assert visit.clinic == users["clinician"].organisation
