"""Following up deadlines: whose tasks and alerts these are, and how timely each unit is.

Whose task is it ("my tasks")
-----------------------------
An open task concerns a user when it lies in the user's jurisdiction (`visible_to`) and
  1. the user is its responsible person, or
  2. the user's organisation is its responsible unit and the duty is one the user's role
     takes up (below; a duty no role takes up, such as reporting, goes to the whole unit), or
  3. it names no responsible person and its duty is work the user's role takes up in the
     jurisdiction (`UNASSIGNED_DUTY_ROLES`): case-card reviews go to CDC reviewers,
     investigations to CDC epidemiologists, the control of contacts to CDC epidemiologists
     and street and grid workers. A duty missing from that table goes to all of these
     jurisdiction roles, so a new duty is never nobody's. Some roles take up a duty only
     for their own unit (`UNIT_DUTY_ROLES`): a quarantine facility's staff, its residents'
     fever referrals, missed checks and tests.
A grid worker thus sees the contacts to control in their grid, a street worker those of the
whole street, the CDC reviewer every card waiting for review in the county, a clinician the
cards they (or their hospital) still have to report. Alerts follow the same rule; an alert
without a task concerns the user it names, the unit it names, or — naming neither — every
user of the jurisdiction. An alert is read for everyone it concerns once one of them marks
it read: it tells a unit something, and the unit has then seen it.

Timeliness
----------
`timeliness_table` counts, per responsible unit and duty, the tasks started in a date range:
done on time (done_at <= due_at), late (done late, or open past the due time), still
pending (open, not yet due). The on-time rate is on time / (on time + late): a task not yet
due has no outcome yet. Cancelled tasks are no duty and are left out. The figures are two
queries whatever the number of tasks: one aggregate, one list of the late tasks' times for
the median delays.
"""

from __future__ import annotations

import operator
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import reduce

from django.contrib.contenttypes.models import ContentType
from django.db.models import Count, Exists, F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.timesince import timesince, timeuntil
from django.utils.translation import gettext as _

from fangyi.accounts.roles import RoleCode
from fangyi.core.models import Alert, Duty, Task

JURISDICTION_ROLES = frozenset(
    {
        RoleCode.CDC_EPIDEMIOLOGIST,
        RoleCode.CDC_REVIEWER,
        RoleCode.STREET_WORKER,
        RoleCode.GRID_WORKER,
    }
)
# Which roles take up a task of that duty when it names no responsible person.
UNASSIGNED_DUTY_ROLES: dict[str, frozenset[str]] = {
    Duty.REPORT_CASE: frozenset(),  # always the reporter's (and their unit's) own
    Duty.REVIEW_CASE: frozenset({RoleCode.CDC_REVIEWER}),
    Duty.INVESTIGATE_CASE: frozenset({RoleCode.CDC_EPIDEMIOLOGIST}),
    Duty.CONTROL_CONTACT: frozenset(
        {RoleCode.CDC_EPIDEMIOLOGIST, RoleCode.STREET_WORKER, RoleCode.GRID_WORKER}
    ),
    # Measures: a facility's own staff get its tasks through their unit (rule 2).
    Duty.REFER_FEVER: frozenset(
        {RoleCode.CDC_EPIDEMIOLOGIST, RoleCode.STREET_WORKER, RoleCode.GRID_WORKER}
    ),
    Duty.MISSED_CHECK: frozenset({RoleCode.STREET_WORKER, RoleCode.GRID_WORKER}),
    Duty.MEASURE_TEST: frozenset({RoleCode.STREET_WORKER, RoleCode.GRID_WORKER}),
    # Lab: a late result is the lab's own, a new sample the sending unit's; the single-tube
    # re-test of a positive pool's members is organised in their grids.
    Duty.RESULT_SAMPLE: frozenset(),
    Duty.RESAMPLE: frozenset(),
    Duty.POOL_RETEST: frozenset(
        {RoleCode.CDC_EPIDEMIOLOGIST, RoleCode.STREET_WORKER, RoleCode.GRID_WORKER}
    ),
    # Arrivals: the grid verifies flagged stays and walks its households, the street places
    # arrivals it could not house at once, each community reports daily.
    Duty.VERIFY_RISK_FLAGS: frozenset({RoleCode.STREET_WORKER, RoleCode.GRID_WORKER}),
    Duty.PLACE_ARRIVAL: frozenset({RoleCode.STREET_WORKER}),
    Duty.DAILY_REPORT: frozenset({RoleCode.STREET_WORKER}),
    Duty.CANVASS: frozenset({RoleCode.STREET_WORKER, RoleCode.GRID_WORKER}),
    # Surveillance: a signal is the duty epidemiologist's (named on the task) or else the
    # CDC epidemiologists'; a pharmacy reports its own sales; the grid follows up a buyer.
    Duty.VERIFY_SIGNAL: frozenset({RoleCode.CDC_EPIDEMIOLOGIST}),
    Duty.REPORT_SALES: frozenset(),
    Duty.FOLLOW_UP_BUYER: frozenset({RoleCode.STREET_WORKER, RoleCode.GRID_WORKER}),
}
# Roles that take up a duty only when their own unit is responsible (rule 2), never across
# the jurisdiction: a quarantine facility's staff do the checks and tests of its residents.
UNIT_DUTY_ROLES = {
    Duty.REFER_FEVER: frozenset({RoleCode.FACILITY_STAFF}),
    Duty.MISSED_CHECK: frozenset({RoleCode.FACILITY_STAFF}),
    Duty.MEASURE_TEST: frozenset({RoleCode.FACILITY_STAFF}),
}
# "Due soon" on the my-tasks page.
DUE_SOON = timedelta(hours=2)
NO_UNIT = "—"
DUTY_LABELS = dict(Duty.choices)
DUTY_ORDER = {value: index for index, value in enumerate(Duty.values)}


