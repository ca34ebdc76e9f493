"""Arrivals (来返报备): the one path by which an arrival is registered, whichever channel
reports it (the person's own phone, a grid worker, a hotel or employer, an import), merged
with an earlier report of the same arrival, classified by the rules in force and handed to
the measures service.
"""

import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from fangyi.core import deadlines
from fangyi.core.audit import ChangeLog, acting_user, diff, record_change
from fangyi.core.models import Alert, Duty
from fangyi.core.rules import RuleError, lazy_format
from fangyi.geo.models import Organisation, Region, ancestor_paths
from fangyi.measures.models import IN_FACILITY, Facility, Policy
from fangyi.measures.services import (
    FEVER_FROM,
    MeasureRuleError,
    place_under_control,
    policy_in_force,
)
from fangyi.people.models import Person
from fangyi.people.services import create_person, find_duplicate
from fangyi.travel import matching
from fangyi.travel.addresses import resolve_many
from fangyi.travel.models import Arrival, ArrivalRule, RiskFlag, Stay

RECEIPT_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: read out on the phone
RECEIPT_LENGTH = 10


@dataclass
class StayEntry:
    address: str
    from_date: date
    to_date: date


@dataclass
class ArrivalData:
    """What every channel collects. `person` is given when the person is already known
    (a grid worker picked them); otherwise they are found by document number or created."""

    name: str
    grid: Region
    origin: str
    stay_from: date
    departure_date: date
    arrival_date: date
    transport: str
    destination: str
    person: Person | None = None
    id_type: str = Person.IdType.RESIDENT_ID
    id_number: str = ""
    phone: str = ""
    sex: str = ""
    birth_date: date | None = None
    transport_number: str = ""
    has_certificate: bool = False
    certificate_sampled_at: datetime | None = None
    temperature: Decimal | None = None
    symptoms: list[str] = field(default_factory=list)
    other_stays: list[StayEntry] = field(default_factory=list)
    note: str = ""

    @property
    def unwell(self) -> bool:
        return unwell(self.temperature, self.symptoms)


def unwell(temperature: Decimal | None, symptoms: list[str]) -> bool:
    """Fever (the measures' threshold) or any symptom: the grid is told at once."""
    return bool(symptoms) or (temperature is not None and temperature >= FEVER_FROM)


def new_receipt_code() -> str:
    return "".join(secrets.choice(RECEIPT_ALPHABET) for _ in range(RECEIPT_LENGTH))


def check_dates(data: ArrivalData, today: date) -> None:
    """The dates must tell a possible journey; a report may come up to 3 days ahead (提前
    报备) but not later than today for the stay itself."""
    if not data.stay_from <= data.departure_date <= data.arrival_date:
        raise RuleError(
            _("日期顺序不对：应为 在来源地起始日期 ≤ 出发日期 ≤ 抵达日期。"),
            field="departure_date",
            code="dates_order",
        )
    if data.arrival_date > today + timedelta(days=3):
        raise RuleError(_("抵达日期最多可提前 3 天报备。"), field="arrival_date", code="too_early")
    for stay in data.other_stays:
        if stay.from_date > stay.to_date:
            raise RuleError(_("途经地的起止日期顺序不对。"), field="other_stays", code="dates")


def _person_for(actor, data: ArrivalData) -> Person:
    if data.person is not None:
        return data.person
    if data.id_number:
        existing = find_duplicate(data.id_number)
        if existing is not None:
            return existing
    fields = {
        "name": data.name,
        "id_type": data.id_type,
        "id_number": data.id_number,
        "phone": data.phone,
        "address": data.destination,
        "grid": data.grid,
        "category": Person.Category.FLOATING,
    }
    if data.sex:
        fields["sex"] = data.sex
    if data.birth_date:
        fields["birth_date"] = data.birth_date
    return create_person(actor, fields)


