from datetime import date, datetime

from ninja import Router, Schema, Status
from ninja.pagination import PageNumberPagination, paginate

from fangyi.accounts.roles import Capability
from fangyi.cases import services
from fangyi.cases.filters import CaseFilterForm
from fangyi.cases.forms import CaseForm
from fangyi.cases.models import CaseReport
from fangyi.core.access import get_visible_or_404, require_capability
from fangyi.core.api_errors import bilingual, form_errors

router = Router(tags=["cases"])


class CaseOut(Schema):
    id: int
    person: int
    person_name: str
    disease: str
    disease_name: str
    classification: str
    onset_date: date | None
    diagnosed_at: datetime
    death_date: date | None
    status: str
    region: int
    version: int
    submitted_at: datetime | None
    reviewed_at: datetime | None
    duplicate_of: int | None


class CaseIn(Schema):
    person: int
    disease: str
    classification: str
    diagnosed_at: datetime
    onset_date: date | None = None
    death_date: date | None = None
    occupation: str = ""
    address_at_onset: str = ""
    reporting_doctor: str = ""
    remark: str = ""


class CaseCreateIn(CaseIn):
    submit: bool = False
    duplicate_confirmed: bool = False


class ReviseIn(CaseIn):
    reason: str


class ReasonIn(Schema):
    reason: str


class ErrorOut(Schema):
    detail: list[dict]
    earlier_case: int | None = None


def case_out(case: CaseReport) -> dict:
    return {
        "id": case.pk,
        "person": case.person_id,
        "person_name": case.person.name,
        "disease": case.disease.code,
        "disease_name": case.disease.name,
        "classification": case.classification,
        "onset_date": case.onset_date,
        "diagnosed_at": case.diagnosed_at,
        "death_date": case.death_date,
        "status": case.status,
        "region": case.region_id,
        "version": case.version,
        "submitted_at": case.submitted_at,
        "reviewed_at": case.reviewed_at,
        "duplicate_of": case.duplicate_of_id,
    }


def rule_error(error: services.CaseRuleError):
    return Status(409, {"detail": [{"loc": ["body"], "type": "rule", **bilingual(error.message)}]})


def duplicate_error(error: services.DuplicateCaseError):
    message = bilingual("同一患者同一病种在时间窗内已有报告卡，请确认是新病例或关联到已有报告卡。")
    detail = [{"loc": ["body"], "type": "duplicate", **message}]
    return Status(409, {"detail": detail, "earlier_case": error.earlier.pk})


class CasePagination(PageNumberPagination):
    def paginate_queryset(self, queryset, pagination, request, **params):
        page = super().paginate_queryset(queryset, pagination, request, **params)
        page[self.items_attribute] = [case_out(c) for c in page[self.items_attribute]]
        return page


@router.get("/cases", response=list[CaseOut])
@paginate(CasePagination, page_size=50)
def list_cases(
    request,
    disease: str = "",
    classification: str = "",
    status: str = "",
    diagnosed_from: date | None = None,
    diagnosed_to: date | None = None,
    region: int | None = None,
    q: str = "",
):
    """Report cards in the caller's jurisdiction (deleted ones only with status=deleted)."""
    require_capability(request.user, Capability.VIEW_PERSONS)
    params = {
        "disease": disease,
        "classification": classification,
        "status": status,
        "diagnosed_from": diagnosed_from,
        "diagnosed_to": diagnosed_to,
        "region": region,
        "q": q,
    }
    return CaseFilterForm({k: v for k, v in params.items() if v}, user=request.user).cases()


@router.get("/cases/{case_id}", response=CaseOut)
def get_case(request, case_id: int):
    require_capability(request.user, Capability.VIEW_PERSONS)
    return case_out(get_visible_or_404(CaseReport, request.user, pk=case_id))


def _validated(request, payload: CaseIn, instance=None):
    data = {k: v for k, v in payload.dict().items() if v is not None}
    return CaseForm(data, user=request.user, instance=instance)


@router.post("/cases", response={201: CaseOut, 409: ErrorOut, 422: ErrorOut})
def create_case(request, payload: CaseCreateIn):
    """Fill a card; `submit=true` reports it at once (409 on a possible duplicate unless
    `duplicate_confirmed`)."""
    require_capability(request.user, Capability.REPORT_CASES)
    form = _validated(request, payload)
    if not form.is_valid():
        return Status(422, {"detail": form_errors(form)})
    try:
        case = services.create_case(
            request.user,
            form.cleaned_data,
            submit=payload.submit,
            duplicate_confirmed=payload.duplicate_confirmed,
        )
    except services.DuplicateCaseError as error:
        return duplicate_error(error)
    return Status(201, case_out(case))


@router.post("/cases/{case_id}/submit", response={200: CaseOut, 409: ErrorOut})
def submit_case(request, case_id: int, duplicate_confirmed: bool = False):
    require_capability(request.user, Capability.REPORT_CASES)
    case = get_visible_or_404(CaseReport, request.user, pk=case_id)
    try:
        services.submit_case(request.user, case, duplicate_confirmed=duplicate_confirmed)
    except services.DuplicateCaseError as error:
        return duplicate_error(error)
    except services.CaseRuleError as error:
        return rule_error(error)
    return case_out(case)


@router.post("/cases/{case_id}/review", response={200: CaseOut, 409: ErrorOut})
def review_case(request, case_id: int):
    require_capability(request.user, Capability.REVIEW_CASES)
    case = get_visible_or_404(CaseReport, request.user, pk=case_id)
    try:
        services.review_case(request.user, case)
    except services.CaseRuleError as error:
        return rule_error(error)
    return case_out(case)


@router.post("/cases/{case_id}/revise", response={200: CaseOut, 409: ErrorOut, 422: ErrorOut})
def revise_case(request, case_id: int, payload: ReviseIn):
    require_capability(request.user, Capability.REVIEW_CASES)
    case = get_visible_or_404(CaseReport, request.user, pk=case_id)
    form = _validated(request, payload, instance=case)
    if not form.is_valid():
        return Status(422, {"detail": form_errors(form)})
    try:
        services.revise_case(request.user, case, form.cleaned_data, payload.reason)
    except services.CaseRuleError as error:
        return rule_error(error)
    return case_out(case)


@router.post("/cases/{case_id}/delete", response={200: CaseOut, 409: ErrorOut})
def delete_case(request, case_id: int, payload: ReasonIn):
    require_capability(request.user, Capability.REVIEW_CASES)
    case = get_visible_or_404(CaseReport, request.user, pk=case_id)
    try:
        services.delete_case(request.user, case, payload.reason)
    except services.CaseRuleError as error:
        return rule_error(error)
    return case_out(case)