def _duties_of_roles(user, duty_field: str, table: dict) -> list[Q]:
    """Per duty of the table, "the duty is this one and the user has one of its roles", as
    SQL: the roles are looked up inside the one query (uncorrelated, so evaluated once)."""
    user_roles = user.roles.through.objects.filter(user_id=user.pk)
    return [
        Q(**{duty_field: duty}) & Exists(user_roles.filter(role_id__in=roles))
        for duty, roles in table.items()
        if roles
    ]


def _takes_up(user, duty_field: str) -> Q:
    """Work of the user's roles among unassigned tasks (UNASSIGNED_DUTY_ROLES)."""
    user_roles = user.roles.through.objects.filter(user_id=user.pk)
    conditions = _duties_of_roles(user, duty_field, UNASSIGNED_DUTY_ROLES)
    other_duties = Q(**{f"{duty_field}__isnull": False}) & ~Q(
        **{f"{duty_field}__in": list(UNASSIGNED_DUTY_ROLES)}
    )
    conditions.append(other_duties & Exists(user_roles.filter(role_id__in=JURISDICTION_ROLES)))
    return reduce(operator.or_, conditions)


def _concerns(user, *, user_field: str, organisation_field: str, duty_field: str) -> Q:
    takes_up = _takes_up(user, duty_field)
    condition = Q(**{user_field: user.pk})
    if user.organisation_id:
        # A unit's task goes to those of its members whose role does that duty (a CDC's
        # reviews to its reviewers); duties no role takes up go to the whole unit.
        unit_wide = [duty for duty, roles in UNASSIGNED_DUTY_ROLES.items() if not roles]
        own_unit = reduce(
            operator.or_, _duties_of_roles(user, duty_field, UNIT_DUTY_ROLES), takes_up
        )
        condition |= Q(**{organisation_field: user.organisation_id}) & (
            Q(**{f"{duty_field}__in": unit_wide}) | own_unit
        )
    return condition | (Q(**{f"{user_field}__isnull": True}) & takes_up)


def tasks_for(user):
    """Open tasks concerning the user (module docstring: "Whose task is it")."""
    if not user.is_authenticated:
        return Task.objects.none()
    concerning = _concerns(
        user,
        user_field="responsible_user",
        organisation_field="responsible_organisation",
        duty_field="duty",
    )
    return Task.objects.visible_to(user).open().filter(concerning)


