"""Read-only queries of the mass-screening and regimen pages: which campaigns a user takes
part in, the figures of a round's coverage dashboard, the grid worker's untested list and
the regimens' overdue lists.

A campaign covers an area (a county, a street…) and everyone working inside it takes part:
a grid worker of a county-wide campaign opens its rounds, but every figure and list they
see comes from `ScreeningTarget.objects.visible_to(user)`, i.e. their own grid. So a
campaign is visible when its area and the user's jurisdiction overlap (one contains the
other); its persons stay scoped by grid as everywhere else.

The dashboard is built for a round of a million targets: grouped counts over the round's
targets (`services.coverage_by_grid` and `throughput_by_site` here), never rows in Python.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from django.db.models import Count, QuerySet
from django.db.models.functions import TruncHour
from django.http import Http404
from django.urls import reverse
from django.utils import timezone

from fangyi.accounts.roles import Capability
from fangyi.core.access import user_scope_path
from fangyi.geo.models import Region, inside_or_above
from fangyi.lab import services
from fangyi.lab.models import Campaign, CollectionSite, Regimen, Round, ScreeningTarget
from fangyi.lab.services import Coverage
from fangyi.measures.models import Category
from fangyi.people.models import Person

# The throughput chart spans at most this many hours (a round of two weeks).
MAX_THROUGHPUT_HOURS = 14 * 24


# Campaigns in which the user takes part ---------------------------------------------------


def campaigns_for(user) -> QuerySet:
    return inside_or_above(Campaign.objects.all(), user)


def campaign_or_404(user, pk: int) -> Campaign:
    campaign = campaigns_for(user).select_related("region").filter(pk=pk).first()
    if campaign is None:
        raise Http404
    return campaign


def round_or_404(user, pk: int) -> Round:
    round_ = (
        Round.objects.filter(campaign__in=campaigns_for(user), pk=pk)
        .select_related("campaign__region")
        .first()
    )
    if round_ is None:
        raise Http404
    return round_


def can_manage(user, campaign: Campaign) -> bool:
    """Opening rounds is for the organisers of the whole area, not for a part of it."""
    return (
        user.can(Capability.MANAGE_SCREENING)
        and Campaign.objects.visible_to(user).filter(pk=campaign.pk).exists()
    )


def sites_for(user, campaign: Campaign) -> QuerySet:
    """The campaign's sites in or above the user's jurisdiction (a site holds no personal
    data: a grid worker sees the site of their community)."""
    return (
        inside_or_above(CollectionSite.objects.filter(campaign=campaign), user)
        .select_related("region", "organisation")
        .prefetch_related("grids")
        .annotate(staff_count=Count("staff", distinct=True))
        .order_by("region__path", "name")
    )


def can_exempt(user) -> bool:
    """The grid worker who keeps the registry knows who is away, bedridden or an infant;
    the organisers of the screening may exempt too. Which targets: `visible_to` decides."""
    return user.can(Capability.EDIT_PERSONS) or user.can(Capability.MANAGE_SCREENING)


# The coverage dashboard -------------------------------------------------------------------


@dataclass
class RoundFigures:
    """A round's coverage in the user's scope: per grid, in total, and sampled per site
    per hour."""

    round: Round
    grids: list[Coverage]
    throughput: list[dict]
    at: datetime = field(default_factory=timezone.now)

    @property
    def total(self) -> Coverage:
        total = Coverage(None, "")
        for row in self.grids:
            total.expected += row.expected
            total.tested += row.tested
            total.exempt += row.exempt
            total.found += row.found
        return total

    def untested_url(self, grid_id: int | None = None) -> str:
        url = reverse("lab_round_untested", args=[self.round.pk])
        return f"{url}?grid={grid_id}" if grid_id else url

    def site_series(self) -> tuple[list[str], list[dict]]:
        """Hour labels from the first to the last sampling hour, and one series per site
        with a count for each hour (0 where none)."""
        hours = sorted({timezone.localtime(row["hour"]) for row in self.throughput})
        if not hours:
            return [], []
        # The latest hours when the round ran longer than the chart can show.
        first = max(hours[0], hours[-1] - timedelta(hours=MAX_THROUGHPUT_HOURS - 1))
        span = int((hours[-1] - first).total_seconds() // 3600)
        axis = [first + timedelta(hours=n) for n in range(span + 1)]
        index = {moment: i for i, moment in enumerate(axis)}
        series: dict[int, dict] = {}
        for row in self.throughput:
            site = series.setdefault(
                row["site_id"],
                {"id": row["site_id"], "name": row["site__name"], "data": [0] * len(axis)},
            )
            position = index.get(timezone.localtime(row["hour"]))
            if position is not None:
                site["data"][position] += row["n"]
        labels = [f"{moment:%m-%d %H:00}" for moment in axis]
        return labels, sorted(series.values(), key=lambda s: s["name"])

    def as_json(self) -> dict:
        hours, sites = self.site_series()
        return {
            "round": {
                "id": self.round.pk,
                "campaign": self.round.campaign.name,
                "number": self.round.number,
                "start_date": self.round.start_date.isoformat(),
                "end_date": self.round.end_date.isoformat(),
            },
            "at": timezone.localtime(self.at).isoformat(timespec="seconds"),
            "total": coverage_json(self.total),
            "grids": [
                {**coverage_json(row), "untested_url": self.untested_url(row.key)}
                for row in self.grids
            ],
            "throughput": {"hours": hours, "sites": sites},
        }


def coverage_json(row: Coverage) -> dict:
    return {
        "id": row.key,
        "name": row.name,
        "expected": row.expected,
        "tested": row.tested,
        "exempt": row.exempt,
        "untested": row.untested,
        "found": row.found,
        "coverage": round(100 * row.rate, 1),
    }


def round_figures(round_: Round, user) -> RoundFigures:
    """Five queries whatever the size of the round: two grouped counts over its targets,
    the region ids of the user's scope, the grid names and the site names."""
    return RoundFigures(
        round_, services.coverage_by_grid(round_, user), throughput_by_site(round_, user)
    )


