"""Use cases of control measures (早隔离): placing a person under control by the policy in
force, housing them in a facility room, daily health checks, tests of the course, release.

Every entry point (pages, the API, the person's phone link, imports, jobs, other modules
such as tracing and the lab) comes through these functions. Rule violations raise
`MeasureRuleError` with a Chinese message.

Time limits: an abnormal check starts the fever referral duty (refer to the fever clinic and
test), each test day of the course a sampling duty, a day with too few checks a follow-up
duty for the responsible unit; all held in DeadlineRule.
"""

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Count, F, Q, Sum, Value
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fangyi.core import deadlines
from fangyi.core.audit import acting_user, diff, record_change
from fangyi.core.models import Alert, ChangeLog, Duty, Task
from fangyi.core.rules import RuleError, lazy_format
from fangyi.core.timefmt import local_minute
from fangyi.geo.models import Organisation
from fangyi.measures.models import (
    IN_FACILITY,
    ISOLATING,
    Category,
    Facility,
    HealthCheck,
    Measure,
    MeasureTest,
    Policy,
    Room,
    symptom_labels,
)
from fangyi.people.models import Person

# A reading at or above this temperature is a fever (≥37.3 ℃).
FEVER_FROM = Decimal("37.3")
OPEN = (Measure.Status.PLANNED, Measure.Status.ACTIVE)
ENDINGS = (
    Measure.Status.HOSPITAL,
    Measure.Status.TRANSFERRED,
    Measure.Status.ABSCONDED,
    Measure.Status.CANCELLED,
)


class MeasureRuleError(RuleError):
    """A measures rule refused the action; `existing` is the measure in the way, if any."""

    def __init__(self, message, *, existing: Measure | None = None, **kwargs):
        super().__init__(message, **kwargs)
        self.existing = existing


def local_day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def local_day_range(day: date) -> tuple[datetime, datetime]:
    """The day from its local midnight to the next one (the end excluded)."""
    return local_day_start(day), local_day_start(day + timedelta(days=1))


def measure_snapshot(measure: Measure) -> dict[str, str]:
    return {
        "type": measure.get_type_display(),
        "category": measure.get_category_display(),
        "policy": str(measure.policy),
        "start_date": measure.start_date.isoformat(),
        "planned_end": measure.planned_end.isoformat(),
        "status": measure.get_status_display(),
        "facility": measure.facility.name if measure.facility_id else "",
        "room": measure.room.number if measure.room_id else "",
        "address": measure.address,
        "ended_at": local_minute(measure.ended_at),
        "end_note": measure.end_note,
    }


# Policies ---------------------------------------------------------------------------------

POLICY_FIELDS = (
    "measure_type",
    "days",
    "then_type",
    "then_days",
    "test_days",
    "test_every_days",
    "checks_per_day",
    "release_needs_tests",
    "release_needs_environment",
    "basis",
)


def policy_in_force(category: str, on: date) -> Policy:
    policy = Policy.objects.in_force(category, on)
    if policy is None:
        raise MeasureRuleError(
            lazy_format(_("该类人员在%(day)s没有生效的管控政策，请先发布政策。"), day=on),
            field="category",
            code="no_policy",
        )
    return policy


@transaction.atomic
def publish_policy(actor, *, category: str, effective_from: date, **fields) -> Policy:
    """Publish a new version of a category's policy (versions are never edited)."""
    latest = (
        Policy.objects.select_for_update().filter(category=category).order_by("-version").first()
    )
    policy = Policy.objects.create(
        category=category,
        version=(latest.version if latest else 0) + 1,
        effective_from=effective_from,
        published_by=acting_user(actor),
        **{name: fields[name] for name in POLICY_FIELDS if name in fields},
    )
    record_change(
        actor,
        policy,
        ChangeLog.Action.CREATE,
        {name: ["", str(getattr(policy, name))] for name in ("effective_from", *POLICY_FIELDS)},
    )
    return policy


# Rooms ------------------------------------------------------------------------------------


