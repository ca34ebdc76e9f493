"""Canvassing and daily reports over the API: rounds and their coverage, household visits,
the communities' reports of a day and submitting one. Scoped like the pages; the same
services act. Refusals are 422 with `detail` [{loc, type, msg, msg_en}]."""

from datetime import date, datetime

from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from ninja import Field, Router, Schema, Status

from fangyi.accounts.roles import Capability
from fangyi.core.access import require_capability
from fangyi.core.api_errors import bilingual
from fangyi.core.rules import RuleError
from fangyi.people.models import Household, Person
from fangyi.travel import canvass, reports
from fangyi.travel.models import HouseholdVisit, ReportRule

router = Router(tags=["travel"])

NOT_VISIBLE = _("记录不存在或不在您的管辖范围内。")


class RoundOut(Schema):
    id: int
    name: str
    region: int
    region_name: str
    started_at: datetime
    deadline: datetime
    instructions: str


class CoverageOut(Schema):
    region: int
    name: str
    households: int
    visited: int
    rate: float = Field(description="percent of households visited")
    people_found: int
    arrivals_found: int


class CommunityCoverageOut(CoverageOut):
    grids: list[CoverageOut]


class RoundCoverageOut(Schema):
    round: RoundOut
    total: CoverageOut
    late: bool = Field(description="past the deadline with households not visited")
    communities: list[CommunityCoverageOut]


class VisitIn(Schema):
    household: int
    canvass_round: int | None = Field(None, description="the round, or none for a lone visit")
    visited_on: date | None = Field(None, description="default today")
    outcome: str = Field(HouseholdVisit.Outcome.VISITED, description="visited, nobody_home…")
    found_persons: list[int] = Field(default_factory=list, description="members found (ids)")
    people_found: int | None = Field(None, description="default the members found")
    arrivals_found: int = 0
    note: str = ""


class VisitOut(Schema):
    id: int
    household: int
    canvass_round: int | None
    grid: int
    visited_on: date
    outcome: str
    people_found: int
    arrivals_found: int
    found_persons: list[int]
    note: str


class ReportOut(Schema):
    community: int
    community_name: str
    day: date
    standing: str = Field(description="on_time, late, missing or not_due")
    due_at: datetime
    submitted_at: datetime | None
    signed_by: str
    is_zero: bool | None
    figures: dict | None = Field(description="the figures as confirmed by the reporter")


class ReportIn(Schema):
    community: int
    day: date | None = Field(None, description="default today")
    is_zero: bool = False
    signed_by: str
    note: str = ""


class ErrorsOut(Schema):
    detail: list[dict]


def refusal(error: RuleError) -> Status:
    where = [error.field] if error.field else []
    detail = {"loc": ["body", *where], "type": error.code, **bilingual(error.message)}
    return Status(422, {"detail": [detail]})


def round_out(found) -> dict:
    return {
        "id": found.pk,
        "name": found.name,
        "region": found.region_id,
        "region_name": found.region.full_name or found.region.name,
        "started_at": found.started_at,
        "deadline": found.deadline,
        "instructions": found.instructions,
    }


def coverage_out(row: canvass.Coverage) -> dict:
    return {
        "region": row.region.pk,
        "name": row.region.name,
        "households": row.households,
        "visited": row.visited,
        "rate": row.rate,
        "people_found": row.people_found,
        "arrivals_found": row.arrivals_found,
    }


def _round(request, round_id: int):
    require_capability(request.user, Capability.VIEW_ARRIVALS)
    found = canvass.rounds_for(request.user).select_related("region").filter(pk=round_id).first()
    if found is None:
        raise Http404
    return found


@router.get("/canvass/rounds", response=list[RoundOut])
def list_rounds(request):
    require_capability(request.user, Capability.VIEW_ARRIVALS)
    rounds = canvass.rounds_for(request.user).select_related("region").order_by("-started_at")
    return [round_out(r) for r in rounds]


