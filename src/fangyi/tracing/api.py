from datetime import datetime
from typing import Literal

from django.http import Http404
from ninja import Field, Router, Schema, Status
from ninja.pagination import PageNumberPagination, paginate

from fangyi.accounts.roles import Capability
from fangyi.cases.models import CaseReport
from fangyi.core.access import get_visible_or_404, require_capability
from fangyi.core.api_errors import bilingual, form_errors
from fangyi.tracing import services
from fangyi.tracing.forms import ContactFilterForm, ContactForm, InvestigationForm
from fangyi.tracing.models import Contact, Investigation

router = Router(tags=["tracing"])


class ContactOut(Schema):
    id: int
    person: int
    name: str
    id_number: str = Field(description="masked")
    phone: str = Field(description="masked")
    grid: int = Field(description="region id of the contact's grid")
    grid_name: str
    degree: int = Field(description="1: close contact of a case, 2: contact of a close contact")
    case: int | None
    source_contact: int | None
    index_case: int = Field(description="the case at the origin (for degree 2 via the source)")
    relation: str
    setting: Contact.Setting
    last_exposure_at: datetime
    found_by: Contact.FoundBy
    source_note: str
    needs_assistance: bool
    registered_at: datetime
    control_due_at: datetime | None
    controlled_at: datetime | None
    became_case: int | None


class ContactIn(Schema):
    person: int
    case: int | None = Field(None, description="for a close contact of this case")
    source_contact: int | None = Field(None, description="for a contact of this close contact")
    relation: str = ""
    setting: str
    last_exposure_at: datetime
    found_by: str = Contact.FoundBy.INVESTIGATION
    assistance_address: str = Field("", description="address elsewhere: needs assistance")


class TrajectoryOut(Schema):
    id: int
    place: int | None
    place_name: str
    start: datetime
    end: datetime
    notes: str


class InvestigationOut(Schema):
    id: int | None = Field(description="null while not started")
    case: int
    investigator: str
    exposure_history: str
    travel_history: str
    suspected_source_type: Investigation.SourceType
    source_case: int | None
    source_place: int | None
    notes: str
    started_at: datetime | None
    completed_at: datetime | None
    trajectory: list[TrajectoryOut]


class InvestigationIn(Schema):
    exposure_history: str = ""
    travel_history: str = ""
    suspected_source_type: str = Investigation.SourceType.UNKNOWN
    source_case: int | None = None
    source_place: int | None = None
    notes: str = ""


class ErrorsOut(Schema):
    detail: list[dict]


def rule_errors(error: services.TracingRuleError) -> dict:
    """A service refusal in the shape of a 422 detail."""
    location = ["body", error.field] if error.field else ["body"]
    return {"detail": [{"loc": location, "type": error.code, **bilingual(error.message)}]}


def contact_out(contact: Contact) -> dict:
    person = contact.person
    return {
        "id": contact.pk,
        "person": person.pk,
        "name": person.name,
        "id_number": person.id_number_masked,
        "phone": person.phone_masked,
        "grid": contact.region_id,
        "grid_name": contact.region.full_name,
        "degree": contact.degree,
        "case": contact.case_id,
        "source_contact": contact.source_contact_id,
        "index_case": contact.index_case_id,
        "relation": contact.relation,
        "setting": contact.setting,
        "last_exposure_at": contact.last_exposure_at,
        "found_by": contact.found_by,
        "source_note": contact.source_note,
        "needs_assistance": contact.needs_assistance,
        "registered_at": contact.registered_at,
        "control_due_at": getattr(contact, "control_due_at", None),
        "controlled_at": contact.controlled_at,
        "became_case": contact.became_case_id,
    }


def visible_contact(request, contact_id: int) -> Contact:
    """One contact in scope, with what `contact_out` reads (404 otherwise)."""
    contact = (
        Contact.objects.visible_to(request.user)
        .with_control_due()
        .with_index_case()
        .select_related("person", "region")
        .filter(pk=contact_id)
        .first()
    )
    if contact is None:
        raise Http404
    return contact


class ContactPagination(PageNumberPagination):
    """Slices the queryset first, then shapes (and masks) only the rows of the page."""

    def paginate_queryset(self, queryset, pagination, request, **params):
        page = super().paginate_queryset(queryset, pagination, request, **params)
        page[self.items_attribute] = [contact_out(c) for c in page[self.items_attribute]]
        return page


@router.get("/contacts", response=list[ContactOut])
@paginate(ContactPagination, page_size=50)
def list_contacts(
    request,
    case: int | None = None,
    degree: Literal[1, 2] | None = None,
    controlled: bool | None = None,
    overdue: bool = False,
    search: str = "",
):
    """Contacts living in the caller's jurisdiction. `case`: the close contacts of that
    case and their contacts; `overdue`: control not in place past the 12-hour limit."""
    require_capability(request.user, Capability.VIEW_PERSONS)
    filters = ContactFilterForm(
        {
            "case": case,
            "degree": degree or "",
            "controlled": "" if controlled is None else ("yes" if controlled else "no"),
            "overdue": overdue,
            "q": search,
        },
        user=request.user,
    )
    return filters.contacts()