@transaction.atomic
def create_facility(actor, organisation: Organisation, *, kind: str, name: str = "", **details):
    """Register a quarantine facility (one per organisation)."""
    if Facility.objects.filter(organisation=organisation).exists():
        raise MeasureRuleError(_("该单位已登记隔离场所。"), field="organisation", code="duplicate")
    facility = Facility.objects.create(
        organisation=organisation,
        name=name or organisation.name,
        kind=kind,
        region=organisation.region,
        address=details.get("address") or organisation.address,
        phone=details.get("phone") or organisation.phone,
    )
    record_change(
        actor,
        facility,
        ChangeLog.Action.CREATE,
        {"name": ["", facility.name], "kind": ["", facility.get_kind_display()]},
        region=facility.region,
    )
    return facility


@transaction.atomic
def add_rooms(
    actor, facility: Facility, *, floor: int, numbers: list[str], kind: str, beds: int = 1
) -> list[Room]:
    """Add rooms on a floor; a number already used in the facility is refused."""
    taken = set(
        Room.objects.filter(facility=facility, number__in=numbers).values_list("number", flat=True)
    )
    if taken:
        raise MeasureRuleError(
            lazy_format(_("房间号已存在：%(numbers)s"), numbers="、".join(sorted(taken))),
            field="numbers",
            code="duplicate",
        )
    rooms = Room.objects.bulk_create(
        Room(facility=facility, number=number, floor=floor, kind=kind, beds=beds)
        for number in numbers
    )
    record_change(
        actor,
        facility,
        ChangeLog.Action.UPDATE,
        {"rooms": ["", f"{floor}层 +{len(rooms)}间"]},
        region=facility.region,
    )
    return rooms


def allocate_room(facility: Facility, room: Room | None = None) -> Room:
    """Take a bed in the given room, or in the first free room of the facility.

    The room row is locked (SELECT … FOR UPDATE) and re-read before the bed is taken, so two
    staff housing people at the same moment never get the same single room; picking "the
    first free room" skips rooms another transaction holds. The beds check constraint on
    Room is the last line of defence."""
    rooms = Room.objects.select_for_update()
    if room is not None:
        room = rooms.filter(pk=room.pk, facility=facility).first()
        if room is None:
            raise MeasureRuleError(_("该房间不属于所选隔离场所。"), field="room")
        if room.status in (Room.Status.CLEANING, Room.Status.OUT_OF_SERVICE):
            raise MeasureRuleError(
                lazy_format(
                    _("房间 %(number)s 当前%(status)s，不能入住。"),
                    number=room.number,
                    status=room.get_status_display(),
                ),
                field="room",
                code="room_unavailable",
            )
        if room.occupants >= room.beds:
            raise MeasureRuleError(
                lazy_format(_("房间 %(number)s 已住满，请选择其他房间。"), number=room.number),
                field="room",
                code="room_full",
            )
    else:
        room = (
            rooms.select_for_update(skip_locked=True)
            .filter(facility=facility, status=Room.Status.FREE)
            .order_by("floor", "number")
            .first()
        )
        if room is None:
            raise MeasureRuleError(
                lazy_format(_("%(facility)s 已无空闲房间。"), facility=facility.name),
                field="facility",
                code="facility_full",
            )
    room.occupants += 1
    room.status = Room.Status.OCCUPIED
    room.save(update_fields=["occupants", "status"])
    return room


def vacate_room(room: Room) -> Room:
    """A person left: the room is "to be cleaned" once nobody is left in it."""
    room = Room.objects.select_for_update().get(pk=room.pk)
    room.occupants = max(room.occupants - 1, 0)
    if room.occupants == 0:
        room.status = Room.Status.CLEANING
    room.save(update_fields=["occupants", "status"])
    return room


@transaction.atomic
def set_room_status(actor, room: Room, status: str) -> Room:
    """Staff mark a room cleaned (free) or out of service; an occupied room keeps its
    status until it is empty."""
    room = Room.objects.select_for_update().get(pk=room.pk)
    if room.occupants and status != Room.Status.OCCUPIED:
        raise MeasureRuleError(_("房间内仍有人员，不能更改状态。"), code="room_occupied")
    before = {"status": room.get_status_display()}
    room.status = status
    room.save(update_fields=["status"])
    record_change(
        actor,
        room,
        ChangeLog.Action.UPDATE,
        diff(before, {"status": room.get_status_display()}),
        region=room.facility.region,
    )
    return room


