"""The measures dashboard: for each region one level below the user's and each measure type,
how many people are under control, started today, were released today, are due for release
tomorrow, had an abnormal reading today and have a missed check to follow up; and the
occupancy of the facilities.

Built for a county in a mass-isolation week (200,000 measures in force, millions of
checks): a fixed handful of GROUP BY region id queries, each on an index — never a query
per region or per measure; each region id is then credited in Python to the row whose
materialised path begins its own (`rows_by_region`).
"""

from dataclasses import astuple, dataclass, fields
from datetime import date, timedelta

from django.contrib.contenttypes.models import ContentType
from django.db.models import Count, F, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _

from fangyi.core.access import user_scope_path
from fangyi.core.models import Duty, Task
from fangyi.geo.models import Region
from fangyi.measures.models import Facility, HealthCheck, Measure, MeasureType, Room
from fangyi.measures.services import local_day_range

# Statuses of measures that did start (a planned phase or a cancelled one never did).
STARTED = [
    status
    for status in Measure.Status
    if status not in (Measure.Status.PLANNED, Measure.Status.CANCELLED)
]


@dataclass
class Counts:
    """The figures of one row (a region, a measure type or both). Abnormal readings are
    counted by measure, i.e. by person: a person has one measure in force at a time."""

    under_control: int = 0
    new_today: int = 0
    released_today: int = 0
    due_tomorrow: int = 0
    abnormal_today: int = 0
    missed_checks: int = 0

    def __add__(self, other: "Counts") -> "Counts":
        return Counts(*(a + b for a, b in zip(astuple(self), astuple(other), strict=True)))

    def labelled(self) -> list[tuple[str, str, int]]:
        """(figure, label, value) in column order."""
        return [(name, FIGURE_LABELS[name], getattr(self, name)) for name in FIGURES]


FIGURE_LABELS = {
    "under_control": _("在管人数"),
    "new_today": _("今日新增"),
    "released_today": _("今日解除"),
    "due_tomorrow": _("明日到期解除"),
    "abnormal_today": _("今日异常"),
    "missed_checks": _("漏测待跟进"),
}
FIGURES = [f.name for f in fields(Counts)]


@dataclass
class FacilityOccupancy:
    id: int
    name: str
    rooms: int
    beds: int
    occupants: int
    free_rooms: int
    occupied_rooms: int
    cleaning_rooms: int
    out_of_service_rooms: int
    free_beds: int


@dataclass
class DashboardFigures:
    on: date
    regions: list[Region]  # the rows: the children of the user's region (or the region)
    cells: dict[tuple[int, str], Counts]  # (region id, measure type) → counts
    facilities: list[FacilityOccupancy]

    def counts(self, region_id: int | None = None, measure_type: str | None = None) -> Counts:
        return sum(
            (
                counts
                for (region, kind), counts in self.cells.items()
                if region_id in (None, region) and measure_type in (None, kind)
            ),
            Counts(),
        )

    @property
    def total(self) -> Counts:
        return self.counts()

    def by_type(self) -> list[tuple[str, Counts]]:
        return [(label, self.counts(measure_type=kind)) for kind, label in MeasureType.choices]

    def by_region(self, measure_type: str | None = None) -> list[tuple[Region, Counts]]:
        return [(region, self.counts(region.pk, measure_type)) for region in self.regions]

    def chart(self) -> dict:
        """People under control by region, stacked by measure type (for ECharts)."""
        return {
            "regions": [region.name for region in self.regions],
            "series": [
                {
                    "name": str(label),
                    "data": [self.counts(r.pk, kind).under_control for r in self.regions],
                }
                for kind, label in MeasureType.choices
                if self.counts(measure_type=kind).under_control
            ],
        }


def breakdown_regions(user) -> tuple[list[Region], Region | None]:
    """The regions one level below the user's (the whole tree's roots for an operator),
    and the user's own region, which takes what lies in none of them."""
    path = user_scope_path(user)
    if path is None:
        return [], None
    own = user.region if path else None
    children = Region.objects.filter(parent=own).order_by("path")
    return list(children), own


def rows_by_region(user, rows: list[Region], own: Region | None) -> dict[int, Region]:
    """Every region of the user's jurisdiction → the row it is counted in: the row whose
    path starts its path, else the user's own region."""
    by_path = {row.path: row for row in rows}
    lengths = sorted({len(path) for path in by_path})

    def row_of(path: str) -> Region | None:
        return next((by_path[path[:n]] for n in lengths if path[:n] in by_path), own)

    regions = Region.objects.visible_to(user).values_list("id", "path")
    return {pk: row for pk, path in regions if (row := row_of(path)) is not None}


