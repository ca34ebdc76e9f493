"""Arrivals over the API: the list and one arrival (scoped and masked like the pages), and
registration of one arrival or a batch for hotels', employers' and grid systems.

A batch is all or nothing: every item is checked by the form the pages use; if any fails,
nothing is stored and the answer (400) lists each failing item's errors at
["body", "items", index, field] with `msg` (Chinese) and `msg_en`. Otherwise every item is
registered through `services.register_arrival` in one transaction (201): the same person
arriving on the same day merges into the earlier report (`created` false)."""

from datetime import date, datetime
from decimal import Decimal

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from ninja import Field, Router, Schema, Status
from ninja.errors import ValidationError
from ninja.pagination import PageNumberPagination, paginate

from fangyi.accounts.roles import Capability
from fangyi.core.access import get_visible_or_404, require_capability
from fangyi.core.api_errors import bilingual, form_errors
from fangyi.people.models import Person
from fangyi.travel import services
from fangyi.travel.arrival_forms import (
    OTHER_STAYS,
    ArrivalFilterForm,
    ArrivalForm,
    BatchRefused,
    entry_party,
    register_all,
)
from fangyi.travel.models import Arrival

router = Router(tags=["travel"])

BATCH_MAX_ITEMS = 500
NOT_VISIBLE = _("记录不存在或不在您的管辖范围内。")


# Schemas ----------------------------------------------------------------------------------


class ArrivalOut(Schema):
    id: int
    person: int
    name: str
    id_number: str = Field(description="masked")
    phone: str = Field(description="masked")
    origin: str
    origin_adcode: str
    origin_level: str = Field(description="high, medium, low or empty (no risk area)")
    arrival_date: date
    grid: int
    grid_name: str
    status: str = Field(description="measure, check_only or pending")
    measure: int | None
    measure_type: str
    certificate_missing: bool
    channel: str = Field(description="the first report's: self, grid, hotel, employer, import")
    channels: list[str]
    reports: int
    created_at: datetime


class StayOut(Schema):
    address: str
    adcode: str
    from_date: date
    to_date: date


class RuleOut(Schema):
    id: int
    origin_level: str
    category: str
    version: int
    effective_from: date
    advice: str


class ArrivalDetailOut(ArrivalOut):
    stay_from: date
    departure_date: date
    transport: str
    transport_number: str
    destination: str
    has_certificate: bool
    certificate_sampled_at: datetime | None
    temperature: Decimal | None
    symptoms: list[str]
    rule: RuleOut | None
    outcome: str
    pending_reason: str
    receipt_code: str
    stays: list[StayOut]


class StayIn(Schema):
    address: str
    from_date: date | str
    to_date: date | str


class ArrivalIn(Schema):
    person: int | None = Field(
        None, description="a registered person of the caller's scope; else name and document"
    )
    name: str = ""
    id_type: str = Field("resident_id", description="resident_id, passport or other")
    id_number: str = ""
    phone: str = ""
    origin: str = Field(description="free-text address, e.g. 湖北省武汉市江汉区花楼街道")
    stay_from: date | str
    departure_date: date | str
    arrival_date: date | str = Field(description="up to 3 days ahead")
    transport: str = Field(description="car, train, plane, coach, ship or other")
    transport_number: str = ""
    destination: str
    grid: int | str = Field(description="the grid's id or code")
    certificate_sampled_at: datetime | str | None = Field(
        None, description="sampling time of a negative test certificate, if any"
    )
    temperature: Decimal | str | None = Field(None, description="35.0–42.0 ℃")
    symptoms: list[str] = Field(default_factory=list, description="symptom codes")
    other_stays: list[StayIn] = Field(default_factory=list, description=f"at most {OTHER_STAYS}")
    note: str = ""


class BatchIn(Schema):
    items: list[ArrivalIn] = Field(description=f"one arrival or up to {BATCH_MAX_ITEMS}")


class RegisteredOut(Schema):
    id: int
    created: bool = Field(description="false: merged into an earlier report of this arrival")
    receipt_code: str
    origin_level: str
    status: str
    outcome: str