# Placing under control --------------------------------------------------------------------


def responsible_unit(region, facility: Facility | None) -> Organisation | None:
    """A facility answers for its residents; otherwise the village (community) committee of
    the person's grid."""
    if facility is not None:
        return facility.organisation
    return Organisation.objects.nearest(Organisation.Type.VILLAGE_COMMITTEE, region)


def _open_measure_of(person: Person) -> Measure | None:
    return (
        Measure.objects.select_for_update(of=("self",))
        .filter(person=person, status=Measure.Status.ACTIVE)
        .select_related("room")
        .first()
    )


@transaction.atomic
def place_under_control(
    actor,
    person: Person,
    *,
    category: str,
    start_date: date | None = None,
    facility: Facility | None = None,
    room: Room | None = None,
    address: str = "",
    reason: str = "",
    contact=None,
    now: datetime | None = None,
) -> Measure:
    """Place a person under the measure of the policy in force for their category, with
    the later phases of the course planned, the tests of the first phase planned with their
    sampling duties, a room taken when the measure is served in a facility, and the contact's
    12-hour control duty closed.

    One measure in force per person: a second isolating measure is refused (with the first
    in the error); an isolating measure supersedes health monitoring (upgrade)."""
    now = now or timezone.now()
    start_date = start_date or timezone.localdate(now)
    policy = policy_in_force(category, start_date)
    if person.grid_id is None:
        raise MeasureRuleError(
            _("该人员未登记所属网格，无法确定责任单位，请先完善人员信息。"),
            field="person",
            code="no_grid",
        )
    existing = _open_measure_of(person)
    if existing is not None:
        if existing.type in ISOLATING or policy.measure_type not in ISOLATING:
            raise MeasureRuleError(
                lazy_format(
                    _("该人员已在%(type)s中（%(start)s起），不能重复管控。"),
                    type=existing.get_type_display(),
                    start=existing.start_date,
                ),
                field="person",
                code="already_controlled",
                existing=existing,
            )
        end_measure(actor, existing, Measure.Status.SUPERSEDED, note=str(Category(category).label))

    in_facility = policy.measure_type in IN_FACILITY
    if in_facility and facility is None:
        raise MeasureRuleError(
            lazy_format(_("%(type)s须选择隔离场所。"), type=policy.get_measure_type_display()),
            field="facility",
            code="facility_required",
        )
    address = address.strip() or person.address
    if not in_facility and not address:
        raise MeasureRuleError(_("请填写管控地址。"), field="address", code="address_required")
    if not in_facility:
        facility = room = None
    else:
        room = allocate_room(facility, room)

    measure = Measure.objects.create(
        person=person,
        type=policy.measure_type,
        category=category,
        reason=reason.strip(),
        contact=contact,
        policy=policy,
        start_date=start_date,
        planned_end=start_date + timedelta(days=policy.days),
        facility=facility,
        room=room,
        address=facility.address if in_facility else address,
        region=person.grid,
        responsible_organisation=responsible_unit(person.grid, facility),
        checks_per_day=policy.checks_per_day,
        created_by=acting_user(actor),
        created_at=now,
    )
    if policy.then_type:
        Measure.objects.create(
            person=person,
            type=policy.then_type,
            category=category,
            reason=measure.reason,
            contact=contact,
            policy=policy,
            course_start=measure,
            phase=2,
            first_course_day=policy.days + 1,
            start_date=measure.planned_end,
            planned_end=measure.planned_end + timedelta(days=policy.then_days),
            status=Measure.Status.PLANNED,
            address=person.address,
            region=person.grid,
            responsible_organisation=responsible_unit(person.grid, None),
            checks_per_day=policy.checks_per_day,
            created_by=acting_user(actor),
            created_at=now,
        )
    plan_tests(measure)
    record_change(
        actor,
        measure,
        ChangeLog.Action.CREATE,
        diff({}, measure_snapshot(measure)),
        region=measure.region,
    )
    if contact is not None and contact.controlled_at is None:
        from fangyi.tracing.services import mark_controlled

        mark_controlled(actor, contact)
    return measure


