"""Use cases of the report card: report, submit (with the duplicate check), review, revise,
delete. Every step is audited and opens or closes its deadline task."""

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fangyi.cases.models import CaseReport, CaseRevision
from fangyi.core import deadlines
from fangyi.core.audit import diff, record_change
from fangyi.core.models import ChangeLog, Duty
from fangyi.diseases.models import Classification
from fangyi.geo.models import Organisation

CARD_FIELDS = (
    "person",
    "disease",
    "classification",
    "onset_date",
    "diagnosed_at",
    "death_date",
    "occupation",
    "address_at_onset",
    "reporting_organisation",
    "reporting_doctor",
    "remark",
)
# Classifications that start the 24-hour investigation clock.
INVESTIGATED = {Classification.CONFIRMED, Classification.ASYMPTOMATIC}


class CaseRuleError(Exception):
    """A workflow rule refused the action; `message` is for the user (Chinese)."""

    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


class DuplicateCaseError(Exception):
    def __init__(self, earlier: CaseReport):
        super().__init__(f"earlier card {earlier.pk}")
        self.earlier = earlier


def find_duplicate(case: CaseReport) -> CaseReport | None:
    """An earlier live card of the same person and disease within the window (查重)."""
    window = timedelta(days=settings.CASE_DUPLICATE_WINDOW_DAYS)
    return (
        CaseReport.objects.alive()
        .filter(
            person=case.person_id,
            disease=case.disease_id,
            diagnosed_at__gte=case.diagnosed_at - window,
            diagnosed_at__lte=case.diagnosed_at + window,
        )
        .exclude(pk=case.pk)
        .exclude(status=CaseReport.Status.DRAFT)
        .order_by("diagnosed_at")
        .first()
    )


def _apply(case: CaseReport, data: dict[str, Any]) -> None:
    for field in CARD_FIELDS:
        if field in data:
            setattr(case, field, data[field])
    case.region = case.person.grid


def _audit(actor, case: CaseReport, action: str, before: dict, reason: str = "") -> None:
    record_change(
        actor, case, action, diff(before, case.audit_snapshot()), region=case.region, reason=reason
    )


@transaction.atomic
def create_case(
    actor,
    data: dict[str, Any],
    *,
    submit: bool = False,
    duplicate_confirmed: bool = False,
    report_hours: int | None = None,
) -> CaseReport:
    """Fill a card (a draft), and submit it at once when asked. The report duty runs from the
    diagnosis time, with the disease's own limit unless a stricter one applies (a positive
    lab result must be reported within 2 hours)."""
    case = CaseReport(created_by=actor, reporting_organisation=getattr(actor, "organisation", None))
    _apply(case, data)
    case.save()
    _audit(actor, case, ChangeLog.Action.CREATE, {})
    deadlines.open_task(
        Duty.REPORT_CASE,
        case,
        region=case.region,
        started_at=case.diagnosed_at,
        hours=report_hours or case.disease.report_within_hours,
        organisation=case.reporting_organisation,
        user=actor,
        label=str(case),
    )
    if submit:
        submit_case(actor, case, duplicate_confirmed=duplicate_confirmed)
    return case


@transaction.atomic
def submit_case(actor, case: CaseReport, *, duplicate_confirmed: bool = False) -> CaseReport:
    """Report the card. A possible duplicate stops the submission until the reporter either
    confirms it is a new case (`duplicate_confirmed`) or links it (`link_as_duplicate`)."""
    if case.status != CaseReport.Status.DRAFT:
        raise CaseRuleError(_("只有草稿状态的报告卡可以提交。"))
    earlier = find_duplicate(case)
    if earlier is not None and not duplicate_confirmed:
        raise DuplicateCaseError(earlier)
    before = case.audit_snapshot()
    now = timezone.now()
    case.status = CaseReport.Status.SUBMITTED
    case.submitted_at = now
    case.save(update_fields=["status", "submitted_at"])
    _audit(actor, case, ChangeLog.Action.UPDATE, before)
    deadlines.close_task(case, Duty.REPORT_CASE, done_at=now)
    # A reported contact becomes their index case's infectee (transmission chain).
    from fangyi.tracing.services import on_case_reported

    on_case_reported(actor, case)
    deadlines.open_task(
        Duty.REVIEW_CASE,
        case,
        region=case.region,
        started_at=now,
        urgent=case.disease.is_urgent,
        organisation=responsible_cdc(case),
        label=str(case),
    )
    _start_investigation_clock(case, now)
    return case