def _stays(person: Person, data: ArrivalData, arrival: Arrival) -> list[Stay]:
    entries = [StayEntry(data.origin, data.stay_from, data.departure_date), *data.other_stays]
    resolutions = resolve_many([e.address for e in entries])
    return Stay.objects.bulk_create(
        Stay(
            person=person,
            address=entry.address,
            adcode=resolution.adcode if resolution.resolved else "",
            detail=resolution.detail,
            from_date=entry.from_date,
            to_date=entry.to_date,
            source=Stay.Source.ARRIVAL,
            arrival=arrival,
        )
        for entry, resolution in zip(entries, resolutions, strict=True)
    )


@transaction.atomic
def register_arrival(
    actor,
    data: ArrivalData,
    *,
    channel: str,
    organisation: Organisation | None = None,
    now: datetime | None = None,
) -> tuple[Arrival, bool]:
    """Register (or merge into the earlier report of) one arrival; returns it and whether it
    is new. A new arrival is classified and placed under its measure at once."""
    now = now or timezone.now()
    check_dates(data, timezone.localdate(now))
    person = _person_for(actor, data)
    existing = (
        Arrival.objects.select_for_update()
        .filter(person=person, arrival_date=data.arrival_date)
        .first()
    )
    if existing is not None:
        return _merge(actor, existing, data, channel, now), False

    origin = resolve_many([data.origin])[0]
    arrival = Arrival.objects.create(
        person=person,
        origin=data.origin,
        origin_adcode=origin.adcode if origin.resolved else "",
        stay_from=data.stay_from,
        departure_date=data.departure_date,
        arrival_date=data.arrival_date,
        transport=data.transport,
        transport_number=data.transport_number,
        destination=data.destination,
        grid=data.grid,
        has_certificate=data.has_certificate,
        certificate_sampled_at=data.certificate_sampled_at,
        temperature=data.temperature,
        symptoms=data.symptoms,
        status=Arrival.Status.PENDING,
        channel=channel,
        channels=[channel],
        reporting_organisation=organisation,
        receipt_code=new_receipt_code(),
        note=data.note,
        created_at=now,
        created_by=acting_user(actor),
    )
    _stays(person, data, arrival)
    classify(arrival)
    if arrival.arrival_date <= timezone.localdate(now):
        apply_measure(actor, arrival, now=now)
    else:
        arrival.pending_reason = _("尚未抵达，抵达当日落实管控。")
        arrival.save(update_fields=["pending_reason"])
    record_change(
        actor, arrival, ChangeLog.Action.CREATE, diff({}, snapshot(arrival)), region=arrival.grid
    )
    _tell_grid(arrival, data, now)
    return arrival, True


def classify(arrival: Arrival) -> Arrival:
    """The highest level among the areas the person's stays match on the arrival day, and
    the rule in force for it; the matches are kept as verified flags (the arrival is their
    follow-up, so a later list does not flag the same area again)."""
    matches = matching.matches_of(arrival.person_id, arrival.arrival_date)
    arrival.origin_level = matching.highest_level(matches)
    arrival.rule = ArrivalRule.in_force(arrival.origin_level, arrival.arrival_date)
    if arrival.rule is None:
        raise RuleError(_("未配置来返人员分类规则，请联系管理员。"), code="no_rule")
    hours = arrival.rule.certificate_hours
    arrival.certificate_missing = bool(hours) and not _certificate_valid(arrival, hours)
    arrival.save(update_fields=["origin_level", "rule", "certificate_missing"])
    RiskFlag.objects.bulk_create(
        [
            RiskFlag(
                person_id=arrival.person_id,
                area=m.area,
                stay=m.stay,
                level=m.area.level,
                grid=arrival.grid,
                status=RiskFlag.Status.VERIFIED,
                handled_at=timezone.now(),
                note=_("来返报备"),
            )
            for m in matches
        ],
        ignore_conflicts=True,
    )
    return arrival


def _certificate_valid(arrival: Arrival, hours: int) -> bool:
    if not arrival.has_certificate or arrival.certificate_sampled_at is None:
        return False
    arrived = timezone.make_aware(datetime.combine(arrival.arrival_date, datetime.max.time()))
    return arrived - arrival.certificate_sampled_at <= timedelta(hours=hours)