def alerts_for(user):
    """Alerts concerning the user: those of their tasks, and those without a task addressed
    to them, their unit or nobody in particular."""
    if not user.is_authenticated:
        return Alert.objects.none()
    concerning = _concerns(
        user, user_field="user", organisation_field="organisation", duty_field="task__duty"
    ) | Q(user__isnull=True, organisation__isnull=True, task__isnull=True)
    if user.organisation_id:
        # An alert naming a unit and no task (a positive fed back to the sending unit).
        concerning |= Q(user__isnull=True, organisation=user.organisation_id, task__isnull=True)
    return Alert.objects.visible_to(user).filter(concerning)


def mark_alerts_read(user, *, pk: int | None = None) -> int:
    """Mark one alert, or all the user's unread ones, read. Returns how many matched: for
    one alert, 0 when it is not the user's (an alert read before still counts)."""
    now = timezone.now()
    if pk is None:
        return alerts_for(user).filter(read_at__isnull=True).update(read_at=now)
    return alerts_for(user).filter(pk=pk).update(read_at=Coalesce(F("read_at"), now))


# --- My tasks ------------------------------------------------------------------------


@dataclass
class Section:
    key: str  # "overdue", "soon", "later"
    title: str
    count: int
    tasks: list[Task]

    @property
    def more(self) -> int:
        return self.count - len(self.tasks)


def task_sections(user, *, now: datetime | None = None, limit: int = 100) -> list[Section]:
    """The user's open tasks: overdue, due within DUE_SOON, later (each the `limit` most
    urgent), each task with `subject_url` and `time_text` set. A fixed number of queries."""
    now = now or timezone.now()
    soon = now + DUE_SOON
    tasks = tasks_for(user)
    bounds = {
        "overdue": Q(due_at__lt=now),
        "soon": Q(due_at__gte=now, due_at__lt=soon),
        "later": Q(due_at__gte=soon),
    }
    counts = tasks.aggregate(**{key: Count("id", filter=q) for key, q in bounds.items()})
    titles = {"overdue": _("已超时"), "soon": _("2小时内到期"), "later": _("稍后到期")}
    listed = tasks.select_related("region", "responsible_organisation").order_by("due_at", "id")
    sections = [
        Section(
            key, titles[key], counts[key], list(listed.filter(q)[:limit]) if counts[key] else []
        )
        for key, q in bounds.items()
    ]
    shown = [task for section in sections for task in section.tasks]
    urls = subject_urls(shown)
    for task in shown:
        task.subject_url = urls.get((task.content_type_id, task.object_id))
        task.time_text = time_left_text(task.due_at, now)
    return sections


def subject_urls(tasks) -> dict[tuple[int, int], str]:
    """(content type id, object id) → the subject's page, for subjects whose model has one
    (`get_absolute_url`). One query per kind of subject, whatever the number of tasks."""
    ids_by_type: dict[int, set[int]] = defaultdict(set)
    for task in tasks:
        ids_by_type[task.content_type_id].add(task.object_id)
    urls = {}
    for type_id, ids in ids_by_type.items():
        model = ContentType.objects.get_for_id(type_id).model_class()
        if model is None or not hasattr(model, "get_absolute_url"):
            continue
        for pk, subject in model._base_manager.in_bulk(ids).items():
            urls[(type_id, pk)] = subject.get_absolute_url()
    return urls


def time_left_text(due_at: datetime, now: datetime) -> str:
    """ "剩余 1 小时，20 分钟" / "超时 3 日，2 小时" (two units at most)."""
    if abs(due_at - now) < timedelta(minutes=1):
        return _("不到 1 分钟")
    if due_at >= now:
        return _("剩余 %(time)s") % {"time": timeuntil(due_at, now, depth=2)}
    return _("超时 %(time)s") % {"time": timesince(due_at, now, depth=2)}


# --- Timeliness per unit and duty ----------------------------------------------------


