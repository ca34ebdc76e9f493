"""The communities' daily report to the street (日报告/零报告, seed 003: by 13:00 each day).

Figures come from the system, counted set-based for many communities at once (one GROUP BY
query per kind of figure); the reporter confirms them as shown, or files a zero report when
the day found nothing new. One report per community and day: a resubmission replaces the
report (audited) and takes the new submission time, so a correction after the deadline is
late. Each community has a DAILY_REPORT task per day, opened at 00:00 and due at the
deadline (`ReportRule`, data); submitting closes it, and the overdue machinery alerts the
communities that have not reported.

A new arrival is counted once, on the first day it has both arrived and been registered:
its arrival day when it was reported ahead, the day of its registration when it was
reported late. So an arrival registered days after it arrived is still reported once, on
the day the community learnt of it.
"""

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta

from django.db import transaction
from django.db.models import Case, Count, F, Q, When
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from fangyi.core import deadlines
from fangyi.core.audit import ChangeLog, diff, record_change
from fangyi.core.models import Duty, Task
from fangyi.core.rules import RuleError
from fangyi.geo.models import Region
from fangyi.measures.models import HealthCheck, Measure, MeasureType
from fangyi.measures.services import local_day_range, local_day_start
from fangyi.measures.tables import under_control_on
from fangyi.travel.models import Arrival, DailyReport, HouseholdVisit, ReportRule, RiskFlag

# Arrival levels in the order of the figures ("" is an origin outside any risk area).
ORIGIN_LEVELS = ["high", "medium", "low", ""]
ORIGIN_LABELS = {
    "high": gettext_lazy("高风险"),
    "medium": gettext_lazy("中风险"),
    "low": gettext_lazy("低风险"),
    "": gettext_lazy("非风险地区"),
}
FIGURE_LABELS = {
    "new_arrivals": gettext_lazy("新增来返人员"),
    "under_measure": gettext_lazy("在管控人员"),
    "releases": gettext_lazy("当日解除"),
    "abnormal": gettext_lazy("健康监测异常"),
    "new_flags": gettext_lazy("新增风险地区旅居人员"),
    "open_flags": gettext_lazy("待核查风险地区旅居人员"),
    "households_visited": gettext_lazy("当日入户排查户数"),
}


@dataclass
class Figures:
    """A community's figures of a day, as stored with its report (JSON)."""

    new_arrivals: int = 0
    arrivals_by_level: dict[str, int] = field(default_factory=dict)
    under_measure: int = 0
    measures_by_type: dict[str, int] = field(default_factory=dict)
    releases: int = 0
    abnormal: int = 0  # persons with an abnormal health check that day
    new_flags: int = 0  # persons matched to a risk area that day (by a list or an arrival)
    open_flags: int = 0  # flags still to verify when the figures were counted
    households_visited: int = 0

    @property
    def nothing_new(self) -> bool:
        """What a zero report asserts: no new finding that day."""
        return not (self.new_arrivals or self.abnormal or self.new_flags)

    def as_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "Figures":
        return cls(**{name: data[name] for name in cls.__dataclass_fields__ if name in data})

    def level_rows(self) -> list[tuple[str, int]]:
        return [(str(ORIGIN_LABELS[lv]), self.arrivals_by_level.get(lv, 0)) for lv in ORIGIN_LEVELS]

    def type_rows(self) -> list[tuple[str, int]]:
        return [(str(label), self.measures_by_type.get(v, 0)) for v, label in MeasureType.choices]

    def summary(self) -> str:
        """One line for tables and exports."""
        return "；".join(
            f"{FIGURE_LABELS[name]} {getattr(self, name)}"
            for name in ("new_arrivals", "under_measure", "releases", "abnormal", "new_flags")
        )


def _community(region_field: str) -> Case:
    """The community (village) of a record's region: the region itself when it is a
    village, else its parent (records sit on grids)."""
    return Case(
        When(**{f"{region_field}__level": Region.Level.VILLAGE}, then=F(region_field)),
        default=F(f"{region_field}__parent"),
    )