def _facility_with_room(region: Region) -> Facility | None:
    """A facility serving this region (in it or above it) with a free room: the one with the
    most free rooms, so the load spreads."""
    return (
        Facility.objects.with_free_rooms()
        .filter(region__path__in=ancestor_paths(region.path))
        .order_by("-free", "pk")
        .first()
    )


def apply_measure(actor, arrival: Arrival, *, facility: Facility | None = None, now=None):
    """Hand the arrival to the measures service under its rule's category, with the policy
    version recorded on the measure. What cannot be done now (no free room) leaves the
    arrival pending with a task for the street office."""
    now = now or timezone.now()
    category = arrival.rule.category
    if not category:
        arrival.status = Arrival.Status.CHECK_ONLY
        arrival.pending_reason = ""
        arrival.save(update_fields=["status", "pending_reason"])
        return arrival
    policy: Policy = policy_in_force(category, arrival.arrival_date)
    if policy.measure_type in IN_FACILITY and facility is None:
        facility = _facility_with_room(arrival.grid)
    try:
        with transaction.atomic():
            measure = place_under_control(
                actor,
                arrival.person,
                category=category,
                start_date=arrival.arrival_date,
                facility=facility,
                address=arrival.destination,
                reason=str(lazy_format(_("自%(origin)s来（返）"), origin=arrival.origin))[:255],
                now=now,
            )
    except MeasureRuleError as error:
        if error.existing is not None:  # already under an equal or stricter measure
            measure = error.existing
        else:
            return _leave_pending(arrival, str(error), now)
    arrival.measure = measure
    arrival.status = Arrival.Status.MEASURE
    arrival.pending_reason = ""
    arrival.save(update_fields=["measure", "status", "pending_reason"])
    deadlines.close_task(arrival, Duty.PLACE_ARRIVAL, done_at=now)
    return arrival


def _leave_pending(arrival: Arrival, reason: str, now: datetime) -> Arrival:
    arrival.status = Arrival.Status.PENDING
    arrival.pending_reason = reason[:255]
    arrival.save(update_fields=["status", "pending_reason"])
    if not deadlines.tasks_of(arrival, Duty.PLACE_ARRIVAL).filter(status="open").exists():
        deadlines.open_task(
            Duty.PLACE_ARRIVAL,
            arrival,
            region=arrival.grid,
            started_at=now,
            organisation=Organisation.objects.nearest(
                Organisation.Type.STREET_OFFICE, arrival.grid
            ),
            label=f"{arrival.person.name} {arrival.origin}",
        )
    return arrival


def apply_due_arrivals(today: date | None = None) -> int:
    """Arrivals reported ahead whose day has come: placed under their measure (daily job)."""
    today = today or timezone.localdate()
    due = Arrival.objects.filter(
        status=Arrival.Status.PENDING, measure__isnull=True, arrival_date__lte=today
    ).exclude(pk__in=_waiting_on_street())
    count = 0
    for arrival in due.select_related("rule", "person", "grid"):
        with transaction.atomic():
            apply_measure(None, arrival)
        count += 1
    return count


def _waiting_on_street():
    """Arrivals already waiting on the street (a placement task is open)."""
    from django.contrib.contenttypes.models import ContentType

    from fangyi.core.models import Task

    return Task.objects.filter(
        duty=Duty.PLACE_ARRIVAL,
        status=Task.Status.OPEN,
        content_type=ContentType.objects.get_for_model(Arrival),
    ).values("object_id")


def _merge(actor, arrival: Arrival, data: ArrivalData, channel: str, now) -> Arrival:
    """A second report of the same arrival: fill what the first left blank, keep every
    channel, and take newer health readings; the classification stands."""
    before = snapshot(arrival)
    for name in ("transport_number", "note"):
        if not getattr(arrival, name) and getattr(data, name):
            setattr(arrival, name, getattr(data, name))
    if data.has_certificate and not arrival.has_certificate:
        arrival.has_certificate = True
        arrival.certificate_sampled_at = data.certificate_sampled_at
    if data.temperature is not None or data.symptoms:
        arrival.temperature = data.temperature
        arrival.symptoms = data.symptoms
    if channel not in arrival.channels:
        arrival.channels = [*arrival.channels, channel]
    arrival.reports += 1
    arrival.save()
    record_change(
        actor,
        arrival,
        ChangeLog.Action.UPDATE,
        diff(before, snapshot(arrival)),
        region=arrival.grid,
    )
    if data.unwell:
        _alert_unwell(arrival, now)
    return arrival


