"""The signal sources over the API: batches from pharmacy, clinic and school systems, a
day's sales (masked) and the daily counts the detectors read. Scoped like the pages; the
same forms validate and the same services write.

A batch is all or nothing: every item is checked first; if any fails, nothing is stored
and the answer (422) lists every failing item at ["body", <list>, index, field] with `msg`
(Chinese) and `msg_en`. Posting the same batch again changes nothing."""

from datetime import date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Sum
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import PageNumberPagination, paginate

from fangyi.accounts.roles import Capability
from fangyi.core.access import require_capability
from fangyi.core.api_errors import bilingual, form_errors
from fangyi.surveillance import sources
from fangyi.surveillance.models import DailyCount, PharmacySale, Source
from fangyi.surveillance.source_forms import (
    AbsenceRowForm,
    SaleForm,
    VisitForm,
    check_absence_day,
    date_field,
    grids_of,
    persons_by_hash,
    register_visits,
    repeated,
    units_of,
)

router = Router(tags=["surveillance"])

BATCH_MAX_ITEMS = 1000
COUNTS_MAX_DAYS = 5 * 366
NOT_VISIBLE = _("记录不存在或不在您的管辖范围内。")


# Schemas ----------------------------------------------------------------------------------


class SaleIn(Schema):
    receipt: str = Field(description="the pharmacy's own sale number: posting it again is a no-op")
    sold_at: datetime | str
    buyer_name: str
    buyer_id_number: str = Field(description="resident ID (18), or a passport number")
    buyer_phone: str = ""
    drug_category: str = Field(description="antipyretic, cough, antidiarrhoeal or antibiotic")
    drug_name: str = ""
    quantity: int | str | None = None
    temperature: Decimal | str | None = Field(None, description="35.0–42.0 ℃")
    symptoms: list[str] = Field(default_factory=list, description="symptom codes")


class SalesIn(Schema):
    pharmacy_id: int | None = Field(
        None, description="needed only by users reporting for several pharmacies"
    )
    sales: list[SaleIn] = Field(description=f"1 to {BATCH_MAX_ITEMS} sales")


class VisitIn(Schema):
    external_id: str = Field(description="the clinic's visit number: posting it again is a no-op")
    visited_at: datetime | str
    id_number: str = Field(description="the patient's document number")
    name: str = Field("", description="needed when the patient is not registered yet")
    phone: str = ""
    address: str = Field("", description="needed when the patient is not registered yet")
    grid: int | None = Field(None, description="grid id; needed when not registered yet")
    temperature: Decimal | str | None = None
    symptoms: list[str] = Field(default_factory=list)
    history_asked: bool = False
    history: str = ""
    sample_taken: bool = False
    sample_barcode: str = ""
    disposition: str = Field(description="home, observation, admitted, referred or isolated")


class VisitsIn(Schema):
    clinic_id: int | None = None
    visits: list[VisitIn] = Field(description=f"1 to {BATCH_MAX_ITEMS} visits")


class AbsenceIn(Schema):
    syndrome: str = Field(description="fever, respiratory, diarrhoea, rash or other")
    absent: int | str
    enrolled: int | str | None = None


class AbsencesIn(Schema):
    school_id: int | None = None
    day: date | str
    rows: list[AbsenceIn]


class BatchOut(Schema):
    created: int
    unchanged: int = Field(description="already stored (same receipt or visit number)")


class AbsencesOut(Schema):
    written: int


class ErrorsOut(Schema):
    detail: list[dict]


class SaleOut(Schema):
    id: int
    pharmacy: int
    pharmacy_name: str
    region: int
    receipt: str
    sold_at: datetime
    reported_at: datetime
    late: bool = Field(description="reported more than 2 hours after the sale")
    buyer_name: str = Field(description="masked")
    buyer_id_number: str = Field(description="masked")
    buyer_phone: str = Field(description="masked")
    drug_category: str
    drug_name: str
    quantity: int
    symptoms: list[str]
    has_fever: bool


class CountOut(Schema):
    source: str
    topic: str
    region: int
    day: date
    count: int = Field(description="counted from records plus imported history")


# Errors -----------------------------------------------------------------------------------


def error(where: list, code: str, message, params=None) -> dict:
    return {"loc": ["body", *where], "type": code, **bilingual(message, params)}


def item_errors(where: list, form) -> list[dict]:
    return [{**entry, "loc": ["body", *where, *entry["loc"][1:]]} for entry in form_errors(form)]


