"""Batch entry of health checks: a facility floor or a grid on one page, saved all or
nothing, with the abnormal readings alerted, in a number of queries that does not grow with
the rows."""

import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from fangyi.core import deadlines
from fangyi.core.models import Alert, Duty
from fangyi.measures import services
from fangyi.measures.facility_forms import mask_name
from fangyi.measures.models import Category, HealthCheck, Measure, Room
from fangyi.measures.services import CheckEntry
from fangyi.people.models import Person

URL = "/measures/checks/batch/"


@pytest.fixture
def free_people(users):
    """free_people("grid_a1", 3) → persons of that jurisdiction under no measure."""

    def pick(username: str, count: int) -> list[Person]:
        people = list(
            Person.objects.visible_to(users[username])
            .filter(grid__isnull=False)
            .exclude(measures__status__in=services.OPEN)
            .order_by("id")[:count]
        )
        assert len(people) == count
        return people

    return pick


@pytest.fixture
def floor_of(users, facility, free_people):
    """floor_of(n) → n residents housed on a new floor 5 of the facility, by room number."""

    def house(count: int, floor: int = 5) -> list[Measure]:
        numbers = [f"{floor}{n:02}" for n in range(1, count + 1)]
        rooms = services.add_rooms(
            None, facility, floor=floor, numbers=numbers, kind=Room.Kind.SINGLE
        )
        return [
            services.place_under_control(
                users["cdc_epi"],
                person,
                category=Category.CLOSE_CONTACT,
                facility=facility,
                room=room,
            )
            for person, room in zip(free_people("cdc_epi", count), rooms, strict=True)
        ]

    return house


def floor_query(facility, floor=5) -> dict:
    return {"floor": f"{facility.pk}:{floor}"}


def readings(measures, temperatures, **extra) -> dict:
    """The POST of the batch page: every row listed, the given temperatures typed."""
    data = {"measure": [str(m.pk) for m in measures]}
    for measure, temperature in zip(measures, temperatures, strict=False):
        if temperature is not None:
            data[f"m{measure.pk}-temperature"] = temperature
    return data | extra


def row(page: str, measure: Measure) -> str:
    return re.search(rf'<tr id="row-{measure.pk}".*?</tr>', page, re.S).group(0)


def test_floor_lists_its_residents_masked_with_readings_today(
    users, client_for, facility, floor_of
):
    measures = floor_of(3)
    services.record_checks(
        None,
        [CheckEntry(measures[1], Decimal("36.4"), timezone.now())],
        source="self",
    )

    page = client_for("facility_staff").get(URL, floor_query(facility)).content.decode()

    rows = re.findall(r'<tr id="row-(\d+)"', page)
    assert rows == [str(m.pk) for m in measures]  # by room number
    for measure, done in zip(measures, ["0/2", "1/2", "0/2"], strict=True):
        text = row(page, measure)
        assert measure.room.number in text and mask_name(measure.person.name) in text
        assert f">{done}<" in text
        assert measure.person.name not in text
    first_input = re.search(r'<input type="number"[^>]*>', page).group(0)
    assert "autofocus" in first_input and 'inputmode="decimal"' in first_input
    assert page.count("autofocus") == 1
    assert "fangyi/checks_batch.js" in page


def test_a_floor_is_saved_at_once_and_the_abnormal_reading_alerted(
    users, client_for, facility, floor_of
):
    measures = floor_of(4)
    client = client_for("facility_staff")
    data = readings(measures, ["36.5", "38.2", "36.8", None])
    data[f"m{measures[2].pk}-symptoms"] = ["dry_cough", "fatigue"]

    response = client.post(f"{URL}?floor={facility.pk}:5", data, follow=True)

    checks = HealthCheck.objects.filter(measure__in=measures)
    assert sorted((c.measure_id, c.temperature, c.abnormal) for c in checks) == [
        (measures[0].pk, Decimal("36.5"), False),
        (measures[1].pk, Decimal("38.2"), True),
        (measures[2].pk, Decimal("36.8"), True),
    ]
    assert {(c.source, c.recorded_by) for c in checks} == {("staff", users["facility_staff"])}
    page = response.content.decode()
    assert "已保存3条，其中异常2条" in page
    fever, cough = measures[1], measures[2]
    assert f"{fever.room.number} {mask_name(fever.person.name)} 体温38.2℃" in page
    assert f"{cough.room.number} {mask_name(cough.person.name)} 体温36.8℃，干咳、乏力" in page
    # Back on the floor, the counts of today moved; the empty row stayed empty.
    assert ">1/2<" in row(page, fever) and ">0/2<" in row(page, measures[3])
    referral = deadlines.tasks_of(fever, Duty.REFER_FEVER).get()
    assert Alert.objects.filter(task=referral, message__contains=fever.person.name).exists()


