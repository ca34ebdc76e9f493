"""Risk areas against travel history: publishing a list, flagging everyone it concerns, and
"what level was this place on that day".

The matching rule, in one place (`_MATCH_SQL`): a stay matches an area when
- the stay's adcode starts with the area's code prefix (two digits for a province, four for
  a city, six for a district) and, for an area below the district, the stay's address detail
  contains the area's locality;
- the stay overlaps the area's period in force (`effective_from` … `effective_to`, both
  days counted; open-ended while in force);
- the stay overlaps the look-back window ending on the reference day (`look_back_start(on)`
  … `on`): the stay's last day is on or after the window's first day.
A person is marked with the highest level among the areas their stays match.

Flagging is one INSERT … SELECT per prefix length (the join is an equality on a prefix of
the stay's code, which PostgreSQL hashes), so a list of hundreds of areas against millions of
stays takes seconds; `ON CONFLICT DO NOTHING` on (person, area) makes publishing idempotent.
"""

import time as clock
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from fangyi.core import deadlines
from fangyi.core.audit import ChangeLog, record_change
from fangyi.core.models import Alert, Duty
from fangyi.core.rules import RuleError, lazy_format
from fangyi.geo.models import Region
from fangyi.travel.addresses import Resolution, resolve_many
from fangyi.travel.models import (
    LEVEL_RANK,
    PREFIX_LENGTH,
    AreaList,
    AreaScale,
    RiskArea,
    RiskFlag,
    Stay,
    look_back_start,
)

ADD = "add"
LIFT = "lift"


@dataclass
class AreaEntry:
    """One line of a list being published: an area to add at a level, or to lift."""

    line: int
    text: str
    level: str
    action: str = ADD
    resolution: Resolution | None = None


@dataclass
class ListProblem:
    line: int
    text: str
    reason: str


@dataclass
class PublishPreview:
    entries: list[AreaEntry] = field(default_factory=list)
    problems: list[ListProblem] = field(default_factory=list)


def check_entries(entries: list[AreaEntry]) -> PublishPreview:
    """Resolve every entry's place in one pass; what cannot be resolved is a problem, and a
    list with problems is not published (all or nothing)."""
    preview = PublishPreview()
    resolutions = resolve_many([entry.text for entry in entries])
    seen: dict[tuple, int] = {}
    for entry, resolution in zip(entries, resolutions, strict=True):
        entry.resolution = resolution
        if not resolution.adcode:
            reason = _("无法识别的地区名称，请写明省、市、区县。")
        elif resolution.ambiguous:
            reason = resolution.problem
        elif resolution.detail and not resolution.district:
            # cpca kept the province or city and left the rest: publishing would widen a
            # district or street it does not know to the whole city.
            reason = lazy_format(
                _("“%(rest)s”不是%(place)s下的区县，无法确定范围。请写明区县名称。"),
                rest=resolution.detail,
                place=resolution.region_name,
            )
        elif entry.action == ADD and not entry.level:
            reason = _("未注明风险等级（高风险、中风险或低风险）。")
        elif (key := _area_key(resolution)) in seen:
            reason = lazy_format(_("与第 %(line)s 行重复。"), line=seen[key])
        else:
            seen[key] = entry.line
            preview.entries.append(entry)
            continue
        preview.problems.append(ListProblem(entry.line, entry.text, str(reason)))
    return preview


def _area_key(resolution: Resolution) -> tuple[str, str, str]:
    scale = resolution.scale
    prefix = resolution.adcode[: PREFIX_LENGTH[scale]]
    return scale, prefix, resolution.locality if scale == AreaScale.LOCALITY else ""


