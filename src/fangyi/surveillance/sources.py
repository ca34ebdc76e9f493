"""The write paths of the signal sources entered here: pharmacy sales, fever-clinic visits
and school absences. Every channel (page, import, API) validates its rows into the row
types below and calls these; each call is one transaction (a batch lands whole or not at
all), is idempotent (a sale by its receipt, a visit by its clinic's number, an absence by
school, day and syndrome) and refreshes the daily counts of the days it touched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from fangyi.core import deadlines
from fangyi.core.audit import acting_user, log_access, record_change
from fangyi.core.crypto import keyed_hash
from fangyi.core.models import AccessLog, Alert, ChangeLog, Duty
from fangyi.core.rules import RuleError
from fangyi.core.timeliness import day_bounds
from fangyi.geo.models import Organisation
from fangyi.measures.models import Symptom
from fangyi.measures.services import FEVER_FROM
from fangyi.people.models import ID_NUMBER, Person
from fangyi.surveillance import counts
from fangyi.surveillance.models import (
    FeverClinicVisit,
    PharmacySale,
    SchoolAbsence,
    Source,
    Syndrome,
)

# Seed 001: a pharmacy reports a buyer of antipyretics or anti-infectives within 2 hours.
REPORT_SALES_WITHIN = timedelta(hours=2)
RESPIRATORY = {Symptom.DRY_COUGH, Symptom.SORE_THROAT, Symptom.SHORT_BREATH}
PHARMACY_TYPES = (Organisation.Type.PHARMACY,)
CLINIC_TYPES = (
    Organisation.Type.DESIGNATED_HOSPITAL,
    Organisation.Type.RESERVE_HOSPITAL,
    Organisation.Type.HOSPITAL,
    Organisation.Type.TOWNSHIP_HEALTH_CENTRE,
    Organisation.Type.VILLAGE_CLINIC,
    Organisation.Type.PRIVATE_CLINIC,
)
SCHOOL_TYPES = (Organisation.Type.SCHOOL, Organisation.Type.KINDERGARTEN)


def syndromes_of(temperature: Decimal | None, symptoms: list[str]) -> list[str]:
    """The syndromes a temperature and symptom list count in (a visit may count in several)."""
    found = []
    if (temperature is not None and temperature >= FEVER_FROM) or Symptom.FEVER in symptoms:
        found.append(Syndrome.FEVER)
    if RESPIRATORY & set(symptoms):
        found.append(Syndrome.RESPIRATORY)
    if Symptom.DIARRHOEA in symptoms:
        found.append(Syndrome.DIARRHOEA)
    return found


# ---- Pharmacy sales -------------------------------------------------------------------


@dataclass
class SaleRow:
    receipt: str
    sold_at: datetime
    buyer_name: str
    drug_category: str
    buyer_id_number: str = ""
    buyer_phone: str = ""
    drug_name: str = ""
    quantity: int = 1
    symptoms: list[str] = field(default_factory=list)
    temperature: Decimal | None = None


@dataclass
class BatchOutcome:
    created: int
    unchanged: int


@transaction.atomic
def record_sales(actor, pharmacy: Organisation, rows: list[SaleRow], *, now=None) -> BatchOutcome:
    """Store a pharmacy's sales (receipts already stored are left as they are). Each day's
    sales carry a 2-hour reporting task, done by this report; a buyer with fever is handed
    to their grid (the registered person's, else the pharmacy's area) for follow-up."""
    now = now or timezone.now()
    known = set(
        PharmacySale.objects.filter(
            pharmacy=pharmacy, receipt__in=[r.receipt for r in rows]
        ).values_list("receipt", flat=True)
    )
    fresh = [r for r in rows if r.receipt not in known]
    if not fresh:
        return BatchOutcome(0, len(rows))
    region = counts.township_of(pharmacy.region)
    hashes = {
        keyed_hash(r.buyer_id_number.strip().upper(), ID_NUMBER) for r in fresh if r.buyer_id_number
    }
    persons = {
        p.id_number_hash: p
        for p in Person.objects.filter(id_number_hash__in=hashes).select_related("grid")
    }
    sales = []
    for row in fresh:
        sale = PharmacySale(
            pharmacy=pharmacy,
            region=region,
            receipt=row.receipt,
            sold_at=row.sold_at,
            day=timezone.localdate(row.sold_at),
            drug_category=row.drug_category,
            drug_name=row.drug_name,
            quantity=row.quantity,
            symptoms=row.symptoms,
            has_fever=Syndrome.FEVER in syndromes_of(row.temperature, row.symptoms),
            buyer_name=row.buyer_name,
            reported_at=now,
            recorded_by=acting_user(actor),
        )
        sale.set_buyer_id_number(row.buyer_id_number)
        sale.set_buyer_phone(row.buyer_phone)
        sale.person = persons.get(sale.buyer_id_hash) if sale.buyer_id_hash else None
        if sale.has_fever:
            sale.follow_up_region = sale.person.grid if sale.person else pharmacy.region
        sales.append(sale)
    PharmacySale.objects.bulk_create(sales)
    _report_tasks(pharmacy, sales, now)
    _hand_fever_buyers(pharmacy, [s for s in sales if s.has_fever], now)
    counts.refresh(Source.PHARMACY, {s.day for s in sales})
    return BatchOutcome(len(sales), len(rows) - len(sales))


def _report_tasks(pharmacy: Organisation, sales: list[PharmacySale], now: datetime) -> None:
    """One reporting task per pharmacy and day, started by that day's first sale and done
    by the report that brought it (on time within 2 hours). Later reports of the same day
    show their delay on each sale (`PharmacySale.late`)."""
    from fangyi.core.models import Task

    first: dict[date, datetime] = {}
    for sale in sales:
        first[sale.day] = min(first.get(sale.day, sale.sold_at), sale.sold_at)
    for day, sold_at in first.items():
        start, end = day_bounds(day, day)
        if (
            deadlines.tasks_of(pharmacy, Duty.REPORT_SALES)
            .filter(started_at__gte=start, started_at__lt=end)
            .exists()
        ):
            continue
        task = deadlines.new_task(
            Duty.REPORT_SALES,
            pharmacy,
            region=pharmacy.region,
            started_at=sold_at,
            organisation=pharmacy,
            label=_("%(pharmacy)s %(day)s 购药登记") % {"pharmacy": pharmacy.name, "day": day},
        )
        task.status, task.done_at = Task.Status.DONE, now
        task.save()


def _hand_fever_buyers(pharmacy: Organisation, sales: list[PharmacySale], now: datetime) -> None:
    if not sales:
        return
    deadlines.open_committee_tasks(
        Duty.FOLLOW_UP_BUYER,
        [
            (
                sale,
                sale.follow_up_region,
                _("%(name)s 在%(pharmacy)s购买%(drug)s（发热）")
                % {
                    "name": sale.buyer_name_masked,
                    "pharmacy": pharmacy.name,
                    "drug": sale.get_drug_category_display(),
                },
            )
            for sale in sales
        ],
        started_at=now,
    )
    committees = Organisation.objects.nearest_each(
        Organisation.Type.VILLAGE_COMMITTEE, {s.follow_up_region_id for s in sales}
    )
    Alert.objects.bulk_create(
        Alert(
            region=sale.follow_up_region,
            organisation=committees[sale.follow_up_region_id],
            message=(
                _("发热购药人员待跟进：%(name)s，%(pharmacy)s，%(time)s")
                % {
                    "name": sale.buyer_name_masked,
                    "pharmacy": pharmacy.name,
                    "time": timezone.localtime(sale.sold_at).strftime("%m-%d %H:%M"),
                }
            )[:255],
            created_at=now,
        )
        for sale in sales
    )


# ---- Fever-clinic visits --------------------------------------------------------------


@dataclass
class VisitRow:
    external_id: str
    person: Person
    visited_at: datetime
    disposition: str
    temperature: Decimal | None = None
    symptoms: list[str] = field(default_factory=list)
    history_asked: bool = False
    history: str = ""
    sample_taken: bool = False
    sample_barcode: str = ""


@transaction.atomic
def record_visits(actor, clinic: Organisation, rows: list[VisitRow], *, now=None) -> BatchOutcome:
    """Store a clinic's visits (numbers already stored are left as they are). A visit counts
    in its patient's township."""
    now = now or timezone.now()
    known = set(
        FeverClinicVisit.objects.filter(
            clinic=clinic, external_id__in=[r.external_id for r in rows]
        ).values_list("external_id", flat=True)
    )
    fresh = [r for r in rows if r.external_id not in known]
    township = counts.township_ids()
    visits = FeverClinicVisit.objects.bulk_create(
        FeverClinicVisit(
            clinic=clinic,
            person=row.person,
            region_id=township(row.person.grid_id),
            visited_at=row.visited_at,
            day=timezone.localdate(row.visited_at),
            temperature=row.temperature,
            symptoms=row.symptoms,
            syndromes=syndromes_of(row.temperature, row.symptoms),
            history_asked=row.history_asked,
            history=row.history,
            sample_taken=row.sample_taken or bool(row.sample_barcode),
            sample_barcode=row.sample_barcode,
            disposition=row.disposition,
            external_id=row.external_id,
            recorded_by=acting_user(actor),
            recorded_at=now,
        )
        for row in fresh
    )
    counts.refresh(Source.FEVER_CLINIC, {v.day for v in visits}, township)
    return BatchOutcome(len(visits), len(rows) - len(visits))