def _in(queryset, region_field: str, ids: list[int]):
    return queryset.filter(
        Q(**{f"{region_field}__in": ids}) | Q(**{f"{region_field}__parent__in": ids})
    )


def _grouped(queryset, region_field: str, ids, *extra, **aggregates):
    return (
        _in(queryset, region_field, ids)
        .annotate(community=_community(region_field))
        .values("community", *extra)
        .annotate(**aggregates)
        .order_by()
    )


def community_figures(communities, day: date) -> dict[int, Figures]:
    """Figures of the day for each community (seven queries whatever their number)."""
    ids = [c.pk if isinstance(c, Region) else c for c in communities]
    figures = {pk: Figures() for pk in ids}
    start, end = local_day_range(day)

    arrived_and_known = Q(arrival_date=day, created_at__lt=end) | Q(
        arrival_date__lt=day, created_at__gte=start, created_at__lt=end
    )
    arrivals = Arrival.objects.filter(arrived_and_known)
    for row in _grouped(arrivals, "grid", ids, "origin_level", n=Count("id")):
        entry = figures[row["community"]]
        entry.new_arrivals += row["n"]
        entry.arrivals_by_level[row["origin_level"]] = row["n"]

    measures = Measure.objects.filter(under_control_on(day))
    for row in _grouped(measures, "region", ids, "type", n=Count("id")):
        entry = figures[row["community"]]
        entry.under_measure += row["n"]
        entry.measures_by_type[row["type"]] = row["n"]

    released = Measure.objects.filter(
        status=Measure.Status.RELEASED, ended_at__gte=start, ended_at__lt=end
    )
    checks = HealthCheck.objects.filter(day=day, abnormal=True)
    counts = [
        ("releases", released, "region", Count("id")),
        ("abnormal", checks, "region", Count("measure__person", distinct=True)),
        (
            "new_flags",
            RiskFlag.objects.filter(flagged_at__gte=start, flagged_at__lt=end),
            "grid",
            Count("id"),
        ),
        ("open_flags", RiskFlag.objects.open(), "grid", Count("id")),
        (
            "households_visited",
            HouseholdVisit.objects.filter(visited_on=day),
            "grid",
            Count("household", distinct=True),
        ),
    ]
    for name, queryset, region_field, aggregate in counts:
        for row in _grouped(queryset, region_field, ids, n=aggregate):
            setattr(figures[row["community"]], name, row["n"])
    return figures


# Submitting -------------------------------------------------------------------------------


def report_snapshot(report: DailyReport) -> dict[str, str]:
    return {
        "is_zero": _("是") if report.is_zero else _("否"),
        "figures": Figures.from_json(report.figures).summary(),
        "note": report.note,
        "signed_by": report.signed_by,
        "submitted_at": timezone.localtime(report.submitted_at).strftime("%Y-%m-%d %H:%M"),
    }