class BatchOut(Schema):
    items: list[RegisteredOut]


class ErrorsOut(Schema):
    detail: list[dict]


# Shaping ----------------------------------------------------------------------------------


def arrival_out(arrival: Arrival) -> dict:
    person = arrival.person
    return {
        "id": arrival.pk,
        "person": person.pk,
        "name": person.name,
        "id_number": person.id_number_masked,
        "phone": person.phone_masked,
        "origin": arrival.origin,
        "origin_adcode": arrival.origin_adcode,
        "origin_level": arrival.origin_level,
        "arrival_date": arrival.arrival_date,
        "grid": arrival.grid_id,
        "grid_name": arrival.grid.full_name,
        "status": arrival.status,
        "measure": arrival.measure_id,
        "measure_type": arrival.measure.type if arrival.measure_id else "",
        "certificate_missing": arrival.certificate_missing,
        "channel": arrival.channel,
        "channels": arrival.channels,
        "reports": arrival.reports,
        "created_at": arrival.created_at,
    }


def arrival_detail_out(arrival: Arrival) -> dict:
    rule = arrival.rule
    return {
        **arrival_out(arrival),
        "stay_from": arrival.stay_from,
        "departure_date": arrival.departure_date,
        "transport": arrival.transport,
        "transport_number": arrival.transport_number,
        "destination": arrival.destination,
        "has_certificate": arrival.has_certificate,
        "certificate_sampled_at": arrival.certificate_sampled_at,
        "temperature": arrival.temperature,
        "symptoms": arrival.symptoms,
        "rule": {
            "id": rule.pk,
            "origin_level": rule.origin_level,
            "category": rule.category,
            "version": rule.version,
            "effective_from": rule.effective_from,
            "advice": rule.advice,
        }
        if rule
        else None,
        "outcome": services.outcome_text(arrival),
        "pending_reason": arrival.pending_reason,
        "receipt_code": arrival.receipt_code,
        "stays": list(
            arrival.stays.order_by("from_date").values("address", "adcode", "from_date", "to_date")
        ),
    }


# Reading ----------------------------------------------------------------------------------


class ArrivalPagination(PageNumberPagination):
    """Slices the queryset first, then shapes (and masks) only the rows of the page."""

    def paginate_queryset(self, queryset, pagination, request, **params):
        page = super().paginate_queryset(queryset, pagination, request, **params)
        page[self.items_attribute] = [arrival_out(a) for a in page[self.items_attribute]]
        return page


@router.get("/arrivals", response=list[ArrivalOut])
@paginate(ArrivalPagination, page_size=50)
def list_arrivals(
    request,
    arrived_from: date | None = None,
    arrived_to: date | None = None,
    origin_level: str = "",
    status: str = "",
    channel: str = "",
    region: int | None = None,
    certificate_missing: bool = False,
    search: str = "",
):
    """Arrivals into the caller's jurisdiction, latest arrival first. `origin_level`: high,
    medium, low or none (no risk area); `region`: a street, community or grid; `search`: the
    person's name, initials, ID or phone, or a receipt code."""
    require_capability(request.user, Capability.VIEW_ARRIVALS)
    query = {
        "arrived_from": arrived_from or "",
        "arrived_to": arrived_to or "",
        "origin_level": origin_level,
        "status": status,
        "channel": channel,
        "region": region or "",
        "q": search,
    }
    if certificate_missing:
        query["certificate_missing"] = "on"
    filters = ArrivalFilterForm(query, user=request.user)
    if not filters.is_valid():
        raise ValidationError(
            [{**error, "loc": ["query", *error["loc"][1:]]} for error in form_errors(filters)]
        )
    return filters.arrivals()


@router.get("/arrivals/{arrival_id}", response=ArrivalDetailOut)
def get_arrival(request, arrival_id: int):
    require_capability(request.user, Capability.VIEW_ARRIVALS)
    return arrival_detail_out(get_visible_or_404(Arrival, request.user, pk=arrival_id))


# Registering ------------------------------------------------------------------------------


