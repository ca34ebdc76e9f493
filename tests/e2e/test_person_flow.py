"""A grid worker on a phone: sees only their grid, registers a person (a mistyped ID is
refused with a Chinese message, the corrected one saved with sex and birth date taken from
it), finds them by pinyin initials, and cannot open another grid's person."""

import random
import re
from datetime import date

import pytest
from playwright.sync_api import Page, expect

from tests.builders import resident_id, with_wrong_check_digit
from tests.e2e.conftest import PHONE, api_all_persons, api_get, problems_of

pytestmark = pytest.mark.e2e

NAME = "欧阳晓东"
INITIALS = "oyxd"
BIRTH = date(1988, 5, 12)
COUNTY_CODE = "330122"
CHECKSUM_ERROR = "身份证号码校验位不正确，请逐位核对后重新输入。"
NO_RESULTS = "没有找到符合条件的人员。"


def random_resident_id(rng: random.Random) -> str:
    return resident_id(f"{BIRTH:%Y%m%d}", f"{rng.randrange(1000):03d}", COUNTY_CODE)


def fact(page: Page, label: str):
    """The <dd> after the <dt> reading `label` in the detail page's fact lists."""
    return page.locator("dl.facts dt", has_text=re.compile(f"^{label}$")).locator(
        "xpath=following-sibling::dd[1]"
    )


def search(page: Page, text: str) -> None:
    """Type into the list's search box and wait for htmx to swap in the results."""

    def is_htmx_search(response) -> bool:
        return (
            "/persons/?" in response.url
            and response.request.headers.get("hx-request") == "true"
            and response.request.headers.get("hx-target") == "person-table"
        )

    with page.expect_response(is_htmx_search) as info:
        page.locator("#id_q").fill(text)
    response = info.value
    assert response.status == 200
    assert "<html" not in response.text(), "the search should answer with the table partial"
    expect(page.locator("#id_q")).to_have_value(text)


def grid_cells(page: Page):
    return page.locator("#persons tbody td[data-label='所属网格']")


@pytest.fixture(scope="module")
def grid_a(login) -> Page:
    return login("grid_a1")


@pytest.fixture(scope="module")
def grid_b(login) -> Page:
    return login("grid_b1", viewport={"width": 1280, "height": 800})


@pytest.fixture(scope="module")
def admin(login) -> Page:
    return login("county_admin", viewport={"width": 1280, "height": 800})


@pytest.fixture(scope="module")
def grid_a_name(grid_a) -> str:
    name = api_get(grid_a, "me")["region_name"]
    assert name, "grid_a1 must be attached to a grid"
    return name


@pytest.fixture(scope="module")
def other_grid_person(grid_a, grid_b) -> dict:
    """A person of grid_b1's grid whose name no person of grid_a1's grid starts with, so
    a name search by grid_a1 must come back empty."""
    names_a = [p["name"] for p in api_all_persons(grid_a)]
    persons_b = api_all_persons(grid_b)
    assert persons_b, "the demo must put persons into grid_b1's grid (raise DEMO_PERSONS)"
    for person in persons_b:
        if not any(name.startswith(person["name"]) for name in names_a):
            return person
    pytest.fail("every name in grid_b1's grid also occurs in grid_a1's")


@pytest.fixture(scope="module")
def id_numbers(admin) -> tuple[str, str]:
    """(valid, wrong check digit): a resident ID no one in the county holds yet."""
    rng = random.SystemRandom()
    for _ in range(20):
        number = random_resident_id(rng)
        if api_get(admin, "persons", search=number)["count"] == 0:
            return number, with_wrong_check_digit(number)
    pytest.fail("no free resident ID found")


def test_grid_worker_sees_only_their_grid(grid_a, grid_a_name, other_grid_person):
    grid_a.goto("/persons/")
    expect(grid_a.locator("h1")).to_have_text("人员")
    # htmx is served (whitenoise, from node_modules) and running: the search relies on it.
    grid_a.wait_for_function("() => window.htmx !== undefined")

    expected_rows = min(api_get(grid_a, "persons")["count"], 50)
    assert expected_rows > 0, "grid_a1's grid should hold demo persons"
    expect(grid_cells(grid_a)).to_have_count(expected_rows)
    assert set(grid_cells(grid_a).all_inner_texts()) == {grid_a_name}

    assert other_grid_person["grid_name"] != grid_a_name
    search(grid_a, other_grid_person["name"])
    expect(grid_a.locator("#persons tbody")).to_have_text(NO_RESULTS)
    expect(grid_a.locator("#persons")).not_to_contain_text(other_grid_person["name"])
    expect(grid_a).to_have_url(re.compile(r"/persons/\?.*q="))  # hx-push-url