@transaction.atomic
def publish(
    actor, *, title: str, effective_from: date, entries: list[AreaEntry], source: str = ""
) -> AreaList:
    """Publish a list: new areas take effect on `effective_from`; a listed area already in
    force at another level ends the day before and restarts at the new level; lifted areas
    end the day before. Then everyone whose stays match the new areas is flagged."""
    preview = check_entries(entries)
    if preview.problems:
        raise RuleError(
            lazy_format(_("名单中有 %(count)s 行无法识别，未发布。"), count=len(preview.problems)),
            code="unresolved",
        )
    area_list = AreaList.objects.create(
        title=title, source=source, effective_from=effective_from, published_by=actor
    )
    last_day = effective_from - timedelta(days=1)
    in_force = {}
    for area in RiskArea.objects.on(effective_from).select_for_update():
        in_force[(area.scale, area.code_prefix, area.locality)] = area
    new_areas, ended = [], []
    for entry in preview.entries:
        key = _area_key(entry.resolution)
        current = in_force.get(key)
        if current is not None and (entry.action == LIFT or current.level != entry.level):
            current.effective_to = last_day
            current.lifted_by = area_list
            ended.append(current)
        if entry.action == ADD and (current is None or current.level != entry.level):
            scale, prefix, locality = key
            new_areas.append(
                RiskArea(
                    area_list=area_list,
                    level=entry.level,
                    scale=scale,
                    name=entry.resolution.address,
                    adcode=entry.resolution.adcode,
                    code_prefix=prefix,
                    locality=locality,
                    effective_from=effective_from,
                )
            )
    RiskArea.objects.bulk_update(ended, ["effective_to", "lifted_by"])
    RiskArea.objects.bulk_create(new_areas)
    area_list.areas_added = len(new_areas)
    area_list.areas_lifted = sum(1 for e in preview.entries if e.action == LIFT)
    started = clock.perf_counter()
    area_list.persons_flagged = flag_new_areas(area_list)
    area_list.flag_seconds = round(clock.perf_counter() - started, 3)
    area_list.save()
    record_change(
        actor,
        area_list,
        ChangeLog.Action.CREATE,
        {"areas_added": ["", str(area_list.areas_added)], "lifted": ["", str(len(ended))]},
    )
    return area_list


# The rule (module docstring). {prefix} is the length of code prefix joined on; {where} adds
# the restriction of the caller (the areas of one list, or one person's stays).
_MATCH_SQL = """
SELECT s.person_id, a.id AS area_id, MIN(s.id) AS stay_id, a.level, p.grid_id
FROM travel_stay s
JOIN travel_riskarea a
  ON a.code_prefix = substr(s.adcode, 1, {prefix}) AND a.scale IN ({scales})
JOIN people_person p ON p.id = s.person_id
WHERE s.to_date >= %(window_start)s AND s.from_date <= %(on)s
  AND s.to_date >= a.effective_from
  AND (a.effective_to IS NULL OR s.from_date <= a.effective_to)
  AND (a.scale <> 'locality' OR s.detail LIKE '%%' || a.locality || '%%')
  {where}
GROUP BY s.person_id, a.id, a.level, p.grid_id
"""


def _match_statements(where: str) -> list[str]:
    by_length = defaultdict(list)
    for scale, length in PREFIX_LENGTH.items():
        by_length[length].append(f"'{scale.value}'")
    return [
        _MATCH_SQL.format(prefix=length, scales=", ".join(scales), where=where)
        for length, scales in sorted(by_length.items())
    ]


def match_params(on: date, **extra) -> dict:
    return {"window_start": look_back_start(on), "on": on, **extra}


def _insert_flags(cursor, where: str, params: dict) -> None:
    """Open a flag for every (person, area) match not flagged before."""
    for select in _match_statements(where):
        # Our own SQL text; every value is a parameter.
        insert = (
            "INSERT INTO travel_riskflag"  # noqa: S608
            " (person_id, area_id, stay_id, level, grid_id, flagged_at, status, note)"
            " SELECT person_id, area_id, stay_id, level, grid_id, %(now)s, 'open', ''"
            f" FROM ({select}) m WHERE true"
            " ON CONFLICT (person_id, area_id) DO NOTHING"
        )
        cursor.execute(insert, params)


def flag_new_areas(area_list: AreaList, on: date | None = None, now: datetime | None = None):
    """Flag everyone whose stays match the list's new areas; one task and one alert per grid
    concerned. Returns the number of persons newly flagged."""
    on = on or timezone.localdate()
    now = now or timezone.now()
    params = match_params(on, list_id=area_list.pk, now=now)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The list's areas were just inserted (this transaction's own rows count): without
            # fresh statistics the planner takes them for one row and scans the window's stays
            # once per area (bench/README.md, risk_area_publish).
            cursor.execute("ANALYZE travel_riskarea")
        _insert_flags(cursor, "AND a.area_list_id = %(list_id)s", params)
        cursor.execute(
            "SELECT f.grid_id, COUNT(DISTINCT f.person_id) FROM travel_riskflag f"
            " JOIN travel_riskarea a ON a.id = f.area_id"
            " WHERE a.area_list_id = %(list_id)s AND f.flagged_at = %(now)s"
            " GROUP BY f.grid_id",
            params,
        )
        per_grid = dict(cursor.fetchall())
    _tell_grids(area_list, per_grid, now)
    return sum(per_grid.values())


