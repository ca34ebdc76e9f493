"""The person's own phone link: one measure, readings taken now, nothing of anyone else."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import signing
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from fangyi.core import deadlines
from fangyi.core.models import Alert, Duty
from fangyi.core.timeliness import alerts_for
from fangyi.measures import links, selfcheck, services
from fangyi.measures.models import Category, HealthCheck, Measure
from fangyi.measures.services import CheckEntry

NORMAL = {"temperature": "36.5"}


@pytest.fixture(autouse=True)
def fresh_counters():
    cache.clear()


def place(users, person, *, days_ago=0, category=Category.RETURNEE):
    start = timezone.localdate() - timedelta(days=days_ago)
    return services.place_under_control(
        users["grid_a1"], person, category=category, start_date=start
    )


@pytest.fixture
def two_measures(users, residents):
    first, second = residents("grid_a1", 2)
    return place(users, first, days_ago=2), place(users, second)


def test_the_page_shows_the_masked_name_the_course_day_and_todays_count(
    client, users, two_measures
):
    measure, _ = two_measures
    services.record_checks(
        None, [CheckEntry(measure, Decimal("36.7"), timezone.now())], source="staff"
    )
    response = client.get(links.self_check_path(measure))

    page = response.content.decode()
    assert response.status_code == 200
    assert selfcheck.mask_name(measure.person.name) in page and measure.person.name not in page
    assert "居家健康监测" in page and "第3天" in page
    assert "今天已填报 1 次，每天需填报 2 次" in page and "36.7" in page
    assert "no-store" in response["Cache-Control"]
    assert response["Referrer-Policy"] == "same-origin"


def test_names_are_masked_to_their_first_and_last_characters():
    assert [selfcheck.mask_name(n) for n in ["张", "张三", "张三丰", "欧阳娜娜"]] == [
        "张*",
        "张*",
        "张*丰",
        "欧**娜",
    ]


def test_a_reading_is_saved_for_the_measure_of_the_link_at_the_time_of_submission(
    client, two_measures
):
    mine, other = two_measures
    before = timezone.now()
    response = client.post(
        links.self_check_path(mine),
        {
            "temperature": "36.6",
            "checked_at": "2020-01-01T08:00",
            "measure": other.pk,
            "measure_id": other.pk,
        },
    )

    assert response.status_code == 200 and "已提交" in response.content.decode()
    check = HealthCheck.objects.get(measure=mine)
    assert check.source == "self" and check.recorded_by is None
    assert check.temperature == Decimal("36.6") and check.checked_at >= before
    assert not other.checks.exists()


def test_a_tampered_token_reaches_no_measure(client, two_measures):
    mine, other = two_measures
    payload, signature = links.self_check_token(mine).rsplit(":", 1)
    other_payload = links.self_check_token(other).rsplit(":", 1)[0]
    forged = [
        f"{other_payload}:{signature}",  # another measure under my signature
        signing.dumps([other.pk, "2099-01-01"], salt="other"),  # signed with another salt
        f"{payload}:{signature[:-2]}xx",
        "not-a-token",
    ]
    for token in forged:
        assert links.read_token(token) is None
        response = client.post(f"/measures/m/{token}/", NORMAL)
        assert response.status_code == 404
        assert "链接无效或已过期" in response.content.decode()
    assert not HealthCheck.objects.filter(measure__in=[mine, other]).exists()


def test_a_page_shows_nothing_of_another_measure(client, two_measures):
    mine, other = two_measures
    services.record_checks(
        None, [CheckEntry(other, Decimal("38.9"), timezone.now())], source="staff"
    )
    page = client.get(links.self_check_path(mine)).content.decode()
    assert "近三天还没有填报记录" in page
    assert "38.9" not in page and other.person.name not in page


def test_the_link_expires_the_day_after_the_planned_end(client, users, residents):
    measure = place(users, residents("grid_a1", 1)[0], days_ago=20)
    token = links.self_check_token(measure)
    assert links.read_token(token, today=measure.planned_end + timedelta(days=1))
    assert links.read_token(token, today=measure.planned_end + timedelta(days=2)) is None

    response = client.post(f"/measures/m/{token}/", NORMAL)
    assert response.status_code == 404 and "链接无效或已过期" in response.content.decode()
    assert not measure.checks.exists()


def test_an_ended_measure_takes_no_more_readings(client, two_measures):
    measure, _ = two_measures
    path = links.self_check_path(measure)
    services.end_measure(None, measure, Measure.Status.TRANSFERRED, note="转外地")

    for response in (client.get(path), client.post(path, NORMAL)):
        assert response.status_code == 410 and "管控已结束" in response.content.decode()
    assert not measure.checks.exists()


def test_the_13th_submission_within_the_hour_is_refused(client, two_measures):
    measure, other = two_measures
    path = links.self_check_path(measure)
    for _ in range(12):
        assert client.post(path, NORMAL).status_code == 200

    refused = client.post(path, NORMAL)
    assert refused.status_code == 429 and "提交过于频繁" in refused.content.decode()
    assert measure.checks.count() == 12
    assert client.get(path).status_code == 200  # reading the page is not a submission
    assert client.post(links.self_check_path(other), NORMAL).status_code == 200


def test_requests_from_one_address_are_limited(client, settings, two_measures):
    settings.SELF_CHECK_REQUESTS_PER_ADDRESS_HOUR = 3
    path = links.self_check_path(two_measures[0])
    for _ in range(3):
        assert client.get(path).status_code == 200
    assert client.get("/measures/m/guessed-token/").status_code == 429
    assert client.get(path).status_code == 429
    assert Client(REMOTE_ADDR="10.1.2.3").get(path).status_code == 200
    # Without a trusted proxy a forwarded address is the client's invention.
    assert client.get(path, HTTP_X_FORWARDED_FOR="10.9.9.9").status_code == 429


def test_behind_the_proxy_the_address_it_forwarded_counts(client, settings, two_measures):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SELF_CHECK_REQUESTS_PER_ADDRESS_HOUR = 1
    path = links.self_check_path(two_measures[0])
    assert client.get(path, HTTP_X_FORWARDED_FOR="10.0.0.1").status_code == 200
    assert client.get(path, HTTP_X_FORWARDED_FOR="10.0.0.1").status_code == 429
    # Only the entry the proxy appended counts, not what the client put before it.
    assert client.get(path, HTTP_X_FORWARDED_FOR="10.0.0.7, 10.0.0.1").status_code == 429
    assert client.get(path, HTTP_X_FORWARDED_FOR="10.0.0.1, 10.0.0.2").status_code == 200


def test_an_abnormal_self_report_opens_the_fever_referral_and_alerts(client, users, two_measures):
    measure, _ = two_measures
    response = client.post(
        links.self_check_path(measure), {"temperature": "38.1", "symptoms": ["dry_cough"]}
    )

    page = response.content.decode()
    assert "不要外出" in page and "2小时内与您联系" in page
    referral = deadlines.tasks_of(measure, Duty.REFER_FEVER).get()
    assert referral.responsible_organisation == measure.responsible_organisation
    alert = Alert.objects.get(task=referral)
    assert "38.1" in alert.message and alerts_for(users["grid_a1"]).filter(pk=alert.pk).exists()


def test_an_invalid_reading_is_explained_and_not_saved(client, two_measures):
    measure, _ = two_measures
    response = client.post(links.self_check_path(measure), {"temperature": "45"})
    assert response.status_code == 200
    assert "体温须在35.0–42.0℃之间，请复测。" in response.content.decode()
    assert not measure.checks.exists()


def test_the_form_keeps_its_csrf_protection(two_measures):
    path = links.self_check_path(two_measures[0])
    assert Client(enforce_csrf_checks=True).post(path, NORMAL).status_code == 403