def batch_size_error(where: str, items: list) -> dict | None:
    if 1 <= len(items) <= BATCH_MAX_ITEMS:
        return None
    return error([where], "batch_size", _("每批 1 至 %(n)s 条。"), {"n": BATCH_MAX_ITEMS})


def unit_for(user, types, unit_id: int | None, where: str):
    """(unit, None) or (None, the error): the user's own unit, or the one named and in scope."""
    units = units_of(user, types)
    if unit_id is not None:
        unit = units.filter(pk=unit_id).first()
        if unit is None:
            return None, error([where], "not_found", NOT_VISIBLE)
        return unit, None
    own = user.organisation
    if own is not None and own.type in types:
        return own, None
    return None, error([where], "required", _("请指定单位（%(field)s）。"), {"field": where})


def repeated_errors(where: str, name: str, keys: list[str], message) -> list[dict]:
    return [
        error([where, index, name], "repeated", message, {"index": first})
        for index, first in repeated(keys).items()
    ]


def as_form_data(item: Schema, **extra) -> dict:
    data = {k: v for k, v in item.dict().items() if v is not None} | extra
    return {k: ("on" if v is True else v) for k, v in data.items() if v is not False}


# Posting ----------------------------------------------------------------------------------


@router.post("/surveillance/pharmacy-sales", response={200: BatchOut, 422: ErrorsOut})
def post_sales(request, payload: SalesIn):
    """A pharmacy's real-name sales (at most 1000): all or nothing. A buyer with fever is
    handed to their grid for follow-up; the daily counts include the sales at once."""
    require_capability(request.user, Capability.REPORT_SALES)
    pharmacy, refused = unit_for(
        request.user, sources.PHARMACY_TYPES, payload.pharmacy_id, "pharmacy_id"
    )
    errors = [refused] if refused else []
    if size := batch_size_error("sales", payload.sales):
        errors.append(size)
    rows = []
    # Messages rendered in the language of the records; `msg_en` from the catalogue.
    with translation.override(settings.LANGUAGE_CODE):
        for index, item in enumerate(payload.sales[:BATCH_MAX_ITEMS]):
            form = SaleForm(as_form_data(item), batch=True)
            if form.is_valid():
                rows.append(form.sale_row())
            else:
                errors += item_errors(["sales", index], form)
        errors += repeated_errors(
            "sales",
            "receipt",
            [item.receipt.strip() for item in payload.sales],
            _("销售单号与同批第 %(index)s 项重复（从 0 计）。"),
        )
    if errors:
        return Status(422, {"detail": errors})
    outcome = sources.record_sales(request.user, pharmacy, rows)
    return {"created": outcome.created, "unchanged": outcome.unchanged}


@router.post("/surveillance/fever-visits", response={200: BatchOut, 422: ErrorsOut})
def post_visits(request, payload: VisitsIn):
    """A clinic's fever-clinic visits (at most 1000): all or nothing. The patient is found by
    document number; one not registered yet is registered with name, address and grid (a
    grid of the caller's jurisdiction)."""
    require_capability(request.user, Capability.REPORT_FEVER_VISITS)
    user = request.user
    clinic, refused = unit_for(user, sources.CLINIC_TYPES, payload.clinic_id, "clinic_id")
    errors = [refused] if refused else []
    if size := batch_size_error("visits", payload.visits):
        errors.append(size)
    items = payload.visits[:BATCH_MAX_ITEMS]
    grids = grids_of(user)
    known_grids = {str(grid.pk): grid for grid in grids}
    persons = persons_by_hash([item.id_number for item in items])
    entries = []
    with translation.override(settings.LANGUAGE_CODE):
        for index, item in enumerate(items):
            form = VisitForm(
                as_form_data(item),
                grids=grids,
                batch=True,
                persons=persons,
                known_grids=known_grids,
            )
            if form.is_valid():
                entries.append(form.visit_entry())
            else:
                errors += item_errors(["visits", index], form)
        errors += repeated_errors(
            "visits",
            "external_id",
            [item.external_id.strip() for item in items],
            _("就诊流水号与同批第 %(index)s 项重复（从 0 计）。"),
        )
    if errors:
        return Status(422, {"detail": errors})
    outcome = register_visits(user, clinic, entries)
    return {"created": outcome.created, "unchanged": outcome.unchanged}