# ---- School absences ------------------------------------------------------------------


@dataclass
class AbsenceRow:
    day: date
    syndrome: str
    absent: int
    enrolled: int | None = None


@transaction.atomic
def record_absences(actor, school: Organisation, rows: list[AbsenceRow], *, now=None) -> int:
    """Store a school's absence counts; a school, day and syndrome entered again replaces
    its count. Returns the number of rows written."""
    now = now or timezone.now()
    region = counts.township_of(school.region)
    for row in rows:
        SchoolAbsence.objects.update_or_create(
            school=school,
            day=row.day,
            syndrome=row.syndrome,
            defaults={
                "region": region,
                "absent": row.absent,
                "enrolled": row.enrolled,
                "recorded_by": acting_user(actor),
                "recorded_at": now,
            },
        )
    counts.refresh(Source.SCHOOL_ABSENCE, {r.day for r in rows})
    return len(rows)


# ---- Following fever buyers up --------------------------------------------------------


@transaction.atomic
def follow_up(actor, sale: PharmacySale, note: str) -> None:
    """The grid has followed a fever buyer up (called them, guided them to a fever clinic):
    the follow-up task is done and the note kept in the change log of the sale."""
    if not deadlines.close_task(sale, Duty.FOLLOW_UP_BUYER):
        raise RuleError(gettext_lazy("该购药人员已跟进，无需重复提交。"), field="note", code="done")
    record_change(
        actor,
        sale,
        ChangeLog.Action.UPDATE,
        {"follow_up": ["", note.strip()]},
        region=sale.follow_up_region,
    )


def reveal_buyer(actor, sale: PharmacySale, *, request=None, via: str = "web") -> dict:
    """The buyer's clear phone number, for the grid calling them; always logged."""
    log_access(
        actor,
        AccessLog.Action.REVEAL,
        obj=sale,
        label=f"{sale.buyer_name_masked} {sale.receipt}",
        region=sale.follow_up_region,
        detail={"fields": ["buyer_phone"]},
        request=request,
        via=via,
    )
    return {"phone": sale.buyer_phone}
