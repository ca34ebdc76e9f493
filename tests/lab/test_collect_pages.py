"""The collection pages: scanning a tube and a person, pooled tubes filled scan by scan,
the sample list with its export, a tube's page with the result form, environmental swabs."""

import io
import re
from datetime import timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from openpyxl import load_workbook

from fangyi.core.masking import mask_name
from fangyi.core.models import AccessLog
from fangyi.geo.models import Place, Region
from fangyi.lab import services
from fangyi.lab.models import CollectionSite, Examinee, Purpose, Sample, ScreeningTarget
from fangyi.people.models import Person


def unregistered_id_number() -> str:
    for serial in range(100):
        number = f"11010119800101{serial:03d}X"
        if not Person.objects.search(number).exists():
            return number
    raise AssertionError("no free ID number")


def collect_post(client, barcode, person_text, **extra):
    data = {
        "barcode": barcode,
        "person": person_text,
        "purpose": Purpose.FEVER_CLINIC,
        "sample_type": "op_swab",
        **extra,
    }
    return client.post("/lab/collect/", data)


def field_error(html: str, name: str) -> str:
    found = re.search(rf'<ul class="errorlist" id="error-{name}">(.*?)</ul>', html, re.S)
    return found.group(1) if found else ""


# The barcode-first page ---------------------------------------------------------------------


def test_a_scanned_tube_and_person_are_saved_and_the_page_is_ready_for_the_next(
    client_for, residents, new_barcode
):
    person = residents("street_a", 1)[0]
    client = client_for("clinician")
    barcode = new_barcode("C")
    response = collect_post(client, barcode, person.id_number, purpose=Purpose.OUTPATIENT)
    assert response.status_code == 302 and response["Location"] == "/lab/collect/"

    sample = Sample.objects.get(barcode=barcode)
    assert sample.pool_size == 1 and sample.purpose == Purpose.OUTPATIENT
    assert list(sample.examinees.values_list("person_id", flat=True)) == [person.pk]

    html = client.get("/lab/collect/").content.decode()
    assert f"已登记 {barcode} {mask_name(person.name)}" in html
    # The barcode field is empty and focused; the purpose stays for the next tube.
    barcode_input = re.search(r'<input[^>]*name="barcode"[^>]*>', html).group(0)
    assert "autofocus" in barcode_input and "value=" not in barcode_input
    assert re.search(r'<option value="outpatient" selected>', html)


def test_a_used_barcode_is_refused_next_to_the_field_and_nothing_is_saved(
    client_for, residents, collect
):
    first, second = residents("street_a", 2)
    used = collect([first])
    client = client_for("clinician")
    before = Sample.objects.count()
    response = collect_post(client, used.barcode.lower(), second.id_number)
    assert response.status_code == 200
    html = response.content.decode()
    assert f"条码 {used.barcode} 已使用" in field_error(html, "barcode")
    assert Sample.objects.count() == before
    assert not second.examinations.filter(sample__barcode=used.barcode).exists()


def test_an_unknown_person_is_refused_and_the_cursor_waits_on_the_person(client_for, new_barcode):
    client = client_for("clinician")
    barcode = new_barcode("C")
    response = collect_post(client, barcode, unregistered_id_number())
    html = response.content.decode()
    assert "未找到此人" in field_error(html, "person")
    assert not Sample.objects.filter(barcode=barcode).exists()
    person_input = re.search(r'<input[^>]*name="person"[^>]*>', html).group(0)
    assert "autofocus" in person_input
    assert 'id="register-person"' in html  # the clinician may register the person


def test_a_name_search_offers_the_matches_in_the_jurisdiction_to_choose_from(
    users, client_for, new_barcode
):
    # A family name shared by several persons of street A.
    visible = Person.objects.visible_to(users["street_a"])
    surname = next(
        p.name[0]
        for p in visible.order_by("id")[:200]
        if visible.filter(name__startswith=p.name[0]).count() > 1
    )
    client = client_for("street_a")
    barcode = new_barcode("C")
    html = collect_post(client, barcode, surname).content.decode()
    assert "找到多人" in field_error(html, "person")
    chosen = [int(pk) for pk in re.findall(r'name="person_pk" value="(\d+)"', html)]
    assert len(chosen) > 1 and set(chosen) <= set(visible.values_list("pk", flat=True))
    assert not Sample.objects.filter(barcode=barcode).exists()

    response = collect_post(client, barcode, surname, person_pk=chosen[1])
    assert response.status_code == 302
    sample = Sample.objects.get(barcode=barcode)
    assert sample.examinees.get().person_id == chosen[1]