@router.post("/surveillance/school-absences", response={200: AbsencesOut, 422: ErrorsOut})
def post_absences(request, payload: AbsencesIn):
    """A school's absences of a day by syndrome: a syndrome sent again for the same day
    replaces its count."""
    require_capability(request.user, Capability.REPORT_ABSENCES)
    school, refused = unit_for(request.user, sources.SCHOOL_TYPES, payload.school_id, "school_id")
    errors = [refused] if refused else []
    rows = []
    with translation.override(settings.LANGUAGE_CODE):
        day = _absence_day(payload.day, errors)
        if size := batch_size_error("rows", payload.rows):
            errors.append(size)
        for index, item in enumerate(payload.rows[:BATCH_MAX_ITEMS]):
            form = AbsenceRowForm(as_form_data(item))
            if form.is_valid() and day is not None:
                rows.append(sources.AbsenceRow(day=day, **form.cleaned_data))
            elif not form.is_valid():
                errors += item_errors(["rows", index], form)
        errors += repeated_errors(
            "rows",
            "syndrome",
            [item.syndrome for item in payload.rows],
            _("症状类别与同批第 %(index)s 项重复（从 0 计）。"),
        )
    if errors:
        return Status(422, {"detail": errors})
    return {"written": sources.record_absences(request.user, school, rows)}


def _absence_day(value, errors: list) -> date | None:
    try:
        return check_absence_day(date_field(_("日期")).clean(value))
    except ValidationError as refused:
        for message in refused.error_list:
            errors.append(
                error(["day"], message.code or "invalid", message.message, message.params)
            )
        return None


# Reading ----------------------------------------------------------------------------------


def sale_out(sale: PharmacySale) -> dict:
    return {
        "id": sale.pk,
        "pharmacy": sale.pharmacy_id,
        "pharmacy_name": sale.pharmacy.name,
        "region": sale.region_id,
        "receipt": sale.receipt,
        "sold_at": sale.sold_at,
        "reported_at": sale.reported_at,
        "late": sale.late,
        "buyer_name": sale.buyer_name_masked,
        "buyer_id_number": sale.buyer_id_masked,
        "buyer_phone": sale.buyer_phone_masked,
        "drug_category": sale.drug_category,
        "drug_name": sale.drug_name,
        "quantity": sale.quantity,
        "symptoms": sale.symptoms,
        "has_fever": sale.has_fever,
    }


class SalePagination(PageNumberPagination):
    """Slices the queryset first, then shapes (and masks) only the rows of the page."""

    def paginate_queryset(self, queryset, pagination, request, **params):
        page = super().paginate_queryset(queryset, pagination, request, **params)
        page[self.items_attribute] = [sale_out(s) for s in page[self.items_attribute]]
        return page


@router.get("/surveillance/pharmacy-sales", response=list[SaleOut])
@paginate(SalePagination, page_size=100)
def list_sales(request, day: date | None = None, fever_only: bool = False):
    """The sales of a day (today unless given), buyers masked: a pharmacy's own, or every
    pharmacy's of the caller's jurisdiction for the CDC."""
    user = request.user
    sales = PharmacySale.objects.visible_to(user).select_related("pharmacy")
    if not user.can(Capability.VIEW_SURVEILLANCE):
        require_capability(user, Capability.REPORT_SALES)
        sales = sales.filter(pharmacy__in=units_of(user, sources.PHARMACY_TYPES))
    sales = sales.filter(day=day or timezone.localdate())
    if fever_only:
        sales = sales.filter(has_fever=True)
    return sales


class CountQuery(Schema):
    source: str = Field(description="pharmacy, fever_clinic, school_absence, cases…")
    topic: str = Field("", description="a drug category, syndrome or disease code; default all")
    start: date | None = Field(None, alias="from", description="default 29 days before `to`")
    end: date | None = Field(None, alias="to", description="default today")


@router.get("/surveillance/daily-counts", response={200: list[CountOut], 422: ErrorsOut})
def list_counts(request, filters: Query[CountQuery]):
    """Daily counts of a source (and topic) in the caller's jurisdiction, records and
    imported history summed; at most 5 years."""
    require_capability(request.user, Capability.VIEW_SURVEILLANCE)
    if filters.source not in Source.values:
        detail = error([], "invalid_choice", _("来源无效：%(value)s。"), {"value": filters.source})
        return Status(422, {"detail": [{**detail, "loc": ["query", "source"]}]})
    end = filters.end or timezone.localdate()
    start = max(filters.start or end - timedelta(days=29), end - timedelta(days=COUNTS_MAX_DAYS))
    counts = DailyCount.objects.visible_to(request.user).filter(
        source=filters.source, day__gte=start, day__lte=end
    )
    if filters.topic:
        counts = counts.filter(topic=filters.topic)
    rows = (
        counts.values("source", "topic", "region", "day")
        .annotate(count=Sum("count"))
        .order_by("day", "topic", "region")
    )
    return list(rows)
