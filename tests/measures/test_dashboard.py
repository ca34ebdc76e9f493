"""The measures dashboard: figures per child region and measure type, facility occupancy."""

from datetime import datetime, time, timedelta
from decimal import Decimal

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from fangyi.measures import dashboard, services
from fangyi.measures.models import Category, MeasureType
from fangyi.measures.services import CheckEntry
from fangyi.people.models import Person
from tests.measures.test_services import negative_all, place

HOME = MeasureType.HOME_MONITORING
CENTRAL = MeasureType.CENTRALISED


def figures_of(user, region, measure_type):
    return dashboard.figures(user, timezone.localdate()).counts(region.pk, measure_type)


def difference(after, before) -> dict[str, int]:
    return {
        name: getattr(after, name) - getattr(before, name)
        for name in dashboard.FIGURES
        if getattr(after, name) != getattr(before, name)
    }


def test_figures_of_an_arranged_day(users, facility, residents):
    street, county = users["street_a"], users["county_admin"]
    community = users["grid_a1"].region.parent
    township = street.region
    today = timezone.localdate()
    yesterday = today - timedelta(days=1)
    services.open_missed_check_tasks(yesterday)  # only the arranged measure's follow-up is new
    before = {
        (who.username, kind): figures_of(who, row, kind)
        for who, row in ((street, community), (county, township))
        for kind in (HOME, CENTRAL)
    }
    other_street = dashboard.figures(users["street_b"], today).total
    new, due, released = residents("grid_a1", 3)

    fresh = place(street, new, category=Category.RETURNEE)
    # 14 days of home monitoring started 13 days ago: released tomorrow; no check yesterday.
    place(street, due, category=Category.RETURNEE, start_date=today - timedelta(days=13))
    isolated = place(
        users["cdc_epi"], released, facility=facility, start_date=today - timedelta(days=14)
    )
    negative_all(isolated)
    services.release(users["facility_staff"], isolated)  # home monitoring starts today
    early = timezone.make_aware(datetime.combine(today, time(0, 5)))
    services.record_checks(
        None,
        [
            CheckEntry(fresh, Decimal("37.8"), early),
            CheckEntry(fresh, Decimal("36.5"), early, symptoms=["fatigue"]),
        ],
        source="staff",
    )
    services.open_missed_check_tasks(yesterday)

    for who, row in ((street, community), (county, township)):
        assert difference(figures_of(who, row, HOME), before[who.username, HOME]) == {
            "under_control": 3,
            "new_today": 2,
            "due_tomorrow": 1,
            "abnormal_today": 1,
            "missed_checks": 1,
        }
        assert difference(figures_of(who, row, CENTRAL), before[who.username, CENTRAL]) == {
            "released_today": 1
        }
    assert dashboard.figures(users["street_b"], today).total == other_street


def test_rows_are_the_children_of_the_user_region(users):
    today = timezone.localdate()
    street = dashboard.figures(users["street_a"], today)
    assert {r.parent_id for r in street.regions} == {users["street_a"].region_id}
    county = dashboard.figures(users["county_admin"], today)
    assert users["street_a"].region in county.regions
    assert users["street_b"].region in county.regions
    assert dashboard.figures(users["grid_a1"], today).regions == [users["grid_a1"].region]


def test_facility_occupancy(users, facility, residents):
    people = residents("grid_a1", 2)
    first = place(users["cdc_epi"], people[0], facility=facility)
    place(users["cdc_epi"], people[1], facility=facility, room=facility.rooms.get(number="301"))
    services.end_measure(None, first, "hospital", note="转定点医院")

    row = next(
        f for f in dashboard.facility_occupancy(users["county_admin"]) if f.id == facility.pk
    )

    assert (row.rooms, row.beds, row.occupants) == (11, 13, 1)
    assert (row.occupied_rooms, row.cleaning_rooms, row.free_rooms) == (1, 1, 9)
    assert row.free_beds == 9 + 2  # nine free single rooms and two beds of the family room


def test_dashboard_takes_a_fixed_number_of_queries(users, client_for):
    street = users["street_a"]
    community = users["grid_a1"].region.parent
    persons = list(Person.objects.filter(grid__path__startswith=community.path).order_by("id")[:30])
    client = client_for("street_a")

    def arrange(batch):
        for person in batch:
            measure = place(street, person, category=Category.RETURNEE)
            services.record_checks(
                None, [CheckEntry(measure, Decimal("38.1"), timezone.now())], source="staff"
            )

    def queries():
        with CaptureQueriesContext(connection) as figures:
            dashboard.figures(street, timezone.localdate())
        with CaptureQueriesContext(connection) as page:
            assert client.get("/measures/dashboard/").status_code == 200
        return len(figures), len(page)

    arrange(persons[:10])
    few = queries()
    arrange(persons[10:])
    assert queries() == few
    assert few[0] <= 7  # regions, region ids, 4 counts, facilities


def test_dashboard_page_shows_totals_chart_and_facilities(users, client_for, facility, residents):
    place(users["cdc_epi"], residents("grid_a1", 1)[0], facility=facility)

    page = client_for("cdc_epi").get("/measures/dashboard/", {"type": CENTRAL}).content.decode()

    assert 'id="measures-chart-data"' in page and "集中隔离医学观察" in page
    assert facility.name in page and 'id="total-under_control"' in page
    assert client_for("lab_staff").get("/measures/dashboard/").status_code == 404