def test_one_bad_row_saves_nothing_and_each_bad_row_shows_its_error(client_for, facility, floor_of):
    measures = floor_of(4)
    data = readings(measures, ["36.5", "43.0", "abc", "36.6"])
    data[f"m{measures[3].pk}-symptoms"] = ["other"]

    response = client_for("facility_staff").post(f"{URL}?floor={facility.pk}:5", data)

    assert response.status_code == 200
    assert not HealthCheck.objects.filter(measure__in=measures).exists()
    page = response.content.decode()
    assert "有3行填写有误（已标红），本批未保存任何记录" in page
    assert "row-error" not in row(page, measures[0]) and 'value="36.5"' in row(page, measures[0])
    assert "体温须在35.0–42.0℃之间，请复测。" in row(page, measures[1])
    assert "请输入体温数值，如 36.5。" in row(page, measures[2])
    assert "选择“其他”症状时请说明。" in row(page, measures[3])
    assert all('class="row-error"' in row(page, m) for m in measures[1:])


def test_a_batch_with_nothing_typed_is_refused(client_for, facility, floor_of):
    measures = floor_of(2)
    response = client_for("facility_staff").post(
        f"{URL}?floor={facility.pk}:5", readings(measures, [None, None])
    )
    assert "没有填写任何体温，未保存。" in response.content.decode()
    assert not HealthCheck.objects.filter(measure__in=measures).exists()


def test_a_person_released_meanwhile_is_refused_in_their_row(users, client_for, facility, floor_of):
    measures = floor_of(2)
    services.end_measure(users["cdc_epi"], measures[1], Measure.Status.HOSPITAL)

    response = client_for("facility_staff").post(
        f"{URL}?floor={facility.pk}:5", readings(measures, ["36.5", "36.6"])
    )

    assert "该人员当前不在管控中，不能录入健康监测。" in row(response.content.decode(), measures[1])
    assert not HealthCheck.objects.filter(measure__in=measures).exists()


def test_a_grid_lists_its_people_at_home_and_other_grids_stay_out(
    users, client_for, facility, free_people
):
    grid = users["grid_a1"].region
    at_home, in_facility = free_people("grid_a1", 2)
    home = services.place_under_control(
        users["grid_a1"], at_home, category=Category.RETURNEE, address="柳溪村3组"
    )
    housed = services.place_under_control(
        users["cdc_epi"], in_facility, category=Category.CLOSE_CONTACT, facility=facility
    )

    page = client_for("grid_a1").get(URL, {"region": grid.pk}).content.decode()
    assert "柳溪村3组" in row(page, home) and f'id="row-{housed.pk}"' not in page

    other = client_for("grid_b1")
    refused = other.get(URL, {"region": grid.pk}).content.decode()
    assert "所选区划不存在或不在您的管辖范围内" in refused and 'id="row-' not in refused
    forged = other.post(f"{URL}?region={grid.pk}", readings([home], ["36.5"]))
    assert "没有填写任何体温，未保存。" in forged.content.decode()
    assert not home.checks.exists()
    # Choosing both a floor and a grid, or neither, is refused.
    both = client_for("cdc_epi").get(URL, {"region": grid.pk} | floor_query(facility, 1))
    assert "请选择一个隔离场所楼层，或一个网格/社区。" in both.content.decode()
    assert client_for("commander").get(URL).status_code == 404  # no right to record checks


def test_queries_do_not_grow_with_the_rows(
    client_for, facility, floor_of, django_assert_max_num_queries
):
    ten, thirty = floor_of(10, floor=5), floor_of(30, floor=6)
    client = client_for("facility_staff")

    def batch(measures, floor):
        # One in five abnormal: the alerts and referral tasks grow with the rows too.
        temperatures = ["38.2" if i % 5 == 0 else "36.5" for i in range(len(measures))]
        url = f"{URL}?floor={facility.pk}:{floor}"
        assert client.get(url).content.decode().count('<tr id="row-') == len(measures)
        response = client.post(url, readings(measures, temperatures))
        assert response.status_code == 302

    with CaptureQueriesContext(connection) as for_ten:
        batch(ten, 5)
    with django_assert_max_num_queries(len(for_ten)):
        batch(thirty, 6)
    assert HealthCheck.objects.filter(measure__in=ten + thirty).count() == 40
