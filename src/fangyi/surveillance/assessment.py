"""The weekly analysis and risk assessment (每周分析研判): the figures of a week (Monday to
Sunday) against the week before, computed in one place so the page, the PDF and the API
show the same numbers, and the epidemiologists' conclusions saved per jurisdiction and
week (`RiskAssessment`).

Cases count by the local day of diagnosis (the report date, what was known that week);
deaths by the date of death on the counted cards.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from statistics import median

from django.db import transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fangyi.core.audit import ChangeLog, record_change
from fangyi.core.rules import RuleError
from fangyi.core.timeliness import day_bounds
from fangyi.diseases.models import Disease
from fangyi.geo.models import Region
from fangyi.surveillance import dashboards
from fangyi.surveillance.models import (
    TOPIC_POSITIVE,
    TOPIC_TESTED,
    TOPIC_VISITS,
    DailyCount,
    RiskAssessment,
    Signal,
    Source,
)
from fangyi.surveillance.signals import responses

# The topic that counts each record once, where a source has overlapping topics (a fever
# clinic visit counts in "visits" and in each of its syndromes; lab "positive" ⊂ "tested").
TOTAL_TOPIC = {Source.FEVER_CLINIC: TOPIC_VISITS, Source.LAB: TOPIC_TESTED}


def week_start_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def last_complete_week(today: date) -> date:
    return week_start_of(today) - timedelta(days=7)


def jurisdiction_of(user) -> Region | None:
    """The region a user's assessments are for: theirs; for an operator, the top region."""
    if user.region_id:
        return user.region
    if user.is_superuser:
        return Region.objects.filter(parent__isnull=True).order_by("path").first()
    return None


@dataclass(frozen=True)
class Change:
    current: int
    previous: int

    @property
    def delta(self) -> int:
        return self.current - self.previous

    @property
    def percent(self) -> float | None:
        """Change against the week before, in percent (None from 0)."""
        return round(100 * self.delta / self.previous, 1) if self.previous else None


@dataclass(frozen=True)
class DiseaseWeek:
    disease: Disease
    cases: Change
    deaths: Change


@dataclass(frozen=True)
class SourceWeek:
    source: str
    label: str
    total: Change


@dataclass(frozen=True)
class SignalRow:
    signal: Signal
    minutes_to_verify: float | None
    within_limit: bool | None


@dataclass(frozen=True)
class WeeklyFigures:
    region: Region | None
    week_start: date
    diseases: list[DiseaseWeek]
    cases: Change
    deaths: Change
    sources: list[SourceWeek]
    signals: list[SignalRow]
    signal_status: list[tuple[str, str, int]]  # (status, label, count)
    verified: int
    verified_within_limit: int
    median_minutes: float | None
    tested: Change
    positive: Change
    positivity: dashboards.Rate
    previous_positivity: dashboards.Rate
    main_disease: Disease | None
    rt: dashboards.RtPoint | None
    has_serial_interval: bool

    @property
    def week_end(self) -> date:
        return self.week_start + timedelta(days=6)

    @property
    def previous_start(self) -> date:
        return self.week_start - timedelta(days=7)


def _cases(user, start: date, end: date) -> list[DiseaseWeek]:
    """Cases (by report date) and deaths of the week and the week before, by disease."""
    previous = start - timedelta(days=7)
    since, middle = day_bounds(previous, start - timedelta(days=1))
    _middle, until = day_bounds(start, end)
    this_week = Q(diagnosed_at__gte=middle, diagnosed_at__lt=until)
    week_before = Q(diagnosed_at__gte=since, diagnosed_at__lt=middle)
    died = Q(death_date__gte=start, death_date__lte=end)
    died_before = Q(death_date__gte=previous, death_date__lt=start)
    rows = (
        dashboards.counted_cases(user)
        .filter(this_week | week_before | died | died_before)
        .values("disease_id")
        .annotate(
            cases=Count("id", filter=this_week),
            cases_before=Count("id", filter=week_before),
            deaths=Count("id", filter=died),
            deaths_before=Count("id", filter=died_before),
        )
        .order_by()
    )
    rows = list(rows)
    diseases = Disease.objects.in_bulk([row["disease_id"] for row in rows])
    weeks = [
        DiseaseWeek(
            diseases[row["disease_id"]],
            Change(row["cases"], row["cases_before"]),
            Change(row["deaths"], row["deaths_before"]),
        )
        for row in rows
    ]
    return sorted(weeks, key=lambda w: (-w.cases.current, -w.cases.previous, w.disease.code))


def _sources(user, start: date, end: date) -> list[SourceWeek]:
    previous = start - timedelta(days=7)
    once = Q(source__in=[s for s in Source.values if s not in TOTAL_TOPIC])
    for source, topic in TOTAL_TOPIC.items():
        once |= Q(source=source, topic=topic)
    rows = (
        DailyCount.objects.visible_to(user)
        .filter(once, day__gte=previous, day__lte=end)
        .values("source")
        .annotate(
            current=Sum("count", filter=Q(day__gte=start)),
            previous=Sum("count", filter=Q(day__lt=start)),
        )
        .order_by()
    )
    totals = {row["source"]: Change(row["current"] or 0, row["previous"] or 0) for row in rows}
    return [
        SourceWeek(source, str(label), totals.get(source, Change(0, 0)))
        for source, label in Source.choices
    ]


