"""Control measures over the API: measures, health checks (one or a batch), tests of the
course, release and ending, facilities and rooms. Scoped like the pages; the same forms
validate and the same services act. Refusals are 400 (409 when the person is already under
control, with that measure's id) with `detail` [{loc, type, msg, msg_en}]."""

from dataclasses import asdict
from datetime import date, datetime
from decimal import Decimal

from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from ninja import Field, Router, Schema, Status
from ninja.errors import ValidationError
from ninja.pagination import PageNumberPagination, paginate

from fangyi.accounts.roles import Capability
from fangyi.core.access import get_visible_or_404, require_capability
from fangyi.core.api_errors import bilingual, form_errors
from fangyi.measures import services
from fangyi.measures.forms import (
    EndMeasureForm,
    HealthCheckForm,
    MeasureFilterForm,
    MeasureTestResultForm,
    PlaceUnderControlForm,
)
from fangyi.measures.models import Facility, HealthCheck, Measure, MeasureTest, Room
from fangyi.people.models import Person
from fangyi.tracing.models import Contact

router = Router(tags=["measures"])

# Readings of one batch: a facility floor or a grid list, with room to spare.
BATCH_MAX_ITEMS = 500
NOT_VISIBLE = _("记录不存在或不在您的管辖范围内。")


# Schemas ----------------------------------------------------------------------------------


class MeasureOut(Schema):
    id: int
    person: int
    name: str
    id_number: str = Field(description="masked")
    phone: str = Field(description="masked")
    type: str
    category: str
    status: str
    phase: int = Field(description="1 for the first phase of a course, 2 for the next…")
    course_start: int | None = Field(description="the first phase, for a later phase")
    policy: int
    reason: str
    contact: int | None
    start_date: date
    planned_end: date
    ended_at: datetime | None
    end_note: str
    facility: int | None
    facility_name: str
    room: int | None
    room_number: str
    address: str
    region: int = Field(description="the responsible grid (the scope of the record)")
    region_name: str
    responsible_organisation: int | None
    checks_per_day: int


class MeasureRowOut(MeasureOut):
    checks_today: int
    abnormal_today: bool


class PhaseOut(Schema):
    id: int
    phase: int
    type: str
    status: str
    start_date: date
    planned_end: date
    ended_at: datetime | None


class MeasureTestOut(Schema):
    id: int
    measure: int
    kind: str
    course_day: int | None
    due_date: date
    sampled_at: datetime | None
    result: str = Field(description="empty while no result")
    result_at: datetime | None


class CriterionOut(Schema):
    label: str
    met: bool
    detail: str


class MeasureDetailOut(MeasureOut):
    phases: list[PhaseOut] = Field(description="every phase of the course, first first")
    tests: list[MeasureTestOut] = Field(description="the tests of every phase of the course")
    release_check: list[CriterionOut] | None = Field(description="while the measure is active")


class MeasureIn(Schema):
    person: int
    category: str
    start_date: date | None = Field(None, description="default today")
    facility: int | None = Field(None, description="for a measure served in a facility")
    room: int | None = Field(None, description="default the first free room")
    address: str = Field("", description="for a measure at home; default the person's")
    reason: str = ""
    contact: int | None = Field(None, description="the registered contact of this person")


class CheckIn(Schema):
    temperature: Decimal | str | None = Field(None, description="35.0–42.0 ℃")
    symptoms: list[str] = Field(default_factory=list, description="symptom codes")
    note: str = ""
    checked_at: datetime | str | None = Field(None, description="default now")


class BatchItemIn(CheckIn):
    measure: int


class BatchIn(Schema):
    items: list[BatchItemIn]


class CheckOut(Schema):
    id: int
    measure: int
    checked_at: datetime
    day: date
    temperature: Decimal
    symptoms: list[str]
    note: str
    abnormal: bool = Field(description="≥37.3 ℃ or a symptom: a fever referral was opened")
    source: str


class BatchOut(Schema):
    items: list[CheckOut]


class EndIn(Schema):
    status: str = Field(description="hospital, transferred or absconded")
    note: str = Field("", description="where to, for a transfer")


class ResultIn(Schema):
    result: str = Field(description="negative, positive or invalid")
    sampled_at: datetime | str