@router.get("/contacts/{contact_id}", response=ContactOut)
def get_contact(request, contact_id: int):
    require_capability(request.user, Capability.VIEW_PERSONS)
    return contact_out(visible_contact(request, contact_id))


@router.post("/contacts", response={201: ContactOut, 422: ErrorsOut})
def create_contact(request, payload: ContactIn):
    """Register a close contact (`case`) or a contact of a close contact
    (`source_contact`); the person must be registered and in the caller's jurisdiction.
    Starts the 12-hour control duty."""
    require_capability(request.user, Capability.TRACE_CONTACTS)
    form = ContactForm(payload.dict(), user=request.user)
    if not form.is_valid():
        return Status(422, {"detail": form_errors(form)})
    try:
        contact = services.register_contact(
            request.user, person=form.cleaned_data["person"], **form.details()
        )
    except services.TracingRuleError as refused:
        return Status(422, rule_errors(refused))
    return Status(201, contact_out(visible_contact(request, contact.pk)))


@router.post("/contacts/{contact_id}/controlled", response={200: ContactOut, 422: ErrorsOut})
def mark_contact_controlled(request, contact_id: int):
    """Control measures are in place (落实管控): closes the 12-hour task."""
    require_capability(request.user, Capability.TRACE_CONTACTS)
    contact = get_visible_or_404(Contact, request.user, pk=contact_id)
    try:
        services.mark_controlled(request.user, contact)
    except services.TracingRuleError as refused:
        return Status(422, rule_errors(refused))
    return contact_out(visible_contact(request, contact.pk))


def reported_case(request, case_id: int) -> CaseReport:
    return get_visible_or_404(CaseReport, request.user, pk=case_id, status__in=services.REPORTED)


def investigation_out(case: CaseReport, investigation: Investigation | None) -> dict:
    if investigation is None:
        investigation = Investigation(case=case, started_at=None)
    entries = investigation.trajectory.select_related("place") if investigation.pk else []
    return {
        "id": investigation.pk,
        "case": case.pk,
        "investigator": str(investigation.investigator or ""),
        "exposure_history": investigation.exposure_history,
        "travel_history": investigation.travel_history,
        "suspected_source_type": investigation.suspected_source_type,
        "source_case": investigation.source_case_id,
        "source_place": investigation.source_place_id,
        "notes": investigation.notes,
        "started_at": investigation.started_at,
        "completed_at": investigation.completed_at,
        "trajectory": [
            {
                "id": entry.pk,
                "place": entry.place_id,
                "place_name": entry.place.name if entry.place_id else entry.place_text,
                "start": entry.start,
                "end": entry.end,
                "notes": entry.notes,
            }
            for entry in entries
        ],
    }


@router.get("/cases/{case_id}/investigation", response=InvestigationOut)
def get_investigation(request, case_id: int):
    """The case's investigation (`id` null while nobody has started it)."""
    require_capability(request.user, Capability.VIEW_PERSONS)
    case = reported_case(request, case_id)
    return investigation_out(case, Investigation.objects.filter(case=case).first())


@router.put("/cases/{case_id}/investigation", response={200: InvestigationOut, 422: ErrorsOut})
def put_investigation(request, case_id: int, payload: InvestigationIn):
    """Start (if needed) and save the investigation. `source_case` with source type `case`,
    `source_place` with `place`."""
    require_capability(request.user, Capability.INVESTIGATE_CASES)
    case = reported_case(request, case_id)
    current = Investigation.objects.filter(case=case).first()
    form = InvestigationForm(payload.dict(), instance=current, user=request.user, case=case)
    if not form.is_valid():
        return Status(422, {"detail": form_errors(form)})
    try:
        current = services.start_investigation(request.user, case)
        services.save_investigation(request.user, current, form.cleaned_data)
    except services.TracingRuleError as refused:
        return Status(422, rule_errors(refused))
    return investigation_out(case, current)


@router.post(
    "/cases/{case_id}/investigation/complete", response={200: InvestigationOut, 422: ErrorsOut}
)
def complete_investigation(request, case_id: int):
    """Complete the investigation: closes the 24-hour task."""
    require_capability(request.user, Capability.INVESTIGATE_CASES)
    case = reported_case(request, case_id)
    current = Investigation.objects.filter(case=case).first()
    try:
        if current is None:
            raise services.TracingRuleError(services.NOT_STARTED, code="not_started")
        services.complete_investigation(request.user, current)
    except services.TracingRuleError as refused:
        return Status(422, rule_errors(refused))
    return investigation_out(case, current)
