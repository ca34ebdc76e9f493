"""Signals and their response (CIDARS workflow).

raised (待核实) ──verify──▶ dismissed (已排除)
   │                         ▲
   └──verify──▶ suspected (疑似事件) ──investigate──▶ investigating (现场调查中)
                                                        ├──conclude──▶ confirmed (确认事件)
                                                        └──conclude──▶ dismissed

A new signal goes to the duty epidemiologist of its region (`DutyRoster`; without one, to
the CDC epidemiologists of the jurisdiction) as an in-app alert and through the notifier
(SMS hook), with a verification task: 24 hours, 2 hours for a single-case rule
(`Duty.VERIFY_SIGNAL` rules). The task is done when the signal is verified either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from fangyi.core import deadlines
from fangyi.core.audit import ChangeLog, diff, record_change
from fangyi.core.models import Alert, Duty, Task
from fangyi.core.rules import RuleError, lazy_format
from fangyi.geo.models import Organisation, Region, ancestor_paths
from fangyi.surveillance import notify
from fangyi.surveillance.models import (
    DetectorRule,
    DetectorRun,
    DrugCategory,
    DutyRoster,
    Signal,
    Source,
    Syndrome,
)

# Statuses a repeat is merged into: an open signal is being handled, a confirmed event is
# known. A repeat after a dismissal is a new signal: a dismissed series coming back deserves
# a fresh look.
MERGES_INTO = (
    Signal.Status.RAISED,
    Signal.Status.SUSPECTED,
    Signal.Status.INVESTIGATING,
    Signal.Status.CONFIRMED,
)

TOPIC_LABELS = {
    "visits": gettext_lazy("就诊总数"),
    "abnormal": gettext_lazy("监测异常人数"),
    "positive": gettext_lazy("阳性"),
    "tested": gettext_lazy("检测数"),
    **dict(Syndrome.choices),
    **dict(DrugCategory.choices),
}


def topic_label(source: str, topic: str) -> str:
    if source == Source.CASES:
        from fangyi.diseases.models import Disease

        return Disease.objects.filter(code=topic).values_list("name", flat=True).first() or topic
    return str(TOPIC_LABELS.get(topic, topic))


def duty_epidemiologist(region: Region, day: date):
    """The duty epidemiologist for the region on that day: the roster of the region or the
    nearest region above it covering the day; None without one."""
    rosters = DutyRoster.objects.filter(
        region__path__in=ancestor_paths(region.path), start_date__lte=day, end_date__gte=day
    ).select_related("region", "user")
    best = max(rosters, key=lambda r: (len(r.region.path), r.start_date), default=None)
    return best.user if best else None


def store(run: DetectorRun, found, *, now: datetime) -> tuple[int, int]:
    """Store the alarms of a run as signals; returns (new signals, merged repeats)."""
    existing = set(Signal.objects.filter(day=run.day).values_list("rule_id", "topic", "region_id"))
    regions = Region.objects.in_bulk({alarm.region_id for _, alarms in found for alarm in alarms})
    new = merged = 0
    for rule, alarms in found:
        for alarm in alarms:
            if (rule.pk, alarm.topic, alarm.region_id) in existing:
                continue
            signal = Signal(
                run=run,
                rule=rule,
                source=rule.source,
                topic=alarm.topic,
                topic_label=topic_label(rule.source, alarm.topic)[:64],
                region=regions[alarm.region_id],
                day=run.day,
                method=rule.method,
                observed=alarm.observed,
                threshold=alarm.threshold,
                raised_at=now,
            )
            primary = _merges_into(signal, rule)
            if primary is not None:
                signal.merged_into = primary
                signal.save()
                primary.repeat_count += 1
                primary.last_repeat_day = max(primary.last_repeat_day or run.day, run.day)
                primary.save(update_fields=["repeat_count", "last_repeat_day"])
                merged += 1
            else:
                _raise(signal, rule, now)
                new += 1
            existing.add((rule.pk, alarm.topic, alarm.region_id))
    return new, merged


def _merges_into(signal: Signal, rule: DetectorRule) -> Signal | None:
    """The earlier signal of the same series (source, topic, region) that this one repeats:
    raised, or last repeated, within the rule's merge window. A series alarming day after
    day thus stays one signal for as long as it keeps alarming."""
    if rule.merge_days == 0:
        return None
    since = signal.day - timedelta(days=rule.merge_days)
    return (
        Signal.objects.primary()
        .filter(Q(day__gte=since) | Q(last_repeat_day__gte=since))
        .filter(
            source=signal.source,
            topic=signal.topic,
            region=signal.region,
            day__lte=signal.day,
            status__in=MERGES_INTO,
        )
        .order_by("-day", "-id")
        .first()
    )


def _raise(signal: Signal, rule: DetectorRule, now: datetime) -> None:
    signal.assigned_to = duty_epidemiologist(signal.region, signal.day)
    signal.save()
    cdc = Organisation.objects.nearest(Organisation.Type.CDC, signal.region)
    task = deadlines.open_task(
        Duty.VERIFY_SIGNAL,
        signal,
        region=signal.region,
        started_at=now,
        urgent=rule.single_case,
        organisation=cdc,
        user=signal.assigned_to,
        label=_label(signal),
    )
    message = _("预警信号：%(label)s，请在%(hours)d小时内核实。") % {
        "label": _label(signal),
        "hours": round((task.due_at - task.started_at).total_seconds() / 3600),
    }
    Alert.objects.create(
        region=signal.region,
        organisation=cdc,
        user=signal.assigned_to,
        task=task,
        message=message[:255],
        created_at=now,
    )
    if signal.assigned_to is not None:
        notify.send(signal.assigned_to, message)


def _label(signal: Signal) -> str:
    return _("%(region)s %(source)s %(topic)s（%(day)s，%(observed)g）") % {
        "region": signal.region.name,
        "source": signal.get_source_display(),
        "topic": signal.topic_label,
        "day": signal.day.isoformat(),
        "observed": signal.observed,
    }


# ---- Response -------------------------------------------------------------------------


class SignalRuleError(RuleError):
    pass


def _require(signal: Signal, *statuses: str) -> None:
    if signal.merged_into_id is not None:
        raise SignalRuleError(
            gettext_lazy("该信号已合并到前一条信号，请在那条信号上处理。"), code="merged"
        )
    if signal.status not in statuses:
        raise SignalRuleError(
            lazy_format(
                gettext_lazy("信号当前状态为“%(status)s”，不能进行此操作。"),
                status=signal.get_status_display(),
            ),
            code="wrong_status",
        )


def _changed(actor, signal: Signal, before: dict) -> None:
    record_change(
        actor,
        signal,
        ChangeLog.Action.UPDATE,
        diff(before, _snapshot(signal)),
        region=signal.region,
    )


def _check_dismissal(dismissing: bool, reason: str) -> None:
    if dismissing and not reason.strip():
        raise SignalRuleError(
            gettext_lazy("排除信号须填写排除原因。"), field="reason", code="reason_required"
        )


def _snapshot(signal: Signal) -> dict[str, str]:
    return {
        "status": signal.get_status_display(),
        "verification_notes": signal.verification_notes,
        "dismiss_reason": signal.dismiss_reason,
        "investigation_notes": signal.investigation_notes,
        "cluster": str(signal.cluster) if signal.cluster_id else "",
    }


@transaction.atomic
def verify(actor, signal: Signal, *, suspected: bool, notes: str, reason: str = "") -> Signal:
    """Preliminary verification (records checked, other sources, the reporter phoned):
    a suspected event, or dismissed with a reason."""
    signal = Signal.objects.select_for_update().get(pk=signal.pk)
    _require(signal, Signal.Status.RAISED)
    if not notes.strip():
        raise SignalRuleError(
            gettext_lazy("请填写初步核实情况。"), field="notes", code="notes_required"
        )
    _check_dismissal(not suspected, reason)
    before = _snapshot(signal)
    now = timezone.now()
    signal.verified_at, signal.verified_by = now, actor
    signal.verification_notes = notes.strip()
    if suspected:
        signal.status = Signal.Status.SUSPECTED
    else:
        signal.status = Signal.Status.DISMISSED
        signal.dismiss_reason = reason.strip()
        signal.closed_at = now
    signal.save()
    deadlines.close_task(signal, Duty.VERIFY_SIGNAL, done_at=now)
    _changed(actor, signal, before)
    return signal


@transaction.atomic
def start_investigation(actor, signal: Signal, *, notes: str = "") -> Signal:
    signal = Signal.objects.select_for_update().get(pk=signal.pk)
    _require(signal, Signal.Status.SUSPECTED)
    before = _snapshot(signal)
    signal.status = Signal.Status.INVESTIGATING
    signal.investigation_started_at = timezone.now()
    signal.investigation_notes = notes.strip()
    signal.save()
    _changed(actor, signal, before)
    return signal


@transaction.atomic
def conclude(
    actor, signal: Signal, *, confirmed: bool, notes: str, cluster=None, reason: str = ""
) -> Signal:
    """End of the field investigation: a confirmed event (linked to its cluster when there
    is one) or dismissed with a reason."""
    signal = Signal.objects.select_for_update().get(pk=signal.pk)
    _require(signal, Signal.Status.INVESTIGATING)
    if not notes.strip():
        raise SignalRuleError(
            gettext_lazy("请填写现场调查结论。"), field="notes", code="notes_required"
        )
    _check_dismissal(not confirmed, reason)
    before = _snapshot(signal)
    signal.investigation_notes = notes.strip()
    signal.closed_at = timezone.now()
    if confirmed:
        signal.status = Signal.Status.CONFIRMED
        signal.cluster = cluster
    else:
        signal.status = Signal.Status.DISMISSED
        signal.dismiss_reason = reason.strip()
    signal.save()
    _changed(actor, signal, before)
    return signal


@dataclass(frozen=True)
class Response:
    """How a signal was answered: minutes from raising to verification, and whether the
    verification kept its limit, the due time of the signal's VERIFY_SIGNAL task (24 hours,
    2 for a single-case rule, fixed when it was raised). Both None while unverified."""

    minutes: float | None
    on_time: bool | None


def responses(signals) -> dict[int, Response]:
    """Signal id → its `Response`, for a queryset of signals. Two queries."""
    due = dict(
        Task.objects.filter(
            content_type=ContentType.objects.get_for_model(Signal),
            duty=Duty.VERIFY_SIGNAL,
            object_id__in=signals.values("pk"),
        ).values_list("object_id", "due_at")
    )
    answered = {}
    for pk, raised, verified in signals.values_list("pk", "raised_at", "verified_at"):
        if verified is None:
            answered[pk] = Response(None, None)
        else:
            limit = due.get(pk)
            minutes = (verified - raised).total_seconds() / 60
            answered[pk] = Response(minutes, None if limit is None else verified <= limit)
    return answered


# ---- Duty roster ----------------------------------------------------------------------

ROSTER_LEVELS = (Region.Level.COUNTY, Region.Level.TOWNSHIP)


@transaction.atomic
def assign_duty(actor, region: Region, user, start: date, end: date) -> DutyRoster:
    """Make `user` the duty epidemiologist of `region` from `start` to `end` (both
    included). Periods of one region never overlap, so a day's signals have one addressee;
    the epidemiologist must be one whose jurisdiction covers the region."""
    from fangyi.accounts.roles import RoleCode

    if (
        region.level not in ROSTER_LEVELS
        or not Region.objects.visible_to(actor).filter(pk=region.pk).exists()
    ):
        raise SignalRuleError(
            gettext_lazy("值班区划须为您管辖范围内的县（区）或乡镇（街道）。"),
            field="region",
            code="region",
        )
    covers = user.region_id is not None and region.path.startswith(user.region.path)
    if not (
        user.is_active and covers and user.roles.filter(code=RoleCode.CDC_EPIDEMIOLOGIST).exists()
    ):
        raise SignalRuleError(
            gettext_lazy("值班人员须为管辖该区划的疾控流调人员。"), field="user", code="user"
        )
    if start > end:
        raise SignalRuleError(
            gettext_lazy("结束日期不能早于开始日期。"), field="end_date", code="dates"
        )
    # Lock the region so two managers cannot add overlapping periods at the same moment.
    Region.objects.select_for_update().get(pk=region.pk)
    clash = (
        DutyRoster.objects.filter(region=region, start_date__lte=end, end_date__gte=start)
        .select_related("user")
        .first()
    )
    if clash is not None:
        raise SignalRuleError(
            lazy_format(
                gettext_lazy(
                    "%(region)s %(start)s 至 %(end)s 已安排 %(user)s 值班，值班时间不能重叠。"
                ),
                region=region.name,
                start=clash.start_date.isoformat(),
                end=clash.end_date.isoformat(),
                user=str(clash.user),
            ),
            field="start_date",
            code="overlap",
        )
    roster = DutyRoster.objects.create(region=region, user=user, start_date=start, end_date=end)
    record_change(
        actor,
        roster,
        ChangeLog.Action.CREATE,
        {
            "region": ["", region.full_name or region.name],
            "user": ["", str(user)],
            "start_date": ["", start.isoformat()],
            "end_date": ["", end.isoformat()],
        },
        region=region,
    )
    return roster
