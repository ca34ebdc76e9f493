"""Signals and detector runs over the API: the list (filters as the page's, scoped, paged)
and one signal, its response steps (verify, investigate, conclude — refusals 422 with
`msg` in Chinese and `msg_en`), the runs and a run of one day."""

from datetime import date, datetime

from ninja import Field, Router, Schema, Status
from ninja.errors import ValidationError
from ninja.pagination import PageNumberPagination, paginate

from fangyi.accounts.roles import Capability
from fangyi.core.access import get_visible_or_404, require_capability
from fangyi.core.api_errors import bilingual, form_errors
from fangyi.core.deadlines import tasks_of
from fangyi.core.models import Duty, Task
from fangyi.surveillance import signals
from fangyi.surveillance.models import DetectorRun, Signal
from fangyi.surveillance.signal_forms import ConcludeForm, RunForm, SignalFilterForm

router = Router(tags=["surveillance"])


# Schemas ----------------------------------------------------------------------------------


class SignalOut(Schema):
    id: int
    day: date
    region: int
    region_name: str
    source: str
    topic: str
    topic_label: str
    method: str
    observed: float
    threshold: float | None
    status: str = Field(description="raised, suspected, investigating, confirmed or dismissed")
    raised_at: datetime
    verify_due_at: datetime | None = Field(description="due time of the open verification")
    repeat_count: int
    assigned_to: int | None
    assigned_to_name: str
    merged_into: int | None


class SignalDetailOut(SignalOut):
    rule: int
    single_case: bool
    verified_at: datetime | None
    verified_by: int | None
    verification_notes: str
    dismiss_reason: str
    investigation_started_at: datetime | None
    investigation_notes: str
    closed_at: datetime | None
    cluster: int | None
    repeats: list[int]


class VerifyIn(Schema):
    suspected: bool = Field(description="true: a suspected event; false: dismissed")
    notes: str = Field("", description="what the verification found (required)")
    reason: str = Field("", description="why it is dismissed (required when dismissing)")


class InvestigateIn(Schema):
    notes: str = ""


class ConcludeIn(Schema):
    confirmed: bool = Field(description="true: a confirmed event; false: dismissed")
    notes: str = Field("", description="the field investigation's conclusion (required)")
    cluster_id: int | None = Field(None, description="a cluster of the caller's jurisdiction")
    reason: str = Field("", description="why it is dismissed (required when dismissing)")


class RunOut(Schema):
    day: date
    runs: int
    series: int
    alarms: int
    new_signals: int
    merged: int
    seconds: float
    started_at: datetime
    finished_at: datetime | None
    triggered_by: int | None


class RunIn(Schema):
    day: date | str = Field(description="the day to run, not in the future")


class RunResultOut(RunOut):
    new_this_run: int
    merged_this_run: int


class ErrorsOut(Schema):
    detail: list[dict]


# Shaping ----------------------------------------------------------------------------------


def signal_out(signal: Signal) -> dict:
    return {
        "id": signal.pk,
        "day": signal.day,
        "region": signal.region_id,
        "region_name": signal.region.full_name or signal.region.name,
        "source": signal.source,
        "topic": signal.topic,
        "topic_label": signal.topic_label,
        "method": signal.method,
        "observed": signal.observed,
        "threshold": signal.threshold,
        "status": signal.status,
        "raised_at": signal.raised_at,
        "verify_due_at": signal.verify_due_at,
        "repeat_count": signal.repeat_count,
        "assigned_to": signal.assigned_to_id,
        "assigned_to_name": str(signal.assigned_to) if signal.assigned_to_id else "",
        "merged_into": signal.merged_into_id,
    }


def signal_detail_out(signal: Signal) -> dict:
    task = tasks_of(signal, Duty.VERIFY_SIGNAL).filter(status=Task.Status.OPEN).first()
    signal.verify_due_at = task.due_at if task else None
    return {
        **signal_out(signal),
        "rule": signal.rule_id,
        "single_case": signal.rule.single_case,
        "verified_at": signal.verified_at,
        "verified_by": signal.verified_by_id,
        "verification_notes": signal.verification_notes,
        "dismiss_reason": signal.dismiss_reason,
        "investigation_started_at": signal.investigation_started_at,
        "investigation_notes": signal.investigation_notes,
        "closed_at": signal.closed_at,
        "cluster": signal.cluster_id,
        "repeats": list(signal.repeats.order_by("day", "id").values_list("pk", flat=True)),
    }


def run_out(run: DetectorRun) -> dict:
    return {
        "day": run.day,
        "runs": run.runs,
        "series": run.series,
        "alarms": run.alarms,
        "new_signals": run.new_signals,
        "merged": run.merged,
        "seconds": run.seconds,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "triggered_by": run.triggered_by_id,
    }


def rule_errors(error: signals.SignalRuleError) -> dict:
    location = ["body", error.field] if error.field else ["body"]
    return {"detail": [{"loc": location, "type": error.code, **bilingual(error.message)}]}


# Signals ----------------------------------------------------------------------------------