def throughput_by_site(round_: Round, user) -> list[dict]:
    """Persons sampled per site per hour in the user's scope, fit for a million targets:
    grouped by site id alone (grouping by name sorted every row, on disk), the scope as its
    region ids (no join of every row with its region), and cut into hours in UTC, which
    spares a time-zone lookup per row and gives the same hours wherever the local offset is
    whole hours (China's is). PostgreSQL plans it from statistics on exactly this hour
    expression (migration lab 0004): change one, change the other."""
    offset = timezone.localtime().utcoffset() or timedelta()
    zone = UTC if offset.total_seconds() % 3600 == 0 else None
    scope = {}
    if user_scope_path(user) != "":
        scope["grid_id__in"] = list(Region.objects.visible_to(user).values_list("id", flat=True))
    counts = list(
        ScreeningTarget.objects.filter(round=round_, site__isnull=False, **scope)
        .values("site_id", hour=TruncHour("tested_at", tzinfo=zone))
        .annotate(n=Count("*"))
        .order_by()
    )
    names = dict(
        CollectionSite.objects.filter(pk__in={row["site_id"] for row in counts}).values_list(
            "pk", "name"
        )
    )
    for row in counts:
        row["site__name"] = names.get(row["site_id"], "")
    return sorted(counts, key=lambda row: (row["site__name"], row["hour"]))


# The untested list ------------------------------------------------------------------------


def untested(round_: Round, user, grid_id: int | None = None) -> QuerySet:
    """Persons expected in the round, neither tested nor exempted, in the user's scope, by
    grid and then by address (door to door)."""
    targets = ScreeningTarget.objects.visible_to(user).filter(
        round=round_, status=ScreeningTarget.Status.UNTESTED, expected=True
    )
    if grid_id is not None:
        targets = targets.filter(grid_id=grid_id)
    return targets.select_related("person__household", "grid").order_by(
        "grid_id", "person__address", "person_id"
    )


# Regimens ---------------------------------------------------------------------------------


def population_label(regimen: Regimen) -> str:
    """Who the regimen is for: the key group, or the persons under control of a category."""
    if regimen.key_group_id:
        return regimen.key_group.name
    return str(Category(regimen.measure_category).label)


def days_overdue(regimen: Regimen, last_tested: datetime | None, today: date) -> int | None:
    """Days since the test fell due (the day after the last one's interval ran out); None
    for someone never tested."""
    if last_tested is None:
        return None
    return (today - timezone.localdate(last_tested)).days - regimen.every_days + 1


def overdue_workplaces(overdue: QuerySet) -> list[tuple[str, int]]:
    """(workplace, how many overdue) for the filter, biggest first."""
    counts = (
        Person.objects.filter(pk__in=overdue.order_by().values("pk"))
        .values("workplace")
        .annotate(n=Count("pk"))
        .order_by("-n", "workplace")
    )
    return [(row["workplace"], row["n"]) for row in counts]