def _type_of_measure(reference: str) -> Subquery:
    """The type of the measure a reading or a task refers to, looked up row by row (a few
    thousand rows at most): a join may be planned as a walk through every measure."""
    return Subquery(Measure.objects.filter(pk=OuterRef(reference)).order_by().values("type"))


def figures(user, on: date) -> DashboardFigures:
    """The dashboard of `on` (today): under control now; the day's flows.

    The jurisdiction enters the queries as the list of its region ids (from
    `Region.objects.visible_to`), not as a join on the region paths: counts by region id
    come straight from the indexes, and each region id is then credited to its row."""
    children, own = breakdown_regions(user)
    rows = children or ([own] if own else [])
    if not rows:
        return DashboardFigures(on, [], {}, [])
    row_of = rows_by_region(user, rows, own)
    scope = {} if user_scope_path(user) == "" else {"region_id__in": list(row_of)}
    start, end = local_day_range(on)
    new_today = Q(status__in=STARTED, start_date=on)
    released_today = Q(status=Measure.Status.RELEASED, ended_at__gte=start, ended_at__lt=end)
    due_tomorrow = Q(status=Measure.Status.ACTIVE, planned_end=on + timedelta(days=1))
    measures = Measure.objects.filter(**scope)

    grouped = [
        # From the (status, region, type) index alone (hence COUNT(*), not of the id).
        measures.filter(status=Measure.Status.ACTIVE)
        .values("region_id", "type")
        .annotate(under_control=Count("*")),
        # Each condition on its own index: the day's flows, whatever the history.
        measures.filter(new_today | released_today | due_tomorrow)
        .values("region_id", "type")
        .annotate(
            new_today=Count("pk", filter=new_today),
            released_today=Count("pk", filter=released_today),
            due_tomorrow=Count("pk", filter=due_tomorrow),
        ),
        HealthCheck.objects.filter(day=on, abnormal=True, **scope)
        .values("region_id", type=_type_of_measure("measure_id"))
        .annotate(abnormal_today=Count("measure", distinct=True)),
        Task.objects.filter(
            duty=Duty.MISSED_CHECK,
            status=Task.Status.OPEN,
            content_type=ContentType.objects.get_for_model(Measure),
            started_at__gte=start,
            started_at__lt=end,
            **scope,
        )
        .values("region_id", type=_type_of_measure("object_id"))
        .annotate(missed_checks=Count("pk")),
    ]
    cells: dict[tuple[int, str], Counts] = {}
    for query in grouped:
        for row in query.order_by():
            region = row_of.get(row.pop("region_id"))
            if region is None:
                continue
            counts = cells.setdefault((region.pk, row.pop("type")), Counts())
            for name, value in row.items():
                setattr(counts, name, getattr(counts, name) + value)
    if own is not None and own not in rows and any(pk == own.pk for pk, kind in cells):
        rows = [*rows, own]
    return DashboardFigures(on, rows, cells, facility_occupancy(user))


def facility_occupancy(user) -> list[FacilityOccupancy]:
    """Rooms, beds and people of each facility in use, in one grouped query."""
    status = Room.Status

    def rooms_in(state):
        return Count("rooms", filter=Q(rooms__status=state))

    facilities = (
        Facility.objects.visible_to(user)
        .filter(active=True)
        .values("id", "name")
        .annotate(
            room_count=Count("rooms"),
            beds=Coalesce(Sum("rooms__beds"), 0),
            occupants=Coalesce(Sum("rooms__occupants"), 0),
            free_rooms=rooms_in(status.FREE),
            occupied_rooms=rooms_in(status.OCCUPIED),
            cleaning_rooms=rooms_in(status.CLEANING),
            out_of_service_rooms=rooms_in(status.OUT_OF_SERVICE),
            free_beds=Coalesce(
                Sum(
                    F("rooms__beds") - F("rooms__occupants"),
                    filter=Q(rooms__status__in=(status.FREE, status.OCCUPIED)),
                ),
                0,
            ),
        )
        .order_by("name")
    )
    return [FacilityOccupancy(rooms=row.pop("room_count"), **row) for row in facilities]