def flag_person(person_id: int, on: date | None = None, now: datetime | None = None) -> int:
    """Flag one person against every area in force (after a stay was recorded for them);
    returns how many areas newly matched. The one recording the stay sees the result at
    once, so no task is opened."""
    on = on or timezone.localdate()
    params = match_params(on, person_id=person_id, now=now or timezone.now())
    with connection.cursor() as cursor:
        _insert_flags(cursor, "AND s.person_id = %(person_id)s", params)
        cursor.execute(
            "SELECT COUNT(*) FROM travel_riskflag WHERE person_id = %(person_id)s"
            " AND flagged_at = %(now)s",
            params,
        )
        return cursor.fetchone()[0]


def _tell_grids(area_list: AreaList, per_grid: dict[int, int], now: datetime) -> None:
    if not per_grid:
        return
    regions = Region.objects.in_bulk(per_grid)
    items = [
        (
            area_list,
            regions[grid_id],
            str(
                lazy_format(
                    _("%(grid)s：%(count)s 人有风险地区旅居史待核查（%(list)s）"),
                    grid=regions[grid_id].full_name,
                    count=count,
                    list=area_list.title,
                )
            ),
        )
        for grid_id, count in per_grid.items()
    ]
    tasks = deadlines.open_committee_tasks(Duty.VERIFY_RISK_FLAGS, items, started_at=now)
    Alert.objects.bulk_create(
        Alert(
            region=task.region,
            organisation=task.responsible_organisation,
            task=task,
            message=task.subject_label[:255],
            created_at=now,
        )
        for task in tasks
    )


@transaction.atomic
def handle_flag(actor, flag: RiskFlag, *, status: str, note: str = "") -> RiskFlag:
    """The grid verified a flag (followed up, or found it does not apply); the grid's task
    for that list closes when its last open flag is handled."""
    if flag.status != RiskFlag.Status.OPEN:
        raise RuleError(_("该人员已核查，无需重复处理。"), code="already_handled")
    if status == RiskFlag.Status.DISMISSED and not note.strip():
        raise RuleError(_("核查排除须说明原因。"), field="note", code="note_required")
    flag.status = status
    flag.note = note.strip()
    flag.handled_at = timezone.now()
    flag.handled_by = actor
    flag.save(update_fields=["status", "note", "handled_at", "handled_by"])
    area_list = flag.area.area_list
    still_open = RiskFlag.objects.open().filter(grid=flag.grid, area__area_list=area_list)
    if not still_open.exists():
        deadlines.tasks_of(area_list, Duty.VERIFY_RISK_FLAGS).filter(
            region=flag.grid, status="open"
        ).update(status="done", done_at=flag.handled_at)
    record_change(
        actor,
        flag,
        ChangeLog.Action.UPDATE,
        {"status": [str(RiskFlag.Status.OPEN.label), flag.get_status_display()]},
        region=flag.grid,
    )
    return flag


@dataclass
class Match:
    area: RiskArea
    stay: Stay


def matches_of(person_id: int, on: date) -> list[Match]:
    """The areas this person's stays match for the reference day, highest level first."""
    rows = []
    with connection.cursor() as cursor:
        for select in _match_statements("AND s.person_id = %(person_id)s"):
            cursor.execute(select, match_params(on, person_id=person_id))
            rows += [(area_id, stay_id) for _p, area_id, stay_id, _l, _g in cursor.fetchall()]
    areas = RiskArea.objects.in_bulk({a for a, _ in rows})
    stays = Stay.objects.in_bulk({s for _, s in rows})
    found = [Match(areas[a], stays[s]) for a, s in rows]
    return sorted(found, key=lambda m: (-m.area.rank, m.area.name))


def highest_level(matches: list[Match]) -> str:
    """The highest level among the matches, '' when none."""
    return max((m.area.level for m in matches), key=LEVEL_RANK.get, default="")


def areas_on(address: str, day: date) -> tuple[Resolution, list[RiskArea]]:
    """Was this place in a risk area on that day, and which (history kept: lifted areas
    still answer for the days they were in force)."""
    resolution = resolve_many([address])[0]
    if not resolution.resolved:
        return resolution, []
    areas = RiskArea.objects.on(day).covering(resolution.adcode, resolution.detail)
    return resolution, sorted(areas, key=lambda a: -a.rank)