def test_a_chosen_person_outside_the_jurisdiction_is_not_found(users, client_for, new_barcode):
    other = Person.objects.visible_to(users["street_b"]).first()
    barcode = new_barcode("C")
    html = collect_post(client_for("street_a"), barcode, "", person_pk=other.pk).content.decode()
    assert "未找到此人" in field_error(html, "person")
    assert other.name not in html
    assert not Sample.objects.filter(barcode=barcode).exists()


def test_an_id_number_from_another_jurisdiction_is_accepted_but_shown_masked(
    users, client_for, new_barcode
):
    visitor = (
        Person.objects.visible_to(users["street_b"])
        .filter(id_type=Person.IdType.RESIDENT_ID)
        .exclude(name__regex=r"^.$")
        .first()
    )
    client = client_for("street_a")
    barcode = new_barcode("C")
    assert collect_post(client, barcode, visitor.id_number).status_code == 302
    assert Sample.objects.get(barcode=barcode).examinees.get().person_id == visitor.pk
    html = client.get("/lab/collect/").content.decode()
    assert mask_name(visitor.name) in html and visitor.name not in html


def test_collecting_needs_the_capability(client_for):
    assert client_for("commander").get("/lab/collect/").status_code == 404
    assert client_for("commander").get("/lab/").status_code == 200


# Pooled tubes -------------------------------------------------------------------------------


def new_tube(client, barcode, **extra):
    data = {
        "barcode": barcode,
        "pool_size": 10,
        "purpose": "mass_screening",
        "sample_type": "op_swab",
    }
    return client.post("/lab/tubes/new/", data | extra)


def test_a_pooled_tube_takes_ten_scans_then_refuses_and_offers_the_next_tube(
    client_for, residents, new_barcode
):
    people = residents("street_a", 11)
    client = client_for("street_a")
    barcode = new_barcode("P")
    response = new_tube(client, barcode)
    tube = Sample.objects.get(barcode=barcode)
    assert response["Location"] == f"/lab/tubes/{tube.pk}/"
    assert tube.pool_size == 10 and tube.examinees.count() == 0

    html = client.get(f"/lab/tubes/{tube.pk}/").content.decode()
    assert re.search(r'<input[^>]*name="person"[^>]*autofocus', html)
    assert ">0/10<" in html

    for count, person in enumerate(people[:10], start=1):
        response = client.post(f"/lab/tubes/{tube.pk}/", {"person": person.id_number})
        assert response.status_code == 302, response.content.decode()[:500]
        if count == 3:
            html = client.get(f"/lab/tubes/{tube.pk}/").content.decode()
            assert ">3/10<" in html and mask_name(people[2].name) in html
    assert tube.examinees.count() == 10

    response = client.post(f"/lab/tubes/{tube.pk}/", {"person": people[10].id_number})
    html = response.content.decode()
    assert response.status_code == 200 and "该管已满 10 人" in html
    assert tube.examinees.count() == 10
    assert ">10/10<" in html and 'id="next-tube-barcode"' in html
    assert 'name="person"' not in html.split('id="tube-members"')[0]

    # The next tube in one step: only its barcode, the settings carried over.
    following = new_barcode("P")
    settings = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', html))
    response = client.post("/lab/tubes/new/", settings | {"barcode": following})
    next_tube = Sample.objects.get(barcode=following)
    assert response["Location"] == f"/lab/tubes/{next_tube.pk}/"
    assert (next_tube.pool_size, next_tube.purpose) == (10, "mass_screening")