def _tell_grid(arrival: Arrival, data: ArrivalData, now: datetime) -> None:
    """The grid's committee learns of every arrival it did not enter itself, and at once of
    anyone arriving unwell."""
    if data.unwell:
        _alert_unwell(arrival, now)
    if arrival.channel == Arrival.Channel.GRID:
        return
    _alert_committee(
        arrival,
        lazy_format(
            _("新来返人员（%(channel)s）：%(grid)s，自%(origin)s，%(day)s 抵达，%(outcome)s"),
            channel=arrival.get_channel_display(),
            grid=arrival.grid.full_name,
            origin=arrival.origin,
            day=arrival.arrival_date,
            outcome=outcome_text(arrival),
        ),
        now,
    )


def _alert_unwell(arrival: Arrival, now: datetime) -> None:
    _alert_committee(
        arrival,
        lazy_format(
            _("来返人员报告发热或症状，请立即联系并引导至发热门诊：%(grid)s，自%(origin)s"),
            grid=arrival.grid.full_name,
            origin=arrival.origin,
        ),
        now,
    )


def _alert_committee(arrival: Arrival, message, now: datetime) -> None:
    """An alert for the village (community) committee of the arrival's grid."""
    Alert.objects.create(
        region=arrival.grid,
        organisation=Organisation.objects.nearest(
            Organisation.Type.VILLAGE_COMMITTEE, arrival.grid
        ),
        message=str(message)[:255],
        created_at=now,
    )


def outcome_text(arrival: Arrival) -> str:
    """What the classification led to, in words for the person and the grid."""
    if arrival.status == Arrival.Status.MEASURE and arrival.measure_id:
        return arrival.measure.get_type_display()
    if arrival.status == Arrival.Status.CHECK_ONLY:
        return str(Arrival.Status.CHECK_ONLY.label)
    return f"{arrival.get_status_display()}（{arrival.pending_reason}）"


def snapshot(arrival: Arrival) -> dict[str, str]:
    return {
        "origin": arrival.origin,
        "arrival_date": arrival.arrival_date.isoformat(),
        "transport": arrival.get_transport_display(),
        "transport_number": arrival.transport_number,
        "destination": arrival.destination,
        "origin_level": arrival.get_origin_level_display(),
        "certificate": _("有") if arrival.has_certificate else _("无"),
        "status": arrival.get_status_display(),
        "channels": "、".join(str(Arrival.Channel(c).label) for c in arrival.channels),
        "reports": str(arrival.reports),
    }


@transaction.atomic
def record_stay(
    actor, person: Person, *, address: str, from_date: date, to_date: date, source: str
) -> tuple[Stay, list[matching.Match]]:
    """A stay the grid (or an investigation) found: the place must resolve to a county, and
    the person is flagged at once against the areas in force; returns the stay and what
    the person's stays now match."""
    if from_date > to_date:
        raise RuleError(_("起始日期不能晚于结束日期。"), field="from_date", code="dates")
    if to_date > timezone.localdate():
        raise RuleError(_("旅居史的结束日期不能晚于今天。"), field="to_date", code="future")
    place = resolve_many([address])[0]
    if not place.resolved:
        raise RuleError(place.problem, field="address", code="unresolved")
    stay = Stay.objects.create(
        person=person,
        address=address.strip(),
        adcode=place.adcode,
        detail=place.detail,
        from_date=from_date,
        to_date=to_date,
        source=source,
    )
    matching.flag_person(person.pk)
    record_change(
        actor,
        stay,
        ChangeLog.Action.CREATE,
        {"stay": ["", f"{stay.address} {from_date}–{to_date}"]},
        region=person.grid,
    )
    return stay, matching.matches_of(person.pk, timezone.localdate())