def _lab(user, start: date, end: date) -> tuple[Change, Change]:
    rows = (
        dashboards.lab_counts(user, None, start - timedelta(days=7), end)
        .values("topic")
        .annotate(
            current=Sum("count", filter=Q(day__gte=start)),
            previous=Sum("count", filter=Q(day__lt=start)),
        )
        .order_by()
    )
    found = {row["topic"]: Change(row["current"] or 0, row["previous"] or 0) for row in rows}
    return found.get(TOPIC_TESTED, Change(0, 0)), found.get(TOPIC_POSITIVE, Change(0, 0))


def _signals(user, start: date, end: date) -> list[SignalRow]:
    """The week's primary signals with their verification time and whether it kept its
    limit (`signals.responses`)."""
    week = Signal.objects.visible_to(user).primary().filter(day__gte=start, day__lte=end)
    answered = responses(week)
    return [
        SignalRow(signal, answered[signal.pk].minutes, answered[signal.pk].on_time)
        for signal in week.select_related("region", "rule").order_by("day", "id")
    ]


def weekly_figures(user, week_start: date) -> WeeklyFigures:
    """The figures of the week starting on `week_start` (a Monday) in the user's
    jurisdiction, against the week before."""
    end = week_start + timedelta(days=6)
    diseases = _cases(user, week_start, end)
    rows = _signals(user, week_start, end)
    status_counts = {status: 0 for status in Signal.Status.values}
    for row in rows:
        status_counts[row.signal.status] += 1
    minutes = [row.minutes_to_verify for row in rows if row.minutes_to_verify is not None]
    tested, positive = _lab(user, week_start, end)
    main = next((w.disease for w in diseases if w.cases.current), None)
    rt = None
    if main is not None:
        rt = dashboards.rt_estimate(dashboards.counted_cases(user), main, week_start, end)
    return WeeklyFigures(
        region=jurisdiction_of(user),
        week_start=week_start,
        diseases=diseases,
        cases=Change(*(sum(getattr(w.cases, f) for w in diseases) for f in _FIELDS)),
        deaths=Change(*(sum(getattr(w.deaths, f) for w in diseases) for f in _FIELDS)),
        sources=_sources(user, week_start, end),
        signals=rows,
        signal_status=[
            (status, str(label), status_counts[status]) for status, label in Signal.Status.choices
        ],
        verified=len(minutes),
        verified_within_limit=sum(1 for row in rows if row.within_limit),
        median_minutes=round(median(minutes), 1) if minutes else None,
        tested=tested,
        positive=positive,
        positivity=dashboards.Rate.of(positive.current, tested.current),
        previous_positivity=dashboards.Rate.of(positive.previous, tested.previous),
        main_disease=main,
        rt=rt.latest if rt else None,
        has_serial_interval=rt is not None,
    )


_FIELDS = ("current", "previous")


def assessment_of(region: Region | None, week_start: date) -> RiskAssessment | None:
    if region is None:
        return None
    return (
        RiskAssessment.objects.filter(region=region, week_start=week_start)
        .select_related("author", "region")
        .first()
    )


def _snapshot(assessment: RiskAssessment) -> dict[str, str]:
    return {
        "risk_level": assessment.get_risk_level_display(),
        "conclusion": assessment.conclusion,
        "recommendations": assessment.recommendations,
    }


@transaction.atomic
def save_conclusions(
    actor,
    region: Region,
    week_start: date,
    *,
    risk_level: str,
    conclusion: str,
    recommendations: str = "",
) -> RiskAssessment:
    """Record the week's conclusions for the jurisdiction; saving again replaces them (one
    assessment per region and week), each change in the audit trail."""
    if week_start.weekday() != 0:
        raise RuleError(_("周起始日须为星期一。"), field="week", code="not_monday")
    if week_start > timezone.localdate():
        raise RuleError(_("不能为尚未开始的周填写研判结论。"), field="week", code="future_week")
    if risk_level not in RiskAssessment.Level.values:
        raise RuleError(_("请选择风险等级。"), field="risk_level", code="invalid_choice")
    if not conclusion.strip():
        raise RuleError(_("请填写研判结论。"), field="conclusion", code="required")
    assessment = (
        RiskAssessment.objects.select_for_update()
        .filter(region=region, week_start=week_start)
        .first()
    )
    before = _snapshot(assessment) if assessment else None
    assessment = assessment or RiskAssessment(region=region, week_start=week_start)
    assessment.risk_level = risk_level
    assessment.conclusion = conclusion.strip()
    assessment.recommendations = recommendations.strip()
    assessment.author = actor
    assessment.updated_at = timezone.now()
    if before is None:
        assessment.save()
        record_change(
            actor,
            assessment,
            ChangeLog.Action.CREATE,
            {k: ["", v] for k, v in _snapshot(assessment).items()},
            region=region,
        )
    else:
        assessment.save(
            update_fields=["risk_level", "conclusion", "recommendations", "author", "updated_at"]
        )
        after = _snapshot(assessment)
        record_change(
            actor,
            assessment,
            ChangeLog.Action.UPDATE,
            {k: [before[k], v] for k, v in after.items() if before[k] != v},
            region=region,
        )
    return assessment