def plan_tests(*measures: Measure) -> list[MeasureTest]:
    """The tests of these phases on the policy's course days, each with a sampling duty due
    by the end of its day; for a release that needs person, object and environment samples,
    an object and an environment sample on the last day. One insert of tests and one of
    duties, however many measures (the demo plans thousands at once)."""
    tests = MeasureTest.objects.bulk_create(
        test for measure in measures for test in _tests_of_phase(measure)
    )
    hours = deadlines.rule_hours(Duty.MEASURE_TEST)
    Task.objects.bulk_create(
        deadlines.new_task(
            Duty.MEASURE_TEST,
            test,
            region=test.measure.region,
            started_at=local_day_start(test.due_date),
            hours=hours,
            organisation=test.measure.responsible_organisation,
            label=f"{test.measure.person.name} {test}",
        )
        for test in tests
    )
    return tests


def _tests_of_phase(measure: Measure) -> list[MeasureTest]:
    last_day = measure.first_course_day + measure.days - 1
    tests = [
        MeasureTest(
            measure=measure,
            region=measure.region,
            kind=MeasureTest.Kind.PERSON,
            course_day=day,
            due_date=measure.date_of_course_day(day),
        )
        for day in measure.policy.course_test_days()
        if measure.first_course_day <= day <= last_day
    ]
    if measure.policy.release_needs_environment and measure.type in IN_FACILITY:
        tests += [
            MeasureTest(
                measure=measure,
                region=measure.region,
                kind=kind,
                course_day=last_day,
                due_date=measure.date_of_course_day(last_day),
            )
            for kind in (MeasureTest.Kind.OBJECT, MeasureTest.Kind.ENVIRONMENT)
        ]
    return tests


@transaction.atomic
def add_test(actor, measure: Measure, *, kind: str, due_date: date) -> MeasureTest:
    """An extra test (e.g. after a fever, or an environment sample of the room)."""
    if not measure.is_open:
        raise MeasureRuleError(_("该管控措施已结束。"), code="ended")
    return MeasureTest.objects.create(
        measure=measure,
        region=measure.region,
        kind=kind,
        course_day=measure.course_day(due_date),
        due_date=due_date,
        recorded_by=acting_user(actor),
    )


@transaction.atomic
def record_test_result(
    actor,
    test: MeasureTest,
    *,
    result: str,
    sampled_at: datetime,
    result_at: datetime | None = None,
) -> MeasureTest:
    """A result of a test of the course. A positive alerts everyone of the jurisdiction at
    once (an alert naming no unit)."""
    if test.result:
        raise MeasureRuleError(_("该检测已有结果。"), code="has_result")
    result_at = result_at or timezone.now()
    if result_at < sampled_at:
        raise MeasureRuleError(_("结果时间不能早于采样时间。"), field="result_at")
    test.result, test.sampled_at, test.result_at = result, sampled_at, result_at
    test.recorded_by = acting_user(actor)
    test.save(update_fields=["result", "sampled_at", "result_at", "recorded_by"])
    deadlines.close_task(test, Duty.MEASURE_TEST, done_at=sampled_at)
    measure = test.measure
    record_change(
        actor,
        measure,
        ChangeLog.Action.UPDATE,
        {str(test): ["", test.get_result_display()]},
        region=measure.region,
    )
    if result == MeasureTest.Result.POSITIVE:
        Alert.objects.create(
            region=measure.region,
            message=f"管控人员核酸阳性：{measure.person.name}（{measure.get_type_display()}）",
        )
    return test


# Daily health checks ----------------------------------------------------------------------