class FacilityOut(Schema):
    id: int
    name: str
    kind: str
    region: int
    region_name: str
    address: str
    phone: str
    rooms: int
    free_rooms: int
    beds: int
    occupants: int


class RoomOut(Schema):
    id: int
    number: str
    floor: int
    kind: str
    beds: int
    occupants: int
    status: str


class ErrorsOut(Schema):
    detail: list[dict]
    existing_measure: int | None = Field(None, description="the measure in the way (409)")


# Shaping ----------------------------------------------------------------------------------


def measure_out(measure: Measure) -> dict:
    person = measure.person
    return {
        "id": measure.pk,
        "person": person.pk,
        "name": person.name,
        "id_number": person.id_number_masked,
        "phone": person.phone_masked,
        "type": measure.type,
        "category": measure.category,
        "status": measure.status,
        "phase": measure.phase,
        "course_start": measure.course_start_id,
        "policy": measure.policy_id,
        "reason": measure.reason,
        "contact": measure.contact_id,
        "start_date": measure.start_date,
        "planned_end": measure.planned_end,
        "ended_at": measure.ended_at,
        "end_note": measure.end_note,
        "facility": measure.facility_id,
        "facility_name": measure.facility.name if measure.facility_id else "",
        "room": measure.room_id,
        "room_number": measure.room.number if measure.room_id else "",
        "address": measure.address,
        "region": measure.region_id,
        "region_name": measure.region.full_name,
        "responsible_organisation": measure.responsible_organisation_id,
        "checks_per_day": measure.checks_per_day,
    }


def measure_test_out(test: MeasureTest) -> dict:
    return {
        "id": test.pk,
        "measure": test.measure_id,
        "kind": test.kind,
        "course_day": test.course_day,
        "due_date": test.due_date,
        "sampled_at": test.sampled_at,
        "result": test.result,
        "result_at": test.result_at,
    }


def check_out(check: HealthCheck) -> dict:
    return {
        "id": check.pk,
        "measure": check.measure_id,
        "checked_at": check.checked_at,
        "day": check.day,
        "temperature": check.temperature,
        "symptoms": check.symptoms,
        "note": check.note,
        "abnormal": check.abnormal,
        "source": check.source,
    }


def measure_detail_out(user, measure_id: int) -> dict:
    measure = (
        Measure.objects.visible_to(user)
        .select_related("person", "region", "facility", "room")
        .filter(pk=measure_id)
        .first()
    )
    if measure is None:
        raise Http404
    phases = list(measure.phases())
    tests = MeasureTest.objects.filter(measure__in=phases).order_by("due_date", "id")
    active = measure.status == Measure.Status.ACTIVE
    return {
        **measure_out(measure),
        "phases": [
            {
                "id": phase.pk,
                "phase": phase.phase,
                "type": phase.type,
                "status": phase.status,
                "start_date": phase.start_date,
                "planned_end": phase.planned_end,
                "ended_at": phase.ended_at,
            }
            for phase in phases
        ],
        "tests": [measure_test_out(test) for test in tests],
        "release_check": [asdict(c) for c in services.release_check(measure)] if active else None,
    }


def facility_out(facility: Facility, counts) -> dict:
    """A facility with its rooms by status, beds and occupants (services.occupancy)."""
    return {
        "id": facility.pk,
        "name": facility.name,
        "kind": facility.kind,
        "region": facility.region_id,
        "region_name": facility.region.full_name,
        "address": facility.address,
        "phone": facility.phone,
        "rooms": sum(counts[status] for status in Room.Status.values),
        "free_rooms": counts[Room.Status.FREE],
        "beds": counts["beds"],
        "occupants": counts["occupants"],
    }


def refusal(error: services.MeasureRuleError) -> Status:
    """A service's refusal: 409 with the measure in the way, else 400."""
    body = {
        "detail": [
            {
                "loc": ["body", error.field] if error.field else ["body"],
                "type": error.code,
                **bilingual(error.message),
            }
        ]
    }
    if error.existing is not None:
        return Status(409, {**body, "existing_measure": error.existing.pk})
    return Status(400, body)


def invalid(field: str, message) -> Status:
    return Status(
        400, {"detail": [{"loc": ["body", field], "type": "invalid", **bilingual(message)}]}
    )