@transaction.atomic
def submit_report(
    actor,
    community: Region,
    day: date,
    *,
    is_zero: bool,
    signed_by: str,
    note: str = "",
    figures: Figures | None = None,
    now: datetime | None = None,
) -> DailyReport:
    """File the community's report of `day` with the figures the reporter confirmed (the
    system's at this moment when not given), or a zero report when nothing new was found."""
    now = now or timezone.now()
    signed_by = signed_by.strip()
    if community.level != Region.Level.VILLAGE:
        raise RuleError(_("日报告须由社区（村）填报。"), field="community")
    if day > timezone.localdate(now):
        raise RuleError(_("不能填报今天之后的日报告。"), field="day", code="future")
    if not signed_by:
        raise RuleError(_("请填写报告人签名（姓名）。"), field="signed_by", code="required")
    figures = figures or community_figures([community], day)[community.pk]
    if is_zero and not figures.nothing_new:
        raise RuleError(
            _("当日有新增来返人员、健康监测异常或风险地区旅居人员，不能零报告，请核对数据后上报。"),
            field="is_zero",
            code="not_zero",
        )
    values = {
        "is_zero": is_zero,
        "figures": figures.as_json(),
        "note": note,
        "signed_by": signed_by,
        "reporter": actor,
        "submitted_at": now,
        "due_at": ReportRule.deadline_on(day),
    }
    report = DailyReport.objects.select_for_update().filter(community=community, day=day).first()
    if report is None:
        report = DailyReport.objects.create(community=community, day=day, **values)
        record_change(
            actor,
            report,
            ChangeLog.Action.CREATE,
            diff({}, report_snapshot(report)),
            region=community,
        )
    else:
        before = report_snapshot(report)
        for name, value in values.items():
            setattr(report, name, value)
        report.save(update_fields=list(values))
        record_change(
            actor,
            report,
            ChangeLog.Action.UPDATE,
            diff(before, report_snapshot(report)),
            region=community,
            reason=_("重新上报"),
        )
    deadlines.tasks_of(community, Duty.DAILY_REPORT).filter(
        status=Task.Status.OPEN, started_at=local_day_start(day)
    ).update(status=Task.Status.DONE, done_at=now)
    return report


def open_report_tasks(day: date | None = None) -> int:
    """One DAILY_REPORT task per community for the day, started at 00:00 and due at the
    deadline, for its village committee. Idempotent (hourly job); returns how many opened."""
    from django.contrib.contenttypes.models import ContentType

    day = day or timezone.localdate()
    started = local_day_start(day)
    hours = (ReportRule.deadline_on(day) - started).total_seconds() / 3600
    opened = Task.objects.filter(
        duty=Duty.DAILY_REPORT,
        started_at=started,
        content_type=ContentType.objects.get_for_model(Region),
    ).values("object_id")
    reported = DailyReport.objects.filter(day=day).values("community")
    communities = list(
        Region.objects.filter(level=Region.Level.VILLAGE)
        .exclude(pk__in=opened)
        .exclude(pk__in=reported)
        .order_by("path")
    )
    label = _("%(day)s 日报告") % {"day": day.isoformat()}
    deadlines.open_committee_tasks(
        Duty.DAILY_REPORT,
        [(c, c, f"{c.full_name} {label}") for c in communities],
        started_at=started,
        hours=hours,
    )
    return len(communities)


# Who has reported -------------------------------------------------------------------------


class Standing:
    """Where a community's report of a day stands."""

    ON_TIME = "on_time"
    LATE = "late"
    MISSING = "missing"
    NOT_DUE = "not_due"

    LABELS = {
        ON_TIME: gettext_lazy("按时上报"),
        LATE: gettext_lazy("逾期上报"),
        MISSING: gettext_lazy("未上报"),
        NOT_DUE: gettext_lazy("待上报（未到截止时间）"),
    }


@dataclass
class CommunityDay:
    community: Region
    standing: str
    report: DailyReport | None = None

    @property
    def standing_label(self) -> str:
        return str(Standing.LABELS[self.standing])

    @property
    def figures(self) -> Figures | None:
        return Figures.from_json(self.report.figures) if self.report else None


def standing_of(report: DailyReport | None, due_at: datetime, now: datetime) -> str:
    if report is not None:
        return Standing.LATE if report.late else Standing.ON_TIME
    return Standing.MISSING if now > due_at else Standing.NOT_DUE


def communities_visible_to(user):
    return Region.objects.visible_to(user).filter(level=Region.Level.VILLAGE).order_by("path")