@dataclass
class CheckEntry:
    """One validated reading (see forms.HealthCheckForm) for a measure."""

    measure: Measure
    temperature: Decimal
    checked_at: datetime
    symptoms: list[str] = field(default_factory=list)
    note: str = ""

    @property
    def abnormal(self) -> bool:
        return self.temperature >= FEVER_FROM or bool(self.symptoms)

    def describe(self) -> str:
        symptoms = "、".join(symptom_labels(self.symptoms))
        return f"体温{self.temperature}℃" + (f"，{symptoms}" if symptoms else "")


@transaction.atomic
def record_checks(actor, entries: list[CheckEntry], *, source: str) -> list[HealthCheck]:
    """Save readings in one insert. Each abnormal reading (≥37.3 ℃ or a symptom) alerts the
    responsible unit and opens a fever referral duty for the measure, unless one is open."""
    inactive = [entry for entry in entries if entry.measure.status != Measure.Status.ACTIVE]
    if inactive:
        raise MeasureRuleError(
            lazy_format(
                _("%(name)s 不在管控中，不能录入健康监测。"), name=inactive[0].measure.person.name
            ),
            code="not_active",
        )
    checks = HealthCheck.objects.bulk_create(
        HealthCheck(
            measure=entry.measure,
            region_id=entry.measure.region_id,
            checked_at=entry.checked_at,
            day=timezone.localdate(entry.checked_at),
            temperature=entry.temperature,
            symptoms=entry.symptoms,
            note=entry.note,
            abnormal=entry.abnormal,
            source=source,
            recorded_by=acting_user(actor),
        )
        for entry in entries
    )
    abnormal = [entry for entry in entries if entry.abnormal]
    if abnormal:
        refer_abnormal(abnormal)
    return checks


def refer_abnormal(entries: list[CheckEntry]) -> None:
    measures = {entry.measure.pk: entry for entry in entries}
    already = set(
        Task.objects.open()
        .filter(
            duty=Duty.REFER_FEVER,
            content_type=ContentType.objects.get_for_model(Measure),
            object_id__in=list(measures),
        )
        .values_list("object_id", flat=True)
    )
    hours = deadlines.rule_hours(Duty.REFER_FEVER)
    fresh = [entry for pk, entry in measures.items() if pk not in already]
    tasks = Task.objects.bulk_create(
        deadlines.new_task(
            Duty.REFER_FEVER,
            entry.measure,
            region=entry.measure.region,
            started_at=entry.checked_at,
            hours=hours,
            organisation=entry.measure.responsible_organisation,
            label=f"{entry.measure.person.name} {entry.describe()}",
        )
        for entry in fresh
    )
    Alert.objects.bulk_create(
        Alert(
            region=entry.measure.region,
            organisation=entry.measure.responsible_organisation,
            task=task,
            message=(
                f"健康监测异常：{entry.measure.person.name}（{entry.measure.get_type_display()}）"
                f"{entry.describe()}，请{hours}小时内转运发热门诊并采样"
            )[:255],
        )
        for entry, task in zip(fresh, tasks, strict=True)
    )


@transaction.atomic
def close_fever_referral(actor, measure: Measure) -> int:
    """The person was seen at the fever clinic and sampled: the referral duty is done."""
    return deadlines.close_task(measure, Duty.REFER_FEVER)


def open_missed_check_tasks(day: date, now: datetime | None = None) -> int:
    """For each measure in force all that day with fewer checks than it requires, a follow-up
    duty for its responsible unit. Set-based: one aggregate query, one insert. Idempotent."""
    now = now or timezone.now()
    short = list(
        Measure.objects.filter(status=Measure.Status.ACTIVE, start_date__lt=day)
        .annotate(done=Count("checks", filter=Q(checks__day=day)))
        .filter(done__lt=F("checks_per_day"))
        .select_related("person")
    )
    measure_type = ContentType.objects.get_for_model(Measure)
    label = f"{day:%m-%d}"
    already = set(
        Task.objects.filter(
            duty=Duty.MISSED_CHECK,
            content_type=measure_type,
            object_id__in=[m.pk for m in short],
            subject_label__endswith=label,
        ).values_list("object_id", flat=True)
    )
    hours = deadlines.rule_hours(Duty.MISSED_CHECK)
    tasks = Task.objects.bulk_create(
        deadlines.new_task(
            Duty.MISSED_CHECK,
            measure,
            region=measure.region,
            started_at=now,
            hours=hours,
            organisation=measure.responsible_organisation,
            label=f"{measure.person.name} 漏测{measure.checks_per_day - measure.done}次 {label}",
        )
        for measure in short
        if measure.pk not in already
    )
    return len(tasks)