def check_form(item: CheckIn, measure: Measure) -> HealthCheckForm:
    data = {
        "temperature": item.temperature,
        "symptoms": item.symptoms,
        "note": item.note,
        "checked_at": item.checked_at or "",
    }
    return HealthCheckForm(data, measure=measure)


# Measures ---------------------------------------------------------------------------------


class MeasurePagination(PageNumberPagination):
    """Slices the queryset first, then shapes (and masks) only the rows of the page."""

    def paginate_queryset(self, queryset, pagination, request, **params):
        page = super().paginate_queryset(queryset, pagination, request, **params)
        page[self.items_attribute] = [
            {
                **measure_out(m),
                "checks_today": m.checks_today,
                "abnormal_today": m.abnormal_today,
            }
            for m in page[self.items_attribute]
        ]
        return page


@router.get("/measures", response=list[MeasureRowOut])
@paginate(MeasurePagination, page_size=50)
def list_measures(
    request,
    status: str | None = None,
    type: str = "",
    category: str = "",
    region: int | None = None,
    facility: int | None = None,
    due_by: date | None = None,
    search: str = "",
):
    """Measures of persons of the caller's jurisdiction, latest first. `status`: default
    `active`, empty for every status; `region`: a street or community; `due_by`: planned
    end on or before that day; `search`: the person's name, initials, ID or phone."""
    require_capability(request.user, Capability.VIEW_MEASURES)
    query = {
        "type": type,
        "category": category,
        "region": region,
        "facility": facility,
        "due_by": due_by,
        "q": search,
    }
    if status is not None:
        query["status"] = status
    filters = MeasureFilterForm(query, user=request.user)
    if not filters.is_valid():
        raise ValidationError(
            [{**error, "loc": ["query", *error["loc"][1:]]} for error in form_errors(filters)]
        )
    return filters.measures(timezone.localdate()).select_related("region")


@router.get("/measures/{measure_id}", response=MeasureDetailOut)
def get_measure(request, measure_id: int):
    require_capability(request.user, Capability.VIEW_MEASURES)
    return measure_detail_out(request.user, measure_id)


@router.post("/measures", response={201: MeasureDetailOut, 400: ErrorsOut, 409: ErrorsOut})
def place_under_control(request, payload: MeasureIn):
    """Place a person of the caller's jurisdiction under the measure of the policy in force
    for the category, with the later phases and the tests of the course planned and, in a
    facility, a room taken. A person already under an isolating measure: 409."""
    require_capability(request.user, Capability.MANAGE_MEASURES)
    user = request.user
    person = Person.objects.visible_to(user).filter(pk=payload.person).first()
    if person is None:
        return invalid("person", NOT_VISIBLE)
    contact = None
    if payload.contact is not None:
        contact = Contact.objects.visible_to(user).filter(pk=payload.contact, person=person).first()
        if contact is None:
            return invalid("contact", _("该人员没有此密接登记，或不在您的管辖范围内。"))
    form = PlaceUnderControlForm(
        {
            "category": payload.category,
            "start_date": payload.start_date or timezone.localdate(),
            "facility": payload.facility or "",
            "room": payload.room or "",
            "address": payload.address,
            "reason": payload.reason,
        },
        user=user,
    )
    if not form.is_valid():
        return Status(400, {"detail": form_errors(form)})
    try:
        measure = services.place_under_control(user, person, contact=contact, **form.details())
    except services.MeasureRuleError as refused:
        return refusal(refused)
    return Status(201, measure_detail_out(user, measure.pk))


@router.post("/measures/{measure_id}/release", response={200: MeasureDetailOut, 400: ErrorsOut})
def release(request, measure_id: int):
    """Release when every criterion of `release_check` is met; the next phase of the course
    (home monitoring…) starts today and is among `phases`."""
    require_capability(request.user, Capability.MANAGE_MEASURES)
    measure = get_visible_or_404(Measure, request.user, pk=measure_id)
    try:
        services.release(request.user, measure)
    except services.MeasureRuleError as refused:
        return refusal(refused)
    return measure_detail_out(request.user, measure.pk)