def day_board(
    user, day: date, *, now: datetime | None = None, communities=None
) -> list[CommunityDay]:
    """Each community in the user's jurisdiction (or those given) and its report of the day
    (two queries)."""
    now = now or timezone.now()
    communities = list(communities if communities is not None else communities_visible_to(user))
    reports = {
        report.community_id: report
        for report in DailyReport.objects.filter(community__in=communities, day=day).select_related(
            "reporter"
        )
    }
    due_at = ReportRule.deadline_on(day)
    return [
        CommunityDay(c, standing_of(reports.get(c.pk), due_at, now), reports.get(c.pk))
        for c in communities
    ]


def standing_counts(board: list[CommunityDay]) -> dict[str, int]:
    counts = dict.fromkeys(Standing.LABELS, 0)
    for entry in board:
        counts[entry.standing] += 1
    return counts


def board_totals(board: list[CommunityDay]) -> Figures:
    """The sums of the reported figures."""
    total = Figures()
    for entry in board:
        if entry.report is None:
            continue
        figures = entry.figures
        for name in FIGURE_LABELS:
            setattr(total, name, getattr(total, name) + getattr(figures, name))
    return total


@dataclass
class Rates:
    """Completeness and timeliness of a unit's reports over a range of days."""

    region: Region
    communities: int = 0
    due: int = 0  # community-days whose deadline has passed
    submitted: int = 0
    on_time: int = 0
    # Today, per standing (for a street row of the county page).
    today: dict[str, int] = field(default_factory=lambda: dict.fromkeys(Standing.LABELS, 0))

    @property
    def missing(self) -> int:
        return self.due - self.submitted

    @property
    def completeness(self) -> float | None:
        return round(100 * self.submitted / self.due, 1) if self.due else None

    @property
    def timeliness(self) -> float | None:
        return round(100 * self.on_time / self.due, 1) if self.due else None

    def add(self, other: "Rates") -> None:
        self.communities += other.communities
        self.due += other.due
        self.submitted += other.submitted
        self.on_time += other.on_time


def due_days(start: date, end: date, now: datetime) -> list[date]:
    """Days of the range whose report deadline has passed."""
    days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
    return [day for day in days if ReportRule.deadline_on(day) < now]


def rates(
    user, start: date, end: date, *, now: datetime | None = None
) -> tuple[list[Rates], dict[int, list[Rates]]]:
    """Per street, and per community of each street (street id → rows), the reports of the
    days from `start` to `end` whose deadline has passed: completeness = submitted / due,
    timeliness = on time / due. One GROUP BY query over the reports."""
    now = now or timezone.now()
    communities = list(communities_visible_to(user).select_related("parent"))
    days = due_days(start, end, now)
    counted = (
        DailyReport.objects.filter(community__in=communities, day__in=days)
        .values("community")
        .annotate(
            submitted=Count("id"), on_time=Count("id", filter=Q(submitted_at__lte=F("due_at")))
        )
        .order_by()
    )
    by_community = {row["community"]: row for row in counted}
    streets: dict[int, Rates] = {}
    per_street: dict[int, list[Rates]] = defaultdict(list)
    for community in communities:
        row = by_community.get(community.pk, {})
        entry = Rates(
            community,
            communities=1,
            due=len(days),
            submitted=row.get("submitted", 0),
            on_time=row.get("on_time", 0),
        )
        per_street[community.parent_id].append(entry)
        streets.setdefault(community.parent_id, Rates(community.parent)).add(entry)
    return list(streets.values()), per_street


def county_board(
    user, day: date, start: date, end: date, *, now: datetime | None = None
) -> tuple[list[Rates], dict[int, list[Rates]]]:
    """`rates` with each street's and community's standing on `day` filled in."""
    now = now or timezone.now()
    streets, per_street = rates(user, start, end, now=now)
    communities = [entry.region for rows in per_street.values() for entry in rows]
    standing = {
        e.community.pk: e.standing for e in day_board(user, day, now=now, communities=communities)
    }
    for street in streets:
        for entry in per_street[street.region.pk]:
            entry.today[standing[entry.region.pk]] += 1
            street.today[standing[entry.region.pk]] += 1
    return streets, per_street