# Release and other endings ----------------------------------------------------------------


@dataclass(frozen=True)
class Criterion:
    label: str
    met: bool
    detail: str = ""


def release_check(measure: Measure, on: date | None = None) -> list[Criterion]:
    """What release requires under the measure's policy, and whether each is met."""
    on = on or timezone.localdate()
    policy = measure.policy
    remaining = (measure.planned_end - on).days
    criteria = [
        Criterion(
            str(_("期满%(days)s天") % {"days": measure.days}),
            remaining <= 0,
            ""
            if remaining <= 0
            else str(_("还差%(n)s天，%(end)s期满") % {"n": remaining, "end": measure.planned_end}),
        )
    ]
    tests = list(measure.tests.all())
    person_tests = [t for t in tests if t.kind == MeasureTest.Kind.PERSON]
    if policy.release_needs_tests and person_tests:
        missing = [t for t in person_tests if t.result != MeasureTest.Result.NEGATIVE]
        criteria.append(
            Criterion(
                str(_("核酸检测%(n)s次均阴性") % {"n": len(person_tests)}),
                not missing,
                "、".join(str(t) for t in missing),
            )
        )
    other = [t for t in tests if t.kind != MeasureTest.Kind.PERSON]
    if policy.release_needs_environment and other:
        missing = [t for t in other if t.result != MeasureTest.Result.NEGATIVE]
        criteria.append(
            Criterion(str(_("物品、环境样本均阴性")), not missing, "、".join(map(str, missing)))
        )
    positive = [t for t in tests if t.result == MeasureTest.Result.POSITIVE]
    if positive:
        criteria.append(Criterion(str(_("无阳性检测结果")), False, "、".join(map(str, positive))))
    referral_open = (
        deadlines.tasks_of(measure, Duty.REFER_FEVER).filter(status=Task.Status.OPEN).exists()
    )
    criteria.append(
        Criterion(
            str(_("无未处置的健康异常")),
            not referral_open,
            str(_("发热转诊待处置")) if referral_open else "",
        )
    )
    return criteria


def _finish(actor, measure: Measure, status: str, *, note: str, now: datetime) -> None:
    before = measure_snapshot(measure)
    measure.status, measure.ended_at, measure.end_note = status, now, note.strip()
    measure.ended_by = acting_user(actor)
    measure.save(update_fields=["status", "ended_at", "end_note", "ended_by"])
    if measure.room_id:
        vacate_room(measure.room)
    deadlines.cancel_tasks(measure)
    Task.objects.filter(
        status=Task.Status.OPEN,
        content_type=ContentType.objects.get_for_model(MeasureTest),
        object_id__in=measure.tests.values("pk"),
    ).update(status=Task.Status.CANCELLED, done_at=now)
    record_change(
        actor,
        measure,
        ChangeLog.Action.UPDATE,
        diff(before, measure_snapshot(measure)),
        region=measure.region,
    )


@transaction.atomic
def release(actor, measure: Measure, *, now: datetime | None = None) -> Measure | None:
    """Release (解除) when every criterion is met; the next phase of the course (home
    monitoring…) starts the same day. Returns the next phase, if any."""
    now = now or timezone.now()
    measure = Measure.objects.select_for_update().get(pk=measure.pk)
    if measure.status != Measure.Status.ACTIVE:
        raise MeasureRuleError(_("只有管控中的措施可以解除。"), code="not_active")
    missing = [c for c in release_check(measure, timezone.localdate(now)) if not c.met]
    if missing:
        raise MeasureRuleError(
            lazy_format(
                _("尚不满足解除条件：%(missing)s"),
                missing="；".join(
                    f"{c.label}（{c.detail}）" if c.detail else c.label for c in missing
                ),
            ),
            code="criteria_not_met",
        )
    _finish(actor, measure, Measure.Status.RELEASED, note="", now=now)
    return start_next_phase(actor, measure, on=timezone.localdate(now))


