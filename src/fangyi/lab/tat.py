"""Turnaround (检测时效): how long labs take to give results, and the tubes still waiting.

A tube's turnaround runs from its receipt by the lab (from collection while it was never
signed for) to its result; it is on time when the result came by its due time, the limit
of its purpose (`TurnaroundRule`) counted from the same start.

The figures of a period come from one query over the resulted tubes in the user's scope
(`values_list` of six columns) and are computed with NumPy: the rows are sorted once by
their group and cut into slices, so a county's week of tubes costs one pass, never a query
or a Python loop per tube."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import numpy as np
from django.db.models import Count, Min, Q
from django.utils import timezone

from fangyi.geo.models import Organisation
from fangyi.lab.models import Purpose, Sample
from fangyi.lab.services import turnaround_hours

# Tubes due within this time are listed with the late ones, marked as about to be late.
DUE_SOON = timedelta(hours=1)
_PURPOSES = list(Purpose.values)
_PURPOSE_LABELS = dict(Purpose.choices)


@dataclass
class TurnaroundRow:
    """The turnaround of one group of resulted tubes (a lab, a purpose or both)."""

    lab_id: int | None
    lab_name: str
    purpose: str  # "" for every purpose
    count: int
    median_hours: float
    p90_hours: float
    on_time: int
    limit_hours: int | None = None

    @property
    def purpose_label(self) -> str:
        return str(_PURPOSE_LABELS.get(self.purpose, ""))

    @property
    def on_time_rate(self) -> float:
        return self.on_time / self.count if self.count else 0.0


@dataclass
class TurnaroundReport:
    start: date
    end: date
    by_lab_purpose: list[TurnaroundRow] = field(default_factory=list)
    by_lab: list[TurnaroundRow] = field(default_factory=list)
    by_purpose: list[TurnaroundRow] = field(default_factory=list)
    total: TurnaroundRow | None = None


def day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def resulted_between(user, start: date, end: date, lab: Organisation | None = None):
    """Tubes of the user's scope with a result time on the local days start…end."""
    samples = Sample.objects.visible_to(user).filter(
        result_at__gte=day_start(start), result_at__lt=day_start(end + timedelta(days=1))
    )
    return samples.filter(lab=lab) if lab is not None else samples