def responsible_cdc(case: CaseReport) -> Organisation | None:
    """The CDC of the card's jurisdiction reviews and investigates it."""
    return Organisation.objects.nearest(Organisation.Type.CDC, case.region)


def _start_investigation_clock(case: CaseReport, now) -> None:
    if (
        case.classification in INVESTIGATED
        and not deadlines.tasks_of(case, Duty.INVESTIGATE_CASE).exists()
    ):
        deadlines.open_task(
            Duty.INVESTIGATE_CASE,
            case,
            region=case.region,
            started_at=now,
            organisation=responsible_cdc(case),
            label=str(case),
        )


@transaction.atomic
def review_case(actor, case: CaseReport) -> CaseReport:
    """The CDC of the jurisdiction confirms the card (审核)."""
    if case.status != CaseReport.Status.SUBMITTED:
        raise CaseRuleError(_("只有待审核的报告卡可以审核。"))
    before = case.audit_snapshot()
    case.status = CaseReport.Status.REVIEWED
    case.reviewed_at = timezone.now()
    case.reviewed_by = actor
    case.save(update_fields=["status", "reviewed_at", "reviewed_by"])
    _audit(actor, case, ChangeLog.Action.UPDATE, before)
    deadlines.close_task(case, Duty.REVIEW_CASE, done_at=case.reviewed_at)
    return case


@transaction.atomic
def revise_case(actor, case: CaseReport, data: dict[str, Any], reason: str) -> CaseReport:
    """Revise a reported card (订正): the earlier version is kept as a revision."""
    if case.status not in (CaseReport.Status.SUBMITTED, CaseReport.Status.REVIEWED):
        raise CaseRuleError(_("只有已报告的报告卡可以订正；草稿请直接修改。"))
    if not reason.strip():
        raise CaseRuleError(_("订正需要填写原因。"))
    before = case.audit_snapshot()
    CaseRevision.objects.create(
        case=case, version=case.version, snapshot=before, revised_by=actor, reason=reason
    )
    _apply(case, data)
    case.version += 1
    case.save()
    _audit(actor, case, ChangeLog.Action.UPDATE, before, reason=reason)
    _start_investigation_clock(case, timezone.now())
    return case


@transaction.atomic
def update_draft(actor, case: CaseReport, data: dict[str, Any]) -> CaseReport:
    if case.status != CaseReport.Status.DRAFT:
        raise CaseRuleError(_("已报告的报告卡只能订正。"))
    before = case.audit_snapshot()
    _apply(case, data)
    case.save()
    _audit(actor, case, ChangeLog.Action.UPDATE, before)
    return case


@transaction.atomic
def link_as_duplicate(actor, case: CaseReport, earlier: CaseReport) -> CaseReport:
    """The draft reports a case already reported: keep it, linked, out of the counts."""
    case.duplicate_of = earlier
    case.save(update_fields=["duplicate_of"])
    reason = _("重复报告，已关联到报告卡 %(number)s") % {"number": earlier.pk}
    return delete_case(actor, case, str(reason))


@transaction.atomic
def delete_case(actor, case: CaseReport, reason: str) -> CaseReport:
    """Soft delete with a reason; open deadlines of the card are cancelled."""
    if not reason.strip():
        raise CaseRuleError(_("删除报告卡需要填写原因。"))
    if case.status == CaseReport.Status.DELETED:
        raise CaseRuleError(_("该报告卡已删除。"))
    before = case.audit_snapshot()
    case.status = CaseReport.Status.DELETED
    case.deleted_at = timezone.now()
    case.deleted_reason = reason
    case.save(update_fields=["status", "deleted_at", "deleted_reason"])
    _audit(actor, case, ChangeLog.Action.DELETE, before, reason=reason)
    deadlines.cancel_tasks(case)
    return case
