"""The public self-report page: a person reports from the community's QR code, gets a receipt,
finds it again with the receipt code and their phone, and nobody learns anything else."""

import re
from datetime import timedelta

import pytest
from django.core import signing
from django.core.cache import cache
from django.test import Client

from fangyi.travel import selfreport, services
from fangyi.travel.models import Arrival
from tests.builders import resident_id, with_wrong_check_digit

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_counters():
    """Rate counters and challenges live in the (process-wide) cache."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def community(grid):
    return grid.parent


@pytest.fixture
def url(community):
    return selfreport.community_path(community)


def solve(client: Client, url: str) -> dict:
    """Open the form and answer its challenge the way a person reads it (the answer kept
    server-side in the cache)."""
    page = client.get(url).content.decode()
    challenge = re.search(r'name="challenge" value="([^"]+)"', page).group(1)
    answer = cache.get(selfreport.captcha_key(selfreport.read_challenge(challenge)))
    return {"challenge": challenge, "captcha": str(answer)}


def report(grid, today, n=1, **overrides) -> dict:
    fields = {
        "name": "王小明",
        "id_type": "resident_id",
        "id_number": resident_id(sequence=f"{n:03d}"),
        "phone": f"1391234{n:04d}",
        "origin": "湖南省长沙市岳麓区橘子洲街道",
        "stay_from": (today - timedelta(days=10)).isoformat(),
        "departure_date": (today - timedelta(days=1)).isoformat(),
        "arrival_date": today.isoformat(),
        "transport": "train",
        "transport_number": "G1234",
        "destination": "柳溪村3组12号",
        "grid": grid.pk,
        "temperature": "36.5",
    }
    return fields | overrides


def test_a_report_lands_in_the_chosen_grid_classified_with_a_receipt(
    client, url, grid, today, risk_list
):
    response = client.post(url, report(grid, today) | solve(client, url))
    assert response.status_code == 200
    arrival = Arrival.objects.get(receipt_code=response.context["receipt_code"])
    assert arrival.grid == grid and arrival.channel == Arrival.Channel.SELF
    assert arrival.origin_level == "medium" and arrival.measure.type == "home_monitoring"
    assert arrival.created_by is None
    page = response.content.decode()
    assert arrival.receipt_code in page and arrival.rule.advice in page
    assert services.outcome_text(arrival) in page
    assert "王小明" not in page and arrival.person.id_number not in page
    assert "no-store" in response["Cache-Control"]


def test_the_form_offers_only_the_communitys_grids_by_name(client, url, grid, community):
    page = client.get(url).content.decode()
    assert f'value="{grid.pk}"' in page and grid.name in page
    assert grid.full_name not in page  # the name, not the county's labels
    other = f'value="{community.parent.children.exclude(pk=community.pk).first().pk}"'
    assert other not in page


def test_a_grid_of_another_community_is_refused(client, url, grid, today, users):
    payload = report(grid, today) | solve(client, url) | {"grid": users["grid_b1"].region_id}
    response = client.post(url, payload)
    assert "所选网格不存在或不在可选范围内" in response.content.decode()
    assert not Arrival.objects.filter(destination="柳溪村3组12号").exists()


def test_a_wrong_resident_id_check_digit_is_refused(client, url, grid, today):
    bad = with_wrong_check_digit(resident_id(sequence="777"))
    response = client.post(url, report(grid, today, id_number=bad) | solve(client, url))
    assert "校验位不正确" in response.content.decode()


def test_a_wrong_answer_is_refused_and_a_new_sum_is_shown(client, url, grid, today):
    answered = solve(client, url)
    wrong = answered | {"captcha": str(int(answered["captcha"]) + 1)}
    response = client.post(url, report(grid, today) | wrong)
    page = response.content.decode()
    assert response.status_code == 200 and "验证码错误或已过期" in page
    assert answered["challenge"] not in page
    assert not Arrival.objects.filter(destination="柳溪村3组12号").exists()


def test_a_challenge_cannot_be_replayed(client, url, grid, today, risk_list):
    answered = solve(client, url)
    assert "receipt_code" in client.post(url, report(grid, today, n=1) | answered).context
    again = client.post(url, report(grid, today, n=2) | answered)
    assert "验证码错误或已过期" in again.content.decode()
    assert Arrival.objects.filter(destination="柳溪村3组12号").count() == 1


def test_a_forged_challenge_is_refused(client, url, grid, today):
    forged = {"challenge": signing.dumps("guess", salt="other"), "captcha": "1"}
    assert "验证码错误或已过期" in client.post(url, report(grid, today) | forged).content.decode()


def test_the_honeypot_catches_robots(client, url, grid, today):
    payload = report(grid, today) | solve(client, url) | {selfreport.HONEYPOT: "http://spam"}
    assert client.post(url, payload).status_code == 400
    assert not Arrival.objects.filter(destination="柳溪村3组12号").exists()


def test_a_flood_from_one_address_is_refused(client, url, settings):
    settings.TRAVEL_SELF_REPORT_REQUESTS_PER_ADDRESS_HOUR = 3
    assert [client.get(url).status_code for _ in range(3)] == [200, 200, 200]
    assert client.get(url).status_code == 429
    other = Client(REMOTE_ADDR="10.0.0.9")
    assert other.get(url).status_code == 200


def test_a_flood_for_one_phone_is_refused(client, url, grid, today, settings, risk_list):
    settings.TRAVEL_SELF_REPORTS_PER_PHONE_HOUR = 2
    codes = []
    for n in (1, 2, 3):
        payload = report(grid, today, n=n, phone="13912340000") | solve(client, url)
        response = client.post(url, payload)
        codes.append(response.status_code)
    assert codes == [200, 200, 429]
    assert Arrival.objects.filter(destination="柳溪村3组12号").count() == 2


def test_a_forged_or_wrong_level_token_is_404(client, community, grid):
    forged = signing.dumps(community.pk, salt="not-the-salt")
    for token in [forged, "abc", selfreport.community_token(grid)]:
        response = client.get(f"/travel/r/{token}/")
        assert response.status_code == 404 and "二维码无效" in response.content.decode()


def test_the_page_shows_no_one_else(client, url, grid, arrival_data, risk_list):
    other, _ = services.register_arrival(None, arrival_data(grid), channel="self")
    page = client.get(url).content.decode()
    assert other.person.name not in page and other.receipt_code not in page
    assert other.destination not in page


def test_a_report_merged_into_someone_elses_registration_shows_nothing_of_it(
    client, url, grid, today, users, risk_list
):
    data = report(grid, today, n=5)
    worker = users["grid_a1"]
    form_data = services.ArrivalData(
        name="王小明",
        grid=grid,
        origin=data["origin"],
        stay_from=today - timedelta(days=10),
        departure_date=today - timedelta(days=1),
        arrival_date=today,
        transport="train",
        destination="柳溪村3组12号",
        id_number=data["id_number"],
        phone="13800000001",
    )
    first, _ = services.register_arrival(worker, form_data, channel="grid")
    response = client.post(url, data | solve(client, url))
    page = response.content.decode()
    assert 'id="merged"' in page and first.receipt_code not in page
    first.refresh_from_db()
    assert first.reports == 2 and first.channels == ["grid", "self"]


def test_a_receipt_is_found_with_its_phone_only(client, url, grid, today, risk_list):
    mine = client.post(url, report(grid, today, n=1) | solve(client, url)).context["receipt_code"]
    theirs = client.post(url, report(grid, today, n=2, name="李四海") | solve(client, url))
    theirs = theirs.context["receipt_code"]
    lookup = "/travel/receipt/"

    found = client.post(lookup, {"receipt_code": mine.lower(), "phone": "139 1234 0001"})
    page = found.content.decode()
    assert 'id="receipt"' in page and "王*明" in page and "王小明" not in page
    assert "no-store" in found["Cache-Control"]

    refusals = [
        client.post(lookup, {"receipt_code": theirs, "phone": "13912340001"}),  # not mine
        client.post(lookup, {"receipt_code": mine, "phone": "13912340002"}),  # wrong phone
        client.post(lookup, {"receipt_code": "ZZZZZZZZZZ", "phone": "13912340001"}),
        client.post(lookup, {"receipt_code": mine, "phone": "12"}),
    ]
    for response in refusals:
        page = response.content.decode()
        assert 'id="not-found"' in page and 'id="receipt"' not in page
        assert "李*海" not in page and "王*明" not in page


def test_receipt_lookups_are_rate_limited(client, settings):
    settings.TRAVEL_RECEIPT_LOOKUPS_PER_ADDRESS_HOUR = 2
    guesses = [
        client.post("/travel/receipt/", {"receipt_code": f"AAAAAAAAA{n}", "phone": "13912340001"})
        for n in range(3)
    ]
    assert [r.status_code for r in guesses] == [200, 200, 429]


def test_staff_see_their_communities_codes(client_for, users, community):
    page = client_for("grid_a1").get("/travel/self-report/codes/")
    assert page.status_code == 200
    assert [link["community"] for link in page.context["links"]] == [community]
    assert selfreport.community_path(community) in page.content.decode()
    assert "<svg" in page.content.decode()
    printed = client_for("grid_a1").get(f"/travel/self-report/codes/{community.pk}/")
    assert printed.status_code == 200
    other = users["grid_b1"].region.parent
    assert client_for("grid_a1").get(f"/travel/self-report/codes/{other.pk}/").status_code == 404
    assert client_for("hotel_clerk").get("/travel/self-report/codes/").status_code == 404