def form_data(item: ArrivalIn, grid_ids: dict[str, str]) -> dict:
    data = item.dict(exclude={"person", "other_stays"})
    data["grid"] = grid_ids.get(str(item.grid), "-1")  # unknown: the form says so
    data["has_certificate"] = bool(item.certificate_sampled_at)
    for n, stay in enumerate(item.other_stays, start=1):
        data |= {
            f"stay{n}_address": stay.address,
            f"stay{n}_from": stay.from_date,
            f"stay{n}_to": stay.to_date,
        }
    return {k: v for k, v in data.items() if v is not None}


def error(where: list, code: str, message) -> dict:
    return {"loc": ["body", *where], "type": code, **bilingual(message)}


def in_english(message: str) -> str:
    """The English of a message rendered in Chinese (a service's refusal)."""
    with translation.override("en"):
        return gettext(message)


def item_errors(index: int, form: ArrivalForm) -> list[dict]:
    errors = []
    for entry in form_errors(form):
        if entry["msg_en"] == entry["msg"]:
            entry["msg_en"] = in_english(entry["msg"])
        errors.append({**entry, "loc": ["body", "items", index, *entry["loc"][1:]]})
    return errors


@router.post("/arrivals", response={201: BatchOut, 400: ErrorsOut})
def register_arrivals(request, payload: BatchIn):
    """Register one arrival or a batch (at most 500): all or nothing. A hotel's or
    employer's account registers into the grids of its township, others into the grids of
    their jurisdiction. Each new arrival is classified and placed under its measure."""
    require_capability(request.user, Capability.REGISTER_ARRIVALS)
    user = request.user
    items = payload.items
    if not items or len(items) > BATCH_MAX_ITEMS:
        message = _("每批 1 至 %(n)s 条来返人员。") % {"n": BATCH_MAX_ITEMS}
        return Status(400, {"detail": [error(["items"], "batch_size", message)]})
    channel, organisation, grids = entry_party(user, Arrival.Channel.GRID)
    known = {str(grid.pk): grid for grid in grids}
    grid_ids = {key: pk for pk, grid in known.items() for key in (pk, grid.code)}
    wanted = {item.person for item in items if item.person is not None}
    persons = {}
    if wanted and user.can(Capability.VIEW_PERSONS) and organisation is None:
        persons = Person.objects.visible_to(user).select_related("grid").in_bulk(wanted)
    datas, errors = [], []
    # Messages rendered in the language of the records; `msg_en` from the catalogue.
    with translation.override(settings.LANGUAGE_CODE):
        for index, item in enumerate(items):
            person = persons.get(item.person) if item.person is not None else None
            if item.person is not None and person is None:
                errors.append(error(["items", index, "person"], "not_found", NOT_VISIBLE))
                continue
            if len(item.other_stays) > OTHER_STAYS:
                message = _("途经地最多 %(n)s 处。") % {"n": OTHER_STAYS}
                errors.append(error(["items", index, "other_stays"], "too_many", message))
                continue
            form = ArrivalForm(
                form_data(item, grid_ids), grids=grids, person=person, known_grids=known
            )
            if form.is_valid():
                datas.append(form.arrival_data())
            else:
                errors += item_errors(index, form)
        if errors:
            return Status(400, {"detail": errors})
        try:
            results = register_all(user, datas, channel=channel, organisation=organisation)
        except BatchRefused as refused:
            where = ["items", refused.index]
            detail = error(where, refused.error.code, refused.error.message)
            detail["msg_en"] = in_english(detail["msg"])
            return Status(400, {"detail": [detail]})
    # A unit learns nothing of a report it merged into but did not make.
    shown = [(arrival, created, created or organisation is None) for arrival, created in results]
    return Status(
        201,
        {
            "items": [
                {
                    "id": arrival.pk,
                    "created": created,
                    "receipt_code": arrival.receipt_code if show else "",
                    "origin_level": arrival.origin_level if show else "",
                    "status": arrival.status if show else "",
                    "outcome": services.outcome_text(arrival) if show else "",
                }
                for arrival, created, show in shown
            ]
        },
    )