def test_register_person_with_wrong_then_corrected_id(grid_a, grid_a_name, id_numbers):
    valid, wrong = id_numbers
    count_before = api_get(grid_a, "persons")["count"]

    grid_a.goto("/persons/new/")
    expect(grid_a.locator("h1")).to_contain_text("登记")
    expect(grid_a.locator("#id_name")).to_be_visible()
    expect(grid_a.locator("#id_id_type")).to_have_value("resident_id")
    grid_a.locator("#id_name").fill(NAME)
    grid_a.locator("#id_id_number").fill(wrong)
    grid_a.locator("#id_phone").fill("13957112345")
    grid_a.locator("#id_grid").select_option(label=grid_a_name)
    grid_a.locator("#id_address").fill("华苑家园3幢2单元501室")
    grid_a.get_by_role("button", name="保存").click()

    # Refused: the form again, the message beside the ID field, the typed data kept.
    error = grid_a.locator("#field-id_number ul.errorlist#error-id_number")
    expect(error).to_have_text(CHECKSUM_ERROR)
    expect(error).to_be_visible()
    expect(grid_a.get_by_role("alert")).to_have_text("请更正下面标红的内容后再保存。")
    expect(grid_a).to_have_url(re.compile(r"/persons/new/$"))
    expect(grid_a.locator("#id_name")).to_have_value(NAME)
    expect(grid_a.locator("#error-name")).to_have_count(0)

    # Nothing saved: the list (in a second tab) finds no such person.
    check = grid_a.context.new_page()
    check.goto(f"/persons/?q={NAME}")
    expect(check.locator("#persons tbody")).to_have_text(NO_RESULTS)
    check.close()
    assert api_get(grid_a, "persons")["count"] == count_before

    # Corrected: saved, and the detail page shows the person.
    grid_a.locator("#id_id_number").fill(valid)
    grid_a.get_by_role("button", name="保存").click()
    grid_a.wait_for_url(re.compile(r"/persons/\d+/$"))
    expect(grid_a.locator("h1")).to_have_text(NAME)
    expect(grid_a.get_by_role("status")).to_contain_text(f"已登记：{NAME}")

    # The ID masked (region + last 4), sex and birth date derived from it.
    expect(grid_a.locator("#id-number")).to_have_text(f"{COUNTY_CODE}{'*' * 8}{valid[-4:]}")
    expect(fact(grid_a, "性别")).to_have_text("男" if int(valid[16]) % 2 else "女")
    expect(fact(grid_a, "出生日期")).to_contain_text(BIRTH.isoformat())
    expect(fact(grid_a, "所属网格")).to_have_text(grid_a_name)
    assert valid not in grid_a.content(), "the full ID number must not be on the page"
    assert api_get(grid_a, "persons")["count"] == count_before + 1

    # Found on the list by pinyin initials.
    detail_path = re.sub(r"^https?://[^/]+", "", grid_a.url)
    grid_a.goto("/persons/")
    grid_a.wait_for_function("() => window.htmx !== undefined")
    search(grid_a, INITIALS)
    found = grid_a.locator(f"#persons a[href='{detail_path}']")
    expect(found).to_have_text(NAME)
    expect(grid_a).to_have_url(re.compile(rf"q={INITIALS}"))
    assert set(grid_cells(grid_a).all_inner_texts()) == {grid_a_name}


def test_other_grids_person_is_not_found(grid_a, other_grid_person):
    response = grid_a.goto(f"/persons/{other_grid_person['id']}/")
    assert response is not None
    assert response.status == 404
    assert other_grid_person["name"] not in grid_a.content()
    api = grid_a.request.get(f"/api/persons/{other_grid_person['id']}")
    assert api.status == 404


def test_person_list_fits_a_phone(grid_a, tmp_path):
    grid_a.goto("/persons/")
    expect(grid_cells(grid_a).first).to_be_visible()
    grid_a.wait_for_load_state("load")  # stylesheets applied
    assert grid_a.viewport_size == PHONE
    # Pico's stylesheet is in effect (the page is styled, not bare HTML).
    assert grid_a.evaluate(
        "() => [...document.styleSheets].some(s => (s.href || '').includes('pico'))"
    )
    grid_a.screenshot(path=tmp_path / "person-list-375.png")
    grid_a.screenshot(path=tmp_path / "person-list-375-full.png", full_page=True)
    assert (tmp_path / "person-list-375.png").stat().st_size > 0
    width = grid_a.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"] + 1, f"horizontal overflow: {width} px wide"
    assert problems_of(grid_a) == []