class SignalPagination(PageNumberPagination):
    """Slices the queryset first, then shapes only the rows of the page."""

    def paginate_queryset(self, queryset, pagination, request, **params):
        page = super().paginate_queryset(queryset, pagination, request, **params)
        page[self.items_attribute] = [signal_out(s) for s in page[self.items_attribute]]
        return page


@router.get("/surveillance/signals", response=list[SignalOut])
@paginate(SignalPagination, page_size=50)
def list_signals(
    request,
    status: str = "",
    source: str = "",
    region: int | None = None,
    day_from: date | None = None,
    day_to: date | None = None,
    method: str = "",
):
    """Signals of the caller's jurisdiction (repeats merged into another left out), newest
    first. `status`: a status or "open" (raised, suspected or investigating); `region`: the
    county or a township (its signals and those below)."""
    require_capability(request.user, Capability.VIEW_SURVEILLANCE)
    query = {
        "status": status,
        "source": source,
        "region": region or "",
        "day_from": day_from or "",
        "day_to": day_to or "",
        "method": method,
    }
    filters = SignalFilterForm(query, user=request.user)
    if not filters.is_valid():
        raise ValidationError(
            [{**error, "loc": ["query", *error["loc"][1:]]} for error in form_errors(filters)]
        )
    return filters.signals()


def visible_signal(request, signal_id: int) -> Signal:
    return get_visible_or_404(Signal, request.user, pk=signal_id)


@router.get("/surveillance/signals/{signal_id}", response=SignalDetailOut)
def get_signal(request, signal_id: int):
    require_capability(request.user, Capability.VIEW_SURVEILLANCE)
    return signal_detail_out(visible_signal(request, signal_id))


def respond(request, signal_id: int, step):
    require_capability(request.user, Capability.VIEW_SURVEILLANCE)
    require_capability(request.user, Capability.RESPOND_SIGNALS)
    signal = visible_signal(request, signal_id)
    try:
        step(signal)
    except signals.SignalRuleError as refused:
        return Status(422, rule_errors(refused))
    return signal_detail_out(visible_signal(request, signal_id))


@router.post(
    "/surveillance/signals/{signal_id}/verify", response={200: SignalDetailOut, 422: ErrorsOut}
)
def verify_signal(request, signal_id: int, payload: VerifyIn):
    """Preliminary verification: a suspected event, or dismissed with a reason. Closes the
    verification task."""
    return respond(
        request,
        signal_id,
        lambda signal: signals.verify(
            request.user,
            signal,
            suspected=payload.suspected,
            notes=payload.notes,
            reason=payload.reason,
        ),
    )


@router.post(
    "/surveillance/signals/{signal_id}/investigate",
    response={200: SignalDetailOut, 422: ErrorsOut},
)
def investigate_signal(request, signal_id: int, payload: InvestigateIn):
    """Start the field investigation of a suspected event."""
    return respond(
        request,
        signal_id,
        lambda signal: signals.start_investigation(request.user, signal, notes=payload.notes),
    )


@router.post(
    "/surveillance/signals/{signal_id}/conclude", response={200: SignalDetailOut, 422: ErrorsOut}
)
def conclude_signal(request, signal_id: int, payload: ConcludeIn):
    """End of the field investigation: a confirmed event (with its cluster, if any) or
    dismissed with a reason."""
    require_capability(request.user, Capability.VIEW_SURVEILLANCE)
    require_capability(request.user, Capability.RESPOND_SIGNALS)
    visible_signal(request, signal_id)  # out of scope: 404 before any validation
    form = ConcludeForm(
        {
            "outcome": "confirmed" if payload.confirmed else "dismiss",
            "notes": payload.notes,
            "cluster": payload.cluster_id or "",
            "reason": payload.reason,
        },
        user=request.user,
    )
    if not form.is_valid():
        errors = form_errors(form)
        for error in errors:
            if error["loc"] == ["body", "cluster"]:
                error["loc"] = ["body", "cluster_id"]
        return Status(422, {"detail": errors})
    return respond(
        request,
        signal_id,
        lambda signal: signals.conclude(request.user, signal, **form.arguments()),
    )


# Runs -------------------------------------------------------------------------------------


class RunPagination(PageNumberPagination):
    def paginate_queryset(self, queryset, pagination, request, **params):
        page = super().paginate_queryset(queryset, pagination, request, **params)
        page[self.items_attribute] = [run_out(r) for r in page[self.items_attribute]]
        return page


@router.get("/surveillance/runs", response=list[RunOut])
@paginate(RunPagination, page_size=50)
def list_runs(request):
    """The detector runs, latest day first."""
    require_capability(request.user, Capability.VIEW_SURVEILLANCE)
    return DetectorRun.objects.order_by("-day")


@router.post("/surveillance/runs", response={200: RunResultOut, 422: ErrorsOut})
def run_detectors(request, payload: RunIn):
    """Run every active rule on the day now (idempotent: a signal already raised is not
    raised again)."""
    require_capability(request.user, Capability.MANAGE_SURVEILLANCE)
    form = RunForm({"day": payload.day})
    if not form.is_valid():
        return Status(422, {"detail": form_errors(form)})
    run, new, merged = form.run(request.user)
    return {**run_out(run), "new_this_run": new, "merged_this_run": merged}