@dataclass
class Row:
    unit: str  # the responsible organisation's name, NO_UNIT when none
    organisation_id: int | None
    duty: str
    total: int = 0
    done: int = 0
    on_time: int = 0
    overdue_open: int = 0
    # Hours past the due time of each late task (done late, or open and overdue till now).
    delays: list[float] = field(default_factory=list, repr=False)
    is_total: bool = False

    @property
    def duty_label(self) -> str:
        return DUTY_LABELS.get(self.duty, self.duty)

    @property
    def late(self) -> int:
        return self.total - self.on_time - self.pending

    @property
    def pending(self) -> int:
        """Open and not yet due: no outcome yet."""
        return self.total - self.done - self.overdue_open

    @property
    def on_time_rate(self) -> float | None:
        decided = self.on_time + self.late
        return self.on_time / decided if decided else None

    @property
    def on_time_percent(self) -> float | None:
        rate = self.on_time_rate
        return None if rate is None else round(rate * 100, 1)

    @property
    def median_delay_hours(self) -> float | None:
        return statistics.median(self.delays) if self.delays else None


def day_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """[start 00:00, the day after end 00:00) in the project's zone (Asia/Shanghai)."""
    zone = timezone.get_default_timezone()
    return (
        datetime.combine(start, time.min, tzinfo=zone),
        datetime.combine(end + timedelta(days=1), time.min, tzinfo=zone),
    )


def timeliness_table(
    user, start: date, end: date, duty: str | None = None, *, now: datetime | None = None
) -> list[Row]:
    """Per responsible unit and duty, the tasks visible to the user started from `start` to
    `end` (local dates, both included). Units in name order, no unit last."""
    now = now or timezone.now()
    since, until = day_bounds(start, end)
    tasks = (
        Task.objects.visible_to(user)
        .exclude(status=Task.Status.CANCELLED)
        .filter(started_at__gte=since, started_at__lt=until)
    )
    if duty:
        tasks = tasks.filter(duty=duty)
    done = Q(status=Task.Status.DONE)
    overdue_open = Q(status=Task.Status.OPEN, due_at__lt=now)
    groups = (
        tasks.values("responsible_organisation_id", "responsible_organisation__name", "duty")
        .annotate(
            total=Count("id"),
            done=Count("id", filter=done),
            on_time=Count("id", filter=done & Q(done_at__lte=F("due_at"))),
            overdue_open=Count("id", filter=overdue_open),
        )
        .order_by()
    )
    rows = {
        (g["responsible_organisation_id"], g["duty"]): Row(
            unit=g["responsible_organisation__name"] or NO_UNIT,
            organisation_id=g["responsible_organisation_id"],
            duty=g["duty"],
            total=g["total"],
            done=g["done"],
            on_time=g["on_time"],
            overdue_open=g["overdue_open"],
        )
        for g in groups
    }
    late = tasks.filter((done & Q(done_at__gt=F("due_at"))) | overdue_open).order_by()
    for organisation_id, task_duty, due_at, done_at in late.values_list(
        "responsible_organisation_id", "duty", "due_at", "done_at"
    ):
        delay = (done_at or now) - due_at
        rows[(organisation_id, task_duty)].delays.append(delay.total_seconds() / 3600)
    return sorted(
        rows.values(),
        key=lambda r: (r.organisation_id is None, r.unit, r.organisation_id or 0, _duty_rank(r)),
    )


def duty_totals(rows: list[Row]) -> list[Row]:
    """One row per duty over all units ("合计"), the median over all its late tasks."""
    totals: dict[str, Row] = {}
    for row in rows:
        total = totals.setdefault(row.duty, Row(_("合计"), None, row.duty, is_total=True))
        total.total += row.total
        total.done += row.done
        total.on_time += row.on_time
        total.overdue_open += row.overdue_open
        total.delays.extend(row.delays)
    return sorted(totals.values(), key=_duty_rank)


def _duty_rank(row: Row) -> int:
    return DUTY_ORDER.get(row.duty, len(DUTY_ORDER))