def start_next_phase(actor, measure: Measure, *, on: date) -> Measure | None:
    following = (
        Measure.objects.filter(
            course_start=measure.course, phase=measure.phase + 1, status=Measure.Status.PLANNED
        )
        .select_related("policy", "person")
        .first()
    )
    if following is None:
        return None
    length = following.days
    following.start_date, following.planned_end = on, on + timedelta(days=length)
    following.status = Measure.Status.ACTIVE
    following.save(update_fields=["start_date", "planned_end", "status"])
    plan_tests(following)
    record_change(
        actor,
        following,
        ChangeLog.Action.UPDATE,
        {"status": [str(Measure.Status.PLANNED.label), str(Measure.Status.ACTIVE.label)]},
        region=following.region,
    )
    return following


@transaction.atomic
def end_measure(actor, measure: Measure, status: str, *, note: str = "", now=None) -> Measure:
    """End a measure otherwise than by release: transfer to a designated hospital or to
    another jurisdiction, absconding (an alert for the jurisdiction), superseded, cancelled.
    Later planned phases of the course are cancelled."""
    if status not in (*ENDINGS, Measure.Status.SUPERSEDED):
        raise MeasureRuleError(_("无效的结束方式。"), field="status")
    now = now or timezone.now()
    measure = (
        Measure.objects.select_for_update(of=("self",)).select_related("person").get(pk=measure.pk)
    )
    if not measure.is_open:
        raise MeasureRuleError(_("该管控措施已结束。"), code="ended")
    if status == Measure.Status.TRANSFERRED and not note.strip():
        raise MeasureRuleError(_("请注明转往何地。"), field="note", code="note_required")
    _finish(actor, measure, status, note=note, now=now)
    for later in Measure.objects.filter(
        course_start=measure.course, phase__gt=measure.phase, status=Measure.Status.PLANNED
    ):
        _finish(
            actor, later, Measure.Status.CANCELLED, note=str(measure.get_status_display()), now=now
        )
    if status == Measure.Status.ABSCONDED:
        Alert.objects.create(
            region=measure.region,
            message=f"管控人员脱管：{measure.person.name}（{measure.get_type_display()}）",
        )
    return measure


def occupancy(facility: Facility) -> Counter:
    """Rooms of a facility by status, with beds and occupants."""
    return occupancy_of([facility])[facility.pk]


def daily_occupancy(facility: Facility, days: int, today: date | None = None):
    """[(day, residents)] for the last `days` days up to today, in one aggregate query: a
    measure served in the facility counts from its start date until the day it ended (a
    measure still in force counts up to today even past its planned end)."""
    today = today or timezone.localdate()
    window = [today - timedelta(days=back) for back in range(days - 1, -1, -1)]
    stays = (
        Measure.objects.filter(facility=facility, start_date__lte=today)
        .filter(Q(ended_at__isnull=True) | Q(ended_at__gte=local_day_start(window[0])))
        .exclude(status=Measure.Status.PLANNED)
        .annotate(left=Coalesce(TruncDate("ended_at"), Value(today + timedelta(days=1))))
    )
    counts = stays.aggregate(
        **{
            f"day{index}": Count("pk", filter=Q(start_date__lte=day, left__gt=day))
            for index, day in enumerate(window)
        }
    )
    return [(day, counts[f"day{index}"]) for index, day in enumerate(window)]


def occupancy_of(facilities) -> dict[int, Counter]:
    """`occupancy` of each facility, in one query (for a list of facilities)."""
    counts = defaultdict(Counter)
    rows = (
        Room.objects.filter(facility__in=facilities)
        .values_list("facility", "status")
        .annotate(rooms=Count("id"), beds=Sum("beds"), occupants=Sum("occupants"))
    )
    for facility_id, status, rooms, beds, occupants in rows:
        counts[facility_id][status] += rooms
        counts[facility_id]["beds"] += beds
        counts[facility_id]["occupants"] += occupants
    return counts