def test_a_scan_from_the_page_script_gets_the_members_part_back(client_for, residents, new_barcode):
    first, second = residents("street_a", 2)
    client = client_for("street_a")
    barcode = new_barcode("P")
    new_tube(client, barcode, pool_size=5)
    tube = Sample.objects.get(barcode=barcode)
    url = f"/lab/tubes/{tube.pk}/"

    response = client.post(url, {"person": first.id_number}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html
    assert f"已加入 {mask_name(first.name)}（1/5）" in html and ">1/5<" in html

    again = client.post(url, {"person": first.id_number}, HTTP_HX_REQUEST="true").content.decode()
    assert "此人已在该管中" in again and ">1/5<" in again
    assert first.id_number not in again  # the refused scan is echoed masked
    assert client.post(url, {"person": second.id_number}, HTTP_HX_REQUEST="true").status_code == 200
    assert list(tube.examinees.order_by("position").values_list("person_id", flat=True)) == [
        first.pk,
        second.pk,
    ]


def test_a_tube_at_a_screening_site_takes_its_campaign_pool_size_and_marks_the_round(
    users, client_for, new_barcode
):
    street = users["street_a"].region
    today = timezone.localdate()
    campaign = services.create_campaign(
        users["cdc_epi"],
        name="街道甲全员核酸",
        region=street,
        start_date=today,
        end_date=today + timedelta(days=2),
        pool_size=5,
    )
    round_ = services.open_round(users["cdc_epi"], campaign, start_date=today, end_date=today)
    village = Region.objects.filter(level=Region.Level.VILLAGE, path__startswith=street.path)
    site = CollectionSite.objects.create(
        campaign=campaign, name="广场采样点", region=village.order_by("path").first()
    )
    client = client_for("street_a")
    html = client.get("/lab/tubes/new/", {"site": site.pk}).content.decode()
    assert '<option value="5" selected>' in html
    assert f'<option value="{site.pk}" selected>' in html

    barcode = new_barcode("S")
    new_tube(client, barcode, pool_size=5, site=site.pk)
    tube = Sample.objects.get(barcode=barcode)
    assert (tube.site_id, tube.round_id, tube.pool_size) == (site.pk, round_.pk, 5)
    target = round_.targets.filter(status=ScreeningTarget.Status.UNTESTED).first()
    client.post(f"/lab/tubes/{tube.pk}/", {"person": target.person.id_number})
    target.refresh_from_db()
    assert target.status == ScreeningTarget.Status.TESTED and target.site_id == site.pk


def test_a_pool_size_other_than_5_or_10_is_refused(client_for, new_barcode):
    barcode = new_barcode("P")
    response = new_tube(client_for("street_a"), barcode, pool_size=3)
    assert response.status_code == 200
    assert field_error(response.content.decode(), "pool_size")
    assert not Sample.objects.filter(barcode=barcode).exists()


def test_street_b_cannot_open_or_fill_street_a_tube(users, client_for, residents, new_barcode):
    barcode = new_barcode("P")
    new_tube(client_for("street_a"), barcode)
    tube = Sample.objects.get(barcode=barcode)
    assert tube.region.path.startswith(users["street_a"].region.path)
    other = client_for("street_b")
    person = residents("street_b", 1)[0]
    assert other.get(f"/lab/tubes/{tube.pk}/").status_code == 404
    assert other.post(f"/lab/tubes/{tube.pk}/", {"person": person.id_number}).status_code == 404
    assert other.get(f"/lab/samples/{tube.pk}/").status_code == 404
    assert f"sample-{tube.pk}" not in other.get("/lab/", {"barcode": barcode}).content.decode()
    assert tube.examinees.count() == 0
    assert client_for("street_a").get(f"/lab/tubes/{tube.pk}/").status_code == 200


# The list and its export --------------------------------------------------------------------


def test_the_sample_list_highlights_and_filters_late_tubes(
    client_for, residents, collect, new_barcode
):
    late_person, fresh_person = residents("street_a", 2)
    # A prefix of this test's own: the list may hold other tubes (the demo's).
    late = collect([late_person], hours_ago=10, barcode=new_barcode("LATE"))
    fresh = collect([fresh_person], hours_ago=1, barcode=new_barcode("LATE"))
    # The clinician's tubes belong to the county hospital's region: the county lab sees them.
    client = client_for("lab_staff")
    html = client.get("/lab/", {"barcode": "LATE", "purpose": "fever_clinic"}).content.decode()
    assert re.search(rf'<tr id="sample-{late.pk}" class="late">', html)
    assert f'<tr id="sample-{fresh.pk}">' in html
    assert mask_name(late_person.name) in html

    only_late = client.get("/lab/", {"barcode": "LATE", "late": "on"}).content.decode()
    assert f"sample-{late.pk}" in only_late and f"sample-{fresh.pk}" not in only_late
    pending = client.get("/lab/", {"state": "pending", "barcode": fresh.barcode}).content.decode()
    assert f"sample-{fresh.pk}" in pending and f"sample-{late.pk}" not in pending


def test_the_sample_list_query_count_does_not_grow_with_rows(
    client_for, residents, collect, new_barcode
):
    people = residents("street_a", 30)
    client = client_for("lab_staff")

    def tube(persons, **extra):
        return collect(persons, barcode=new_barcode("QC"), **extra)

    def queries(rows: int) -> int:
        with CaptureQueriesContext(connection) as captured:
            response = client.get("/lab/", {"barcode": "QC"})
        assert response.content.decode().count('<tr id="sample-') == rows
        return len(captured)

    tube(people[:1])
    tube(people[1:6], purpose=Purpose.MASS_SCREENING, pool_size=5)
    few = queries(2)
    for index in range(6, 26, 5):
        tube(people[index : index + 5], purpose=Purpose.MASS_SCREENING, pool_size=5)
    for person in people[26:]:
        tube([person])
    assert queries(10) == few


def test_the_export_is_masked_and_logged(users, client_for, residents, collect):
    people = residents("street_a", 3)
    tube = collect(people, purpose=Purpose.MASS_SCREENING, pool_size=5)
    client = client_for("lab_staff")
    response = client.get("/lab/", {"barcode": tube.barcode, "format": "xlsx"})
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    row = next(r for r in rows if r[0] == tube.barcode)
    assert row[4] == "、".join(mask_name(p.name) for p in people)
    assert row[5] == "、".join(p.id_number_masked for p in people)
    text = " ".join(str(cell) for r in rows for cell in r if cell)
    for person in people:
        assert person.id_number not in text
    entry = AccessLog.objects.filter(actor=users["lab_staff"], action="export").latest("pk")
    assert entry.detail["rows"] == 1 and entry.detail["filters"]["barcode"] == tube.barcode


def test_the_export_needs_the_capability_and_respects_the_limit(
    client_for, residents, collect, settings
):
    collect(residents("street_a", 1))
    assert client_for("clinician").get("/lab/", {"format": "xlsx"}).status_code == 404
    settings.EXPORT_MAX_ROWS = 0
    before = AccessLog.objects.count()
    response = client_for("lab_staff").get("/lab/", {"format": "xlsx", "purpose": "fever_clinic"})
    assert response.status_code == 302 and "format" not in response["Location"]
    assert AccessLog.objects.count() == before


# A tube's page and its result ---------------------------------------------------------------


def test_a_result_typed_on_the_tube_page_is_stored(client_for, residents, collect):
    people = residents("street_a", 5)
    tube = collect(people, purpose=Purpose.MASS_SCREENING, pool_size=5, hours_ago=5)
    client = client_for("lab_staff")
    html = client.get(f"/lab/samples/{tube.pk}/").content.decode()
    assert 'id="result-form"' in html and html.count('<tr id="member-') == 5
    result_at = timezone.localtime() - timedelta(hours=1)
    response = client.post(
        f"/lab/samples/{tube.pk}/result/",
        {
            "result": "negative",
            "result_at": result_at.strftime("%Y-%m-%dT%H:%M"),
            "method": "rt_pcr",
            "reviewer": "王审核",
        },
    )
    assert response.status_code == 302
    tube.refresh_from_db()
    assert tube.result == "negative" and tube.reviewer == "王审核"
    assert {m.outcome for m in tube.examinees.all()} == {Examinee.Status.NEGATIVE}
    page = client.get(f"/lab/samples/{tube.pk}/").content.decode()
    assert "已录入结果：阴性" in page and 'id="result-form"' not in page


def test_a_result_before_collection_is_refused_next_to_its_time(client_for, residents, collect):
    tube = collect(residents("street_a", 1), hours_ago=1)
    before = timezone.localtime() - timedelta(hours=3)
    response = client_for("lab_staff").post(
        f"/lab/samples/{tube.pk}/result/",
        {"result": "negative", "result_at": before.strftime("%Y-%m-%dT%H:%M"), "ct_N": "61"},
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "Ct 值须在 0–50 之间" in field_error(html, "ct_N")
    response = client_for("lab_staff").post(
        f"/lab/samples/{tube.pk}/result/",
        {"result": "negative", "result_at": before.strftime("%Y-%m-%dT%H:%M")},
    )
    assert "结果时间早于采样时间" in field_error(response.content.decode(), "result_at")
    tube.refresh_from_db()
    assert tube.result is None


def test_a_positive_single_tube_links_its_suspected_case(client_for, free, collect):
    tube = collect(free("street_a"), hours_ago=2)
    client = client_for("lab_staff")
    response = client.post(
        f"/lab/samples/{tube.pk}/result/",
        {
            "result": "positive",
            "result_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
            "ct_ORF1ab": "28.5",
            "ct_N": "27.1",
        },
    )
    assert response.status_code == 302
    tube.refresh_from_db()
    assert tube.case_id and tube.ct_values == {"ORF1ab": 28.5, "N": 27.1}
    html = client.get(f"/lab/samples/{tube.pk}/").content.decode()
    assert f'href="/cases/{tube.case_id}/"' in html


def test_result_entry_needs_the_capability(client_for, residents, collect):
    tube = collect(residents("street_a", 1))
    client = client_for("street_a")
    assert 'id="result-form"' not in client.get(f"/lab/samples/{tube.pk}/").content.decode()
    response = client.post(f"/lab/samples/{tube.pk}/result/", {"result": "negative"})
    assert response.status_code == 404
    tube.refresh_from_db()
    assert tube.result is None


def test_a_pool_positive_member_links_to_a_single_retest(
    users, client_for, free, collect, result_row, lab
):
    people = free("street_a", 5)
    tube = collect(people, purpose=Purpose.MASS_SCREENING, pool_size=5, hours_ago=4)
    services.store_results(None, lab, [result_row(tube, "positive")])
    client = client_for("cdc_epi")
    html = client.get(f"/lab/samples/{tube.pk}/").content.decode()
    link = f"/lab/collect/?purpose=pool_retest&amp;person={people[0].pk}"
    assert link in html
    form = client.get(link.replace("&amp;", "&")).content.decode()
    assert mask_name(people[0].name) in form and 'value="pool_retest" selected' in form


# Environmental samples ----------------------------------------------------------------------


def test_an_environmental_swab_names_a_place_and_keeps_it_for_the_next(
    users, client_for, new_barcode
):
    place = Place.objects.visible_to(users["street_a"]).first()
    client = client_for("street_a")
    barcode = new_barcode("E")
    response = client.post(
        "/lab/environment/new/",
        {"barcode": barcode, "place": place.pk, "object_description": "3号摊位冷冻虾外包装"},
    )
    assert response["Location"] == f"/lab/environment/new/?place={place.pk}"
    sample = Sample.objects.get(barcode=barcode)
    assert (sample.place_id, sample.purpose, sample.pool_size) == (place.pk, "environmental", 0)
    html = client.get(response["Location"]).content.decode()
    assert f"已登记 {barcode}" in html and f'<option value="{place.pk}" selected>' in html


def test_an_environmental_swab_cannot_name_a_place_outside_the_jurisdiction(
    users, client_for, new_barcode
):
    place = Place.objects.visible_to(users["street_b"]).first()
    barcode = new_barcode("E")
    response = client_for("street_a").post(
        "/lab/environment/new/",
        {"barcode": barcode, "place": place.pk, "object_description": "门把手"},
    )
    assert "场所不存在" in field_error(response.content.decode(), "place")
    assert not Sample.objects.filter(barcode=barcode).exists()


def test_a_grid_worker_sees_the_tube_they_just_collected(client_for, residents):
    from fangyi.lab.models import Sample

    client = client_for("grid_a1")
    response = client.post(
        "/lab/tubes/new/",
        {
            "barcode": "GRIDTUBE0001",
            "pool_size": "10",
            "purpose": "mass_screening",
            "sample_type": "op_swab",
        },
    )
    assert response.status_code == 302
    tube = Sample.objects.get(barcode="GRIDTUBE0001")
    assert client.get(f"/lab/tubes/{tube.pk}/").status_code == 200
    assert client_for("grid_b1").get(f"/lab/tubes/{tube.pk}/").status_code == 404