@router.get("/canvass/rounds/{round_id}/coverage", response=RoundCoverageOut)
def round_coverage(request, round_id: int):
    found = _round(request, round_id)
    covered = canvass.coverage(found, request.user)
    return {
        "round": round_out(found),
        "total": coverage_out(covered.total),
        "late": canvass.is_late(found, covered.total),
        "communities": [
            {**coverage_out(c), "grids": [coverage_out(g) for g in c.grids]}
            for c in covered.communities
        ],
    }


@router.post("/canvass/visits", response={201: VisitOut, 422: ErrorsOut})
def record_visit(request, payload: VisitIn):
    require_capability(request.user, Capability.CANVASS)
    household = Household.objects.visible_to(request.user).filter(pk=payload.household).first()
    if household is None:
        return refusal(RuleError(NOT_VISIBLE, field="household", code="not_visible"))
    found_round = None
    if payload.canvass_round is not None:
        found_round = canvass.rounds_for(request.user).filter(pk=payload.canvass_round).first()
        if found_round is None:
            return refusal(RuleError(NOT_VISIBLE, field="canvass_round", code="not_visible"))
    members = {p.pk: p for p in Person.objects.filter(household=household)}
    if set(payload.found_persons) - set(members):
        message = _("在住人员须为该户成员。")
        return refusal(RuleError(message, field="found_persons", code="not_member"))
    try:
        visit = canvass.record_visit(
            request.user,
            household,
            canvass_round=found_round,
            visited_on=payload.visited_on or timezone.localdate(),
            outcome=payload.outcome,
            people_found=payload.people_found,
            found_persons=[members[pk] for pk in payload.found_persons],
            arrivals_found=payload.arrivals_found,
            note=payload.note,
        )
    except RuleError as refused:
        return refusal(refused)
    return Status(
        201,
        {
            "id": visit.pk,
            "household": household.pk,
            "canvass_round": visit.canvass_round_id,
            "grid": visit.grid_id,
            "visited_on": visit.visited_on,
            "outcome": visit.outcome,
            "people_found": visit.people_found,
            "arrivals_found": visit.arrivals_found,
            "found_persons": sorted(payload.found_persons),
            "note": visit.note,
        },
    )


def report_out(entry: reports.CommunityDay, day: date, due_at: datetime) -> dict:
    report = entry.report
    return {
        "community": entry.community.pk,
        "community_name": entry.community.full_name,
        "day": day,
        "standing": entry.standing,
        "due_at": due_at,
        "submitted_at": report.submitted_at if report else None,
        "signed_by": report.signed_by if report else "",
        "is_zero": report.is_zero if report else None,
        "figures": report.figures if report else None,
    }


@router.get("/daily-reports", response=list[ReportOut])
def list_daily_reports(request, day: date | None = None):
    """Each community in the caller's jurisdiction and its report of the day."""
    require_capability(request.user, Capability.VIEW_ARRIVALS)
    day = day or timezone.localdate()
    due_at = ReportRule.deadline_on(day)
    return [report_out(entry, day, due_at) for entry in reports.day_board(request.user, day)]


@router.post("/daily-reports", response={201: ReportOut, 422: ErrorsOut})
def submit_daily_report(request, payload: ReportIn):
    """File a community's report with the system's figures at this moment, or a zero
    report (refused when the day has new findings)."""
    require_capability(request.user, Capability.SUBMIT_DAILY_REPORTS)
    community = reports.communities_visible_to(request.user).filter(pk=payload.community).first()
    if community is None:
        return refusal(RuleError(NOT_VISIBLE, field="community", code="not_visible"))
    day = payload.day or timezone.localdate()
    try:
        report = reports.submit_report(
            request.user,
            community,
            day,
            is_zero=payload.is_zero,
            signed_by=payload.signed_by,
            note=payload.note,
        )
    except RuleError as refused:
        return refusal(refused)
    entry = reports.CommunityDay(
        community, reports.standing_of(report, report.due_at, timezone.now()), report
    )
    return Status(201, report_out(entry, day, report.due_at))