def turnaround(user, start: date, end: date, lab: Organisation | None = None) -> TurnaroundReport:
    """Count, median and 90th percentile of hours, and tubes on time, of the tubes resulted
    from `start` to `end` (local days, both included): per lab and purpose, per lab, per
    purpose and overall."""
    report = TurnaroundReport(start, end)
    rows = list(
        resulted_between(user, start, end, lab)
        .order_by()
        .values_list("lab_id", "purpose", "collected_at", "received_at", "result_at", "due_at")
    )
    if not rows:
        return report
    lab_ids, purposes, collected, received, resulted, due = zip(*rows, strict=True)
    started = np.array(
        [(r or c).timestamp() for c, r in zip(collected, received, strict=True)], dtype=float
    )
    result_times = np.array([moment.timestamp() for moment in resulted], dtype=float)
    hours = (result_times - started) / 3600.0
    on_time = result_times <= np.array([moment.timestamp() for moment in due], dtype=float)
    # Groups as small integers: the lab's position among the labs seen, the purpose's
    # position among the purposes (an unknown one after them).
    lab_keys, lab_index = np.unique(
        np.array([pk or 0 for pk in lab_ids], dtype=np.int64), return_inverse=True
    )
    purpose_index = np.array(
        [_PURPOSES.index(p) if p in _PURPOSES else len(_PURPOSES) for p in purposes],
        dtype=np.int64,
    )
    names = dict(Organisation.objects.filter(pk__in=lab_keys.tolist()).values_list("pk", "name"))
    limits = turnaround_hours()

    def row(lab_position: int | None, purpose_position: int | None, figures) -> TurnaroundRow:
        lab_id = None
        if lab_position is not None:
            lab_id = int(lab_keys[lab_position]) or None
        purpose = ""
        if purpose_position is not None and purpose_position < len(_PURPOSES):
            purpose = _PURPOSES[purpose_position]
        return TurnaroundRow(
            lab_id=lab_id,
            lab_name=names.get(lab_id, "") if lab_id else "",
            purpose=purpose,
            limit_hours=limits.get(purpose),
            **figures,
        )

    width = len(_PURPOSES) + 1
    report.by_lab_purpose = [
        row(int(key) // width, int(key) % width, figures)
        for key, figures in _grouped(lab_index * width + purpose_index, hours, on_time)
    ]
    report.by_lab = [
        row(int(key), None, figures) for key, figures in _grouped(lab_index, hours, on_time)
    ]
    report.by_purpose = [
        row(None, int(key), figures) for key, figures in _grouped(purpose_index, hours, on_time)
    ]
    report.total = row(None, None, _figures(hours, on_time))
    report.by_lab_purpose.sort(key=lambda r: (r.lab_name, _order(r.purpose)))
    report.by_lab.sort(key=lambda r: r.lab_name)
    return report


def _order(purpose: str) -> int:
    return _PURPOSES.index(purpose) if purpose in _PURPOSES else len(_PURPOSES)


def _grouped(keys: np.ndarray, hours: np.ndarray, on_time: np.ndarray):
    """(key, figures) of each distinct key: one sort, then slices."""
    order = np.argsort(keys, kind="stable")
    distinct, first = np.unique(keys[order], return_index=True)
    for key, part in zip(distinct, np.split(order, first[1:]), strict=True):
        yield key, _figures(hours[part], on_time[part])


def _figures(hours: np.ndarray, on_time: np.ndarray) -> dict:
    return {
        "count": int(hours.size),
        "median_hours": round(float(np.median(hours)), 1),
        "p90_hours": round(float(np.percentile(hours, 90)), 1),
        "on_time": int(on_time.sum()),
    }


# Waiting too long -------------------------------------------------------------------------


def waiting(user, now: datetime, *, lab: Organisation | None = None, purpose: str = ""):
    """Tubes of the user's scope without a result that are past their due time or due within
    `DUE_SOON`, the longest overdue first."""
    tubes = Sample.objects.visible_to(user).pending().filter(due_at__lt=now + DUE_SOON)
    if lab is not None:
        tubes = tubes.filter(lab=lab)
    if purpose:
        tubes = tubes.filter(purpose=purpose)
    return tubes.order_by("due_at", "id")


@dataclass
class WaitingGroup:
    lab_id: int | None
    lab_name: str
    purpose: str
    late: int
    soon: int
    oldest_due_at: datetime
    now: datetime

    @property
    def purpose_label(self) -> str:
        return str(_PURPOSE_LABELS.get(self.purpose, self.purpose))

    @property
    def longest_overdue_hours(self) -> float:
        return overdue_hours(self.oldest_due_at, self.now)


def waiting_by_lab_and_purpose(tubes, now: datetime) -> list[WaitingGroup]:
    """How many of the waiting tubes are late and due soon, per lab and purpose (one grouped
    query)."""
    counts = (
        tubes.order_by()
        .values("lab_id", "lab__name", "purpose")
        .annotate(
            late=Count("id", filter=Q(due_at__lt=now)),
            soon=Count("id", filter=Q(due_at__gte=now)),
            oldest=Min("due_at"),
        )
    )
    groups = [
        WaitingGroup(
            lab_id=item["lab_id"],
            lab_name=item["lab__name"] or "",
            purpose=item["purpose"],
            late=item["late"],
            soon=item["soon"],
            oldest_due_at=item["oldest"],
            now=now,
        )
        for item in counts
    ]
    return sorted(groups, key=lambda g: (g.oldest_due_at, g.lab_name, _order(g.purpose)))


def overdue_hours(due_at: datetime, now: datetime) -> float:
    """Hours past the due time (negative while still within it)."""
    return round((now - due_at).total_seconds() / 3600.0, 1)