@router.post("/measures/{measure_id}/end", response={200: MeasureDetailOut, 400: ErrorsOut})
def end(request, measure_id: int, payload: EndIn):
    """End otherwise than by release: to a designated hospital, to another jurisdiction
    (`note` says where), absconded. Later phases of the course are cancelled."""
    require_capability(request.user, Capability.MANAGE_MEASURES)
    measure = get_visible_or_404(Measure, request.user, pk=measure_id)
    form = EndMeasureForm(payload.dict())
    if not form.is_valid():
        return Status(400, {"detail": form_errors(form)})
    try:
        services.end_measure(request.user, measure, **form.cleaned_data)
    except services.MeasureRuleError as refused:
        return refusal(refused)
    return measure_detail_out(request.user, measure.pk)


@router.post("/measure-tests/{test_id}/result", response={200: MeasureTestOut, 400: ErrorsOut})
def record_test_result(request, test_id: int, payload: ResultIn):
    """The result of a test of the course; a positive alerts the jurisdiction."""
    require_capability(request.user, Capability.RECORD_CHECKS)
    test = get_visible_or_404(MeasureTest, request.user, pk=test_id)
    form = MeasureTestResultForm(payload.dict())
    if not form.is_valid():
        return Status(400, {"detail": form_errors(form)})
    try:
        services.record_test_result(request.user, test, **form.cleaned_data)
    except services.MeasureRuleError as refused:
        return refusal(refused)
    return measure_test_out(test)


# Health checks ----------------------------------------------------------------------------


@router.post("/measures/{measure_id}/checks", response={201: CheckOut, 400: ErrorsOut})
def submit_check(request, measure_id: int, payload: CheckIn):
    """One reading. An abnormal one (≥37.3 ℃ or a symptom) alerts the responsible unit and
    opens the fever referral duty."""
    require_capability(request.user, Capability.RECORD_CHECKS)
    measure = get_visible_or_404(Measure, request.user, pk=measure_id)
    form = check_form(payload, measure)
    if not form.is_valid():
        return Status(400, {"detail": form_errors(form)})
    (check,) = services.record_checks(request.user, [form.entry()], source=HealthCheck.Source.API)
    return Status(201, check_out(check))


@router.post("/checks/batch", response={201: BatchOut, 400: ErrorsOut})
def submit_checks(request, payload: BatchIn):
    """Readings of many measures (a floor, a grid list): all saved, or, if any item is
    wrong, none, with each item's errors at ["body", "items", index, field]."""
    require_capability(request.user, Capability.RECORD_CHECKS)
    items = payload.items
    if len(items) > BATCH_MAX_ITEMS:
        message = _("每批最多%(n)s条监测记录。") % {"n": BATCH_MAX_ITEMS}
        return invalid("items", message)
    # One query for the measures of the whole batch, with what an abnormal reading's duty
    # and alert name.
    measures = (
        Measure.objects.visible_to(request.user)
        .select_related("person", "region", "responsible_organisation")
        .in_bulk({item.measure for item in items})
    )
    entries, errors = [], []
    for index, item in enumerate(items):
        where = ["body", "items", index]
        measure = measures.get(item.measure)
        if measure is None:
            errors.append(
                {"loc": [*where, "measure"], "type": "not_found", **bilingual(NOT_VISIBLE)}
            )
            continue
        form = check_form(item, measure)
        if form.is_valid():
            entries.append(form.entry())
        else:
            errors += [{**error, "loc": [*where, *error["loc"][1:]]} for error in form_errors(form)]
    if errors:
        return Status(400, {"detail": errors})
    checks = services.record_checks(request.user, entries, source=HealthCheck.Source.API)
    return Status(201, {"items": [check_out(check) for check in checks]})


# Facilities -------------------------------------------------------------------------------


@router.get("/facilities", response=list[FacilityOut])
def list_facilities(request):
    """Active quarantine facilities of the caller's jurisdiction with today's occupancy."""
    require_capability(request.user, Capability.VIEW_MEASURES)
    facilities = list(
        Facility.objects.visible_to(request.user).filter(active=True).select_related("region")
    )
    occupancy = services.occupancy_of(facilities)
    return [facility_out(facility, occupancy[facility.pk]) for facility in facilities]


@router.get("/facilities/{facility_id}/rooms", response=list[RoomOut])
def list_rooms(request, facility_id: int):
    require_capability(request.user, Capability.VIEW_MEASURES)
    facility = get_visible_or_404(Facility, request.user, pk=facility_id)
    return list(
        facility.rooms.values("id", "number", "floor", "kind", "beds", "occupants", "status")
    )
