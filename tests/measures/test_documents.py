"""The notice (告知书) and the release certificate (解除隔离证明): content, PDF, log, scope."""

import re
import zlib
from datetime import timedelta

import pytest
from django.template.loader import render_to_string
from django.utils import timezone
from weasyprint import HTML

from fangyi.core.models import AccessLog
from fangyi.measures import documents, services
from fangyi.measures.models import Category
from tests.measures.test_services import negative_all, place


def notice_text(measure, user, *, reveal=False) -> str:
    context = documents.notice(measure, user, reveal=reveal)
    return render_to_string("measures/doc_notice.html", context)


def cn(day) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def pdf_objects(content: bytes) -> bytes:
    """The PDF with its compressed streams (fonts are named inside object streams) inflated."""

    def inflate(stream: bytes) -> bytes:
        try:
            return zlib.decompress(stream)
        except zlib.error:
            return b""

    streams = re.findall(rb"stream\r?\n(.*?)endstream", content, re.S)
    return content + b"".join(inflate(stream) for stream in streams)


def pages(html: str) -> int:
    return len(HTML(string=html).render().pages)


def logs_of(user, measure, action):
    return AccessLog.objects.filter(actor=user, action=action, object_id=str(measure.pk))


@pytest.fixture
def released(users, facility, residents):
    """A close contact released today after 14 days centralised with every sample negative;
    the 14 days of home health monitoring start today."""
    start = timezone.localdate() - timedelta(days=14)
    measure = place(
        users["cdc_epi"], residents("grid_a1", 1)[0], facility=facility, start_date=start
    )
    negative_all(measure)
    services.release(users["facility_staff"], measure)
    measure.refresh_from_db()
    return measure


def test_notice_states_measure_dates_place_rules_and_contact(users, facility, residents):
    person = residents("grid_a1", 1)[0]
    start = timezone.localdate()
    measure = place(users["cdc_epi"], person, facility=facility, start_date=start)
    facility.organisation.phone = "0571-64210000"
    facility.organisation.save(update_fields=["phone"])
    measure.refresh_from_db()

    text = notice_text(measure, users["cdc_epi"])

    end, day7 = start + timedelta(days=14), start + timedelta(days=6)
    for expected in [
        person.name,
        person.id_number_masked,
        "集中隔离医学观察告知书",
        f"自 {cn(start)} 起至 {cn(end)} 止，共 14 天",
        f"{facility.name} 101房间",
        "单人单间隔离，不得离开房间",
        "每日早、晚各测量体温1次",
        f"第7天（{day7.month}月{day7.day}日）",
        "《中华人民共和国传染病防治法》",
        "0571-64210000",
        "被告知人（签字）",
    ]:
        assert expected in text, expected
    assert person.id_number not in text
    assert pages(text) == 1


def test_home_monitoring_notice_has_its_own_rules(users, residents):
    measure = place(users["grid_a1"], residents("grid_a1", 1)[0], category=Category.RETURNEE)
    text = notice_text(measure, users["grid_a1"])
    assert "居家健康监测告知书" in text
    assert "不乘坐公共交通工具" in text and "单人单间" not in text
    assert measure.address in text


def test_notice_pdf_embeds_the_cjk_font_and_is_logged_as_export_and_reveal(
    users, client_for, facility, residents
):
    measure = place(users["cdc_epi"], residents("grid_a1", 1)[0], facility=facility)

    response = client_for("cdc_epi").get(f"/measures/{measure.pk}/notice.pdf")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    assert b"NotoSerifCJK" in pdf_objects(response.content)
    export = logs_of(users["cdc_epi"], measure, AccessLog.Action.EXPORT).get()
    assert "告知书" in export.object_repr and export.detail["revealed"] == ["id_number"]
    assert AccessLog.objects.filter(
        actor=users["cdc_epi"], action=AccessLog.Action.REVEAL, object_id=str(measure.person_id)
    ).exists()


def test_a_user_without_reveal_right_gets_the_masked_id_and_no_reveal_is_logged(
    users, client_for, facility, residents
):
    measure = place(users["cdc_epi"], residents("grid_a1", 1)[0], facility=facility)
    commander = users["commander"]

    assert documents.notice(measure, commander, reveal=False)["id_number"] == (
        measure.person.id_number_masked
    )
    assert client_for("commander").get(f"/measures/{measure.pk}/notice.pdf").status_code == 200
    assert logs_of(commander, measure, AccessLog.Action.EXPORT).get().detail["revealed"] == []
    assert not AccessLog.objects.filter(actor=commander, action=AccessLog.Action.REVEAL).exists()


def test_release_certificate_states_days_tests_and_home_monitoring_that_follows(
    users, client_for, released
):
    context = documents.release_certificate(released, users["cdc_epi"], reveal=True)
    text = render_to_string("measures/doc_release.html", context)

    today = timezone.localdate()
    home_end = today + timedelta(days=14)
    for expected in [
        "解除隔离证明",
        f"JC-{today.year}-{released.pk:06d}",
        released.person.name,
        released.person.id_number,
        "共 14 天",
        "9次，均阴性",
        "人、物、环境样本均为阴性",
        "经评估符合解除条件，准予解除",
        f"居家健康监测14天（{cn(today)} 至 {cn(home_end)}）",
        released.facility.organisation.name,
    ]:
        assert expected in text, expected
    assert pages(text) == 1

    response = client_for("facility_staff").get(f"/measures/{released.pk}/release.pdf")
    assert response.status_code == 200 and response.content.startswith(b"%PDF")
    assert logs_of(users["facility_staff"], released, AccessLog.Action.EXPORT).exists()


def test_release_certificate_is_refused_for_a_measure_not_released(
    users, client_for, facility, residents
):
    measure = place(users["cdc_epi"], residents("grid_a1", 1)[0], facility=facility)

    response = client_for("cdc_epi").get(f"/measures/{measure.pk}/release.pdf")

    assert response.status_code == 404
    assert "尚未解除" in response.content.decode()
    assert not logs_of(users["cdc_epi"], measure, AccessLog.Action.EXPORT).exists()


def test_documents_of_another_jurisdiction_are_404(users, client_for, released):
    client = client_for("street_b")
    assert client.get(f"/measures/{released.pk}/notice.pdf").status_code == 404
    assert client.get(f"/measures/{released.pk}/release.pdf").status_code == 404
    assert client_for("lab_staff").get(f"/measures/{released.pk}/notice.pdf").status_code == 404
    assert not AccessLog.objects.filter(object_id=str(released.pk)).exists()
