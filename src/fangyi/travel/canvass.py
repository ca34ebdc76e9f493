"""Door-to-door canvassing (入户排查): rounds over an area with a deadline, the visits of the
households, and the coverage of a round per grid and community.

A round opens one CANVASS task per grid of its area that has households, for the grid's
village committee, due at the round's deadline; the task closes when the last household of
the grid has been visited in the round. A household is visited once per round: a second
record for it updates the first (audited), so revisits never count twice.

Coverage is two GROUP BY queries (households per grid, visits per grid) whatever the size
of the area; communities are the sums of their grids.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

from django.db import transaction
from django.db.models import Count, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from fangyi.core import deadlines
from fangyi.core.access import user_scope_path
from fangyi.core.audit import ChangeLog, acting_user, diff, record_change
from fangyi.core.masking import mask_name
from fangyi.core.models import Duty, Task
from fangyi.core.rules import RuleError
from fangyi.geo.models import Region, inside_or_above
from fangyi.people.models import Household, Person
from fangyi.travel.models import CanvassRound, HouseholdVisit

# A round covers a township, a community or a grid (never the whole county at once).
ROUND_LEVELS = (Region.Level.TOWNSHIP, Region.Level.VILLAGE, Region.Level.GRID)


def rounds_for(user):
    """Rounds the user takes part in or oversees: over their jurisdiction or above it (a
    street's round concerns each of its grid workers). A round holds no personal data."""
    return inside_or_above(CanvassRound.objects.all(), user)


def _in_jurisdiction(user, region: Region) -> bool:
    path = user_scope_path(user)
    return path is not None and region.path.startswith(path)


@transaction.atomic
def launch_round(
    actor,
    *,
    name: str,
    region: Region,
    deadline: datetime,
    instructions: str = "",
    now: datetime | None = None,
) -> CanvassRound:
    """A round over `region` (inside the actor's jurisdiction) and one task per grid of it
    that has households, for the grid's village committee, due at the deadline."""
    now = now or timezone.now()
    if region.level not in ROUND_LEVELS or not _in_jurisdiction(actor, region):
        raise RuleError(
            _("排查范围须为您管辖范围内的街道（乡镇）、社区（村）或网格。"), field="region"
        )
    if deadline <= now:
        raise RuleError(_("完成时限须晚于当前时间。"), field="deadline", code="past_deadline")
    canvass_round = CanvassRound.objects.create(
        name=name.strip(),
        region=region,
        instructions=instructions,
        started_at=now,
        deadline=deadline,
        created_by=acting_user(actor),
    )
    grids = list(
        Region.objects.filter(
            level=Region.Level.GRID,
            path__startswith=region.path,
            pk__in=Household.objects.values("grid"),
        ).order_by("path")
    )
    deadlines.open_committee_tasks(
        Duty.CANVASS,
        [(canvass_round, grid, f"{canvass_round.name} {grid.full_name}") for grid in grids],
        started_at=now,
        hours=(deadline - now).total_seconds() / 3600,
    )
    record_change(
        actor,
        canvass_round,
        ChangeLog.Action.CREATE,
        diff({}, _round_snapshot(canvass_round)),
        region=region,
    )
    return canvass_round


def _round_snapshot(canvass_round: CanvassRound) -> dict[str, str]:
    return {
        "name": canvass_round.name,
        "region": canvass_round.region.full_name or canvass_round.region.name,
        "deadline": timezone.localtime(canvass_round.deadline).strftime("%Y-%m-%d %H:%M"),
    }


def _visit_snapshot(visit: HouseholdVisit, found: Iterable[Person]) -> dict[str, str]:
    return {
        "visited_on": visit.visited_on.isoformat(),
        "outcome": visit.get_outcome_display(),
        "people_found": str(visit.people_found),
        "found_persons": "、".join(sorted(mask_name(p.name) for p in found)),
        "arrivals_found": str(visit.arrivals_found),
        "note": visit.note,
    }


@transaction.atomic
def record_visit(
    actor,
    household: Household,
    *,
    canvass_round: CanvassRound | None = None,
    visited_on: date,
    outcome: str,
    people_found: int | None = None,
    found_persons: Iterable[Person] = (),
    arrivals_found: int = 0,
    note: str = "",
    now: datetime | None = None,
) -> HouseholdVisit:
    """Record a household visited (in a round, or on its own). `found_persons` must be
    members of the household; `people_found` (default: how many of them were found) may
    add people found there who are not registered members."""
    now = now or timezone.now()
    if outcome not in HouseholdVisit.Outcome.values:
        raise RuleError(_("排查结果不正确。"), field="outcome")
    if visited_on > timezone.localdate(now):
        raise RuleError(_("排查日期不能晚于今天。"), field="visited_on", code="future")
    if canvass_round is not None and not household.grid.path.startswith(canvass_round.region.path):
        raise RuleError(_("该户不在本轮排查范围内。"), field="household", code="outside_round")
    found = list(found_persons)
    if any(person.household_id != household.pk for person in found):
        raise RuleError(_("在住人员须为该户成员。"), field="found_persons", code="not_member")
    people_found = len(found) if people_found is None else people_found
    if people_found < len(found) or arrivals_found < 0:
        raise RuleError(_("在住人数不能少于勾选的在住人员数。"), field="people_found")

    visit = None
    if canvass_round is not None:
        visit = (
            HouseholdVisit.objects.select_for_update()
            .filter(canvass_round=canvass_round, household=household)
            .first()
        )
    before = _visit_snapshot(visit, visit.found_persons.all()) if visit else {}
    values = {
        "grid_id": household.grid_id,
        "visited_on": visited_on,
        "outcome": outcome,
        "people_found": people_found,
        "arrivals_found": arrivals_found,
        "note": note,
        "visitor": acting_user(actor),
        "recorded_at": now,
    }
    if visit is None:
        visit = HouseholdVisit.objects.create(
            canvass_round=canvass_round, household=household, **values
        )
    else:
        for name, value in values.items():
            setattr(visit, name, value)
        visit.save(update_fields=[name.removesuffix("_id") for name in values])
    visit.found_persons.set(found)
    record_change(
        actor,
        visit,
        ChangeLog.Action.UPDATE if before else ChangeLog.Action.CREATE,
        diff(before, _visit_snapshot(visit, found)),
        region=household.grid,
    )
    if canvass_round is not None:
        _close_grid_if_done(canvass_round, household.grid_id, now)
    return visit


def _close_grid_if_done(canvass_round: CanvassRound, grid_id: int, now: datetime) -> None:
    """The grid's task of the round closes with its last household visited."""
    unvisited = Household.objects.filter(grid_id=grid_id).exclude(
        visits__canvass_round=canvass_round
    )
    if not unvisited.exists():
        deadlines.tasks_of(canvass_round, Duty.CANVASS).filter(
            region_id=grid_id, status=Task.Status.OPEN
        ).update(status=Task.Status.DONE, done_at=now)


# Coverage ---------------------------------------------------------------------------------


@dataclass
class Coverage:
    region: Region
    households: int = 0
    visited: int = 0
    people_found: int = 0
    arrivals_found: int = 0
    grids: list["Coverage"] = field(default_factory=list)

    @property
    def unvisited(self) -> int:
        return self.households - self.visited

    @property
    def rate(self) -> float:
        """Percent of households visited (100 for an area without households)."""
        return round(100 * self.visited / self.households, 1) if self.households else 100.0

    def add(self, other: "Coverage") -> None:
        self.households += other.households
        self.visited += other.visited
        self.people_found += other.people_found
        self.arrivals_found += other.arrivals_found


@dataclass
class RoundCoverage:
    total: Coverage
    communities: list[Coverage]

    @property
    def grids(self) -> list[Coverage]:
        return [grid for community in self.communities for grid in community.grids]


def round_households(canvass_round: CanvassRound, user):
    """The households of the round's area that the user may see."""
    return Household.objects.visible_to(user).filter(
        grid__path__startswith=canvass_round.region.path
    )


def coverage(canvass_round: CanvassRound, user) -> RoundCoverage:
    """Households total / visited, people and arrivals found, per grid and community of the
    round, within the user's jurisdiction."""
    households = dict(
        round_households(canvass_round, user)
        .values("grid")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("grid", "n")
    )
    visits = {
        row["grid"]: row
        for row in HouseholdVisit.objects.visible_to(user)
        .filter(canvass_round=canvass_round, grid__in=list(households))
        .values("grid")
        .annotate(visited=Count("id"), people=Sum("people_found"), arrivals=Sum("arrivals_found"))
        .order_by()
    }
    grids = Region.objects.filter(pk__in=list(households)).select_related("parent")
    communities: dict[int, Coverage] = {}
    for grid in sorted(grids, key=lambda g: g.path):
        seen = visits.get(grid.pk, {})
        row = Coverage(
            grid,
            households=households[grid.pk],
            visited=seen.get("visited", 0),
            people_found=seen.get("people") or 0,
            arrivals_found=seen.get("arrivals") or 0,
        )
        community = communities.setdefault(grid.parent_id, Coverage(grid.parent))
        community.grids.append(row)
        community.add(row)
    total = Coverage(canvass_round.region)
    for community in communities.values():
        total.add(community)
    return RoundCoverage(total, list(communities.values()))


def unvisited_households(canvass_round: CanvassRound, user, grid: Region | None = None):
    """The round's households in the user's scope not yet visited, with their member count,
    in address order."""
    households = round_households(canvass_round, user).exclude(visits__canvass_round=canvass_round)
    if grid is not None:
        households = households.filter(grid=grid)
    return (
        households.select_related("grid")
        .annotate(members_count=Count("members"))
        .order_by("grid__path", "address", "pk")
    )


def masked_members(households) -> dict[int, list[str]]:
    """Household id → its members' names, masked (one query)."""
    names: dict[int, list[str]] = {}
    for household_id, name in (
        Person.objects.filter(household__in=households)
        .order_by("household", "id")
        .values_list("household", "name")
    ):
        names.setdefault(household_id, []).append(mask_name(name))
    return names


def is_late(canvass_round: CanvassRound, covered: Coverage, now: datetime | None = None) -> bool:
    return covered.unvisited > 0 and (now or timezone.now()) > canvass_round.deadline


def visits_in_round(canvass_round: CanvassRound, households) -> dict[int, HouseholdVisit]:
    """Household id → its visit in the round, with the persons found (two queries)."""
    visits = (
        HouseholdVisit.objects.filter(canvass_round=canvass_round, household__in=households)
        .select_related("visitor")
        .prefetch_related("found_persons")
    )
    return {visit.household_id: visit for visit in visits}
