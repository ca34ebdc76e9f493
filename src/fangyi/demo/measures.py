"""Demo control measures on top of the demo county and its outbreak (`build.build_demo`,
`outbreak.build_outbreak`): what the county's measures desk has on its hands on the day.

- The county's two quarantine-facility organisations registered as facilities, each with six
  floors of 20 single rooms and a floor of family rooms (`services.create_facility`,
  `add_rooms`); a room out of service.
- About a tenth of the persons under measures (fewer with fewer persons), at every stage:
  - close contacts and contacts of close contacts of the outbreak (its `Contact` rows) still
    in their centralised phase, placed through `services.place_under_control` with their
    contact (rooms allocated, home phase planned, tests and sampling duties planned);
  - the bulk, written set-based as the services would write them (same policy version,
    planned end, phases, responsible unit, room occupancy, tests through
    `services.plan_tests`, change log): arrivals from high-risk areas in centralised
    quarantine (families in family rooms), some of them released into their home phase;
    returnees, arrivals from medium-risk areas, persons released from centralised quarantine
    elsewhere and high-risk-post workers under home monitoring; courses released in the past
    week;
  - a few transferred to hospital or to another jurisdiction, or absconded
    (`services.end_measure`).
- Tests of the course due before today negative (a few sampling duties left overdue).
- Health checks twice a day since each measure began, a few missed; a few abnormal readings
  through `services.record_checks` with their fever-referral duties and alerts (the older
  ones dealt with); the follow-up duties for yesterday's missed checks as the nightly job
  opens them (`services.open_missed_check_tasks`).

Every demo user sees something: floor 2 of the first facility holds centralised measures,
grid_a1's and grid_b1's grids persons under home monitoring. Draws come from
`random.Random(seed)` over rows in id order: the same seed on the same county (and the same
`now`) gives the same measures. Without `now`, the current time floored to the hour is used.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from fangyi.accounts.models import User
from fangyi.cases.models import CaseReport
from fangyi.core import deadlines
from fangyi.core.audit import diff
from fangyi.core.models import Alert, ChangeLog, Duty, Task
from fangyi.geo.models import Organisation, Region
from fangyi.measures import services
from fangyi.measures.models import (
    IN_FACILITY,
    Category,
    Facility,
    HealthCheck,
    Measure,
    MeasureTest,
    Policy,
    Room,
    Symptom,
)
from fangyi.measures.services import CheckEntry, local_day_start, measure_snapshot
from fangyi.people.models import Person
from fangyi.tracing.models import Contact

# Share of the persons under a measure on the day, and of those in a facility room.
UNDER_MEASURES = 0.10
CENTRALISED_SHARE = 0.3
# At most this share of the beds taken (free rooms are left for the demo's own placements),
# and at most this share of the centralised taken by the outbreak's contacts.
BED_USE = 0.7
CONTACT_SHARE = 0.4
FLOORS, ROOMS_PER_FLOOR, FAMILY_ROOMS, FAMILY_BEDS = 6, 20, 8, 3
# The other persons under measures, by category (relative weights); high-risk arrivals here
# are in their home phase, released from the centralised one.
HOME_MIX = [
    (Category.RETURNEE, 35),
    (Category.MEDIUM_RISK_ARRIVAL, 25),
    (Category.HIGH_RISK_POST, 12),
    (Category.RELEASED_CENTRALISED, 12),
    (Category.HIGH_RISK_ARRIVAL, 10),
]
RELEASED_SHARE = 0.15  # of home courses: fully released in the past week
DEMO_GRID_PERSONS = 3  # under home monitoring in grid_a1's and grid_b1's grids each
MISSED = 0.04  # share of the past check slots without a reading
MISSED_TODAY = 0.10
ABNORMAL = 0.01  # share of the active measures with an abnormal reading today or yesterday
ACTORS = ("county_admin", "cdc_epi", "facility_staff", "grid_a1", "grid_b1")
NORMAL_TEMPERATURES = [Decimal(f"{t / 10:.1f}") for t in range(359, 372)]


@dataclass
class MeasuresSummary:
    facilities: int
    rooms: int
    active: int
    centralised: int
    from_contacts: int
    released: int
    ended_otherwise: int
    checks: int
    abnormal: int
    missed_check_tasks: int


@dataclass
class Course:
    """One person's course as drawn (bulk): its first day and how far it has got."""

    person: Person
    category: str
    start: date
    begun_at: datetime
    released_at: datetime | None = None  # the first phase released
    room: Room | None = None


@dataclass
class Desk:
    """What the measures are drawn from and written with."""

    now: datetime
    users: dict[str, User]
    committees: dict[int, Organisation]  # grid id → its village committee
    facilities: list[Facility]
    persons: list[Person]  # not cases nor contacts, id order
    contacts: list[Contact]  # controlled, still in their first phase, id order
    person_count: int
    # Measures to end otherwise than by release: pk → (status, when, note).
    ends: dict[int, tuple[str, datetime, str]] = field(default_factory=dict)
    policies: dict[tuple[str, date], Policy] = field(default_factory=dict)

    @property
    def today(self) -> date:
        return timezone.localdate(self.now)

    def policy(self, category: str, on: date) -> Policy:
        """The version in force that day (`services.policy_in_force`), asked once."""
        if (category, on) not in self.policies:
            self.policies[category, on] = services.policy_in_force(category, on)
        return self.policies[category, on]

    def facility(self, room: Room | None) -> Facility | None:
        return next(f for f in self.facilities if f.pk == room.facility_id) if room else None

    def unit_of(self, person: Person) -> Organisation | None:
        """The village committee of the person's grid (`services.responsible_unit`)."""
        return self.committees.get(person.grid_id)


def build_measures(seed: int, *, now: datetime | None = None) -> MeasuresSummary:
    """Add the measures to the demo county already in the database (module docstring)."""
    now = now or timezone.now().replace(minute=0, second=0, microsecond=0)
    rng = random.Random(seed)
    with transaction.atomic():
        desk = load_desk(now)
        desk.facilities = build_facilities(desk.users["facility_staff"])
        desk.contacts = running_contacts(desk)
        target = round(desk.person_count * UNDER_MEASURES)
        beds = sum(room.beds for f in desk.facilities for room in f.rooms.all())
        centralised = min(round(target * CENTRALISED_SHARE), round(beds * BED_USE))
        from_contacts = place_contacts(rng, desk, round(centralised * CONTACT_SHARE))
        courses = draw_courses(rng, desk, centralised - len(from_contacts), target - centralised)
        measures = from_contacts + write_courses(desk, courses)
        plan_endings(rng, desk, measures)
        record_results(rng, desk, measures)
        checks, abnormal = record_health_checks(rng, desk, measures)
        ended = end_measures(desk, measures)
        missed = follow_up_missed_checks(rng, desk)
        deadlines.alert_overdue(now)
    active = Measure.objects.active()
    return MeasuresSummary(
        facilities=len(desk.facilities),
        rooms=Room.objects.count(),
        active=active.count(),
        centralised=active.filter(room__isnull=False).count(),
        from_contacts=len(from_contacts),
        released=Measure.objects.filter(status=Measure.Status.RELEASED).count(),
        ended_otherwise=ended,
        checks=checks,
        abnormal=abnormal,
        missed_check_tasks=missed,
    )


def load_desk(now: datetime) -> Desk:
    users = {u.username: u for u in User.objects.filter(username__in=ACTORS)}
    missing = set(ACTORS) - set(users)
    if missing:
        raise ValueError(f"demo users missing: {', '.join(sorted(missing))}; run build_demo")
    regions = Region.objects.in_bulk()
    by_village = {
        o.region_id: o
        for o in Organisation.objects.filter(type=Organisation.Type.VILLAGE_COMMITTEE)
    }
    committees = {
        r.pk: by_village[r.parent_id]
        for r in regions.values()
        if r.level == Region.Level.GRID and r.parent_id in by_village
    }
    cases = CaseReport.objects.values("person_id")
    contacts = Contact.objects.values("person_id")
    persons = list(
        Person.objects.exclude(pk__in=cases)
        .exclude(pk__in=contacts)
        .only("id", "name", "address", "grid_id", "household_id")
        .order_by("id")
    )
    for person in persons:
        person.grid = regions[person.grid_id]
    return Desk(
        now=now,
        users=users,
        committees=committees,
        facilities=[],
        persons=persons,
        contacts=[],
        person_count=Person.objects.count(),
    )


def build_facilities(staff: User) -> list[Facility]:
    """The county's quarantine-facility organisations as facilities with their rooms."""
    facilities = []
    organisations = Organisation.objects.filter(type=Organisation.Type.QUARANTINE_FACILITY)
    for index, organisation in enumerate(organisations.order_by("id")):
        kind = Facility.Kind.SITE if index == 0 else Facility.Kind.HOTEL
        facility = services.create_facility(staff, organisation, kind=kind)
        for floor in range(1, FLOORS + 1):
            numbers = [f"{floor}{n:02d}" for n in range(1, ROOMS_PER_FLOOR + 1)]
            services.add_rooms(staff, facility, floor=floor, numbers=numbers, kind=Room.Kind.SINGLE)
        floor = FLOORS + 1
        services.add_rooms(
            staff,
            facility,
            floor=floor,
            numbers=[f"{floor}{n:02d}" for n in range(1, FAMILY_ROOMS + 1)],
            kind=Room.Kind.FAMILY,
            beds=FAMILY_BEDS,
        )
        facilities.append(facility)
    if len(facilities) > 1:
        last = facilities[-1].rooms.get(number=f"{FLOORS}{ROOMS_PER_FLOOR:02d}")
        services.set_room_status(staff, last, Room.Status.OUT_OF_SERVICE)
    return list(Facility.objects.filter(pk__in=[f.pk for f in facilities]).order_by("id"))


# --- Contacts of the outbreak, through the services --------------------------------------


def contact_category(contact: Contact) -> str:
    return Category.SECONDARY_CONTACT if contact.source_contact_id else Category.CLOSE_CONTACT


def running_contacts(desk: Desk) -> list[Contact]:
    """Controlled contacts whose centralised phase would still run today."""
    contacts = Contact.objects.filter(
        controlled_at__isnull=False, controlled_at__lte=desk.now, became_case__isnull=True
    ).select_related("person__grid")
    running = []
    for contact in contacts.order_by("id"):
        start = timezone.localdate(contact.controlled_at)
        if start + timedelta(days=desk.policy(contact_category(contact), start).days) >= desk.today:
            running.append(contact)
    return running


def place_contacts(rng: random.Random, desk: Desk, budget: int) -> list[Measure]:
    """A sample of the running contacts placed under control as their tracer did, in the
    facility with more free rooms, at the moment their control was recorded."""
    chosen = rng.sample(desk.contacts, min(budget, len(desk.contacts)))
    chosen.sort(key=lambda c: (c.controlled_at, c.pk))
    free = {f.pk: f.rooms.filter(status=Room.Status.FREE).count() for f in desk.facilities}
    measures = []
    for contact in chosen:
        facility = max(desk.facilities, key=lambda f: (free[f.pk], -f.pk))
        free[facility.pk] -= 1
        category = contact_category(contact)
        measures.append(
            services.place_under_control(
                desk.users["cdc_epi"],
                contact.person,
                category=category,
                start_date=timezone.localdate(contact.controlled_at),
                facility=facility,
                reason=f"{Category(category).label}（{contact.get_setting_display()}）",
                contact=contact,
                now=contact.controlled_at,
            )
        )
    backdate_creation_logs(measures)
    return measures


def backdate_creation_logs(measures: list[Measure]) -> None:
    """The services stamp the real clock on the change log: move it to the placement."""
    logs = list(
        ChangeLog.objects.filter(
            content_type=ContentType.objects.get_for_model(Measure),
            object_id__in=[str(m.pk) for m in measures],
            action=ChangeLog.Action.CREATE,
        )
    )
    created = {str(m.pk): m.created_at for m in measures}
    for log in logs:
        log.at = created[log.object_id]
    ChangeLog.objects.bulk_update(logs, ["at"])


# --- The bulk: drawn, then written set-based ---------------------------------------------


def draw_courses(rng: random.Random, desk: Desk, centralised: int, home: int) -> list[Course]:
    """High-risk arrivals for the free beds (families first, in family rooms), then the home
    courses by HOME_MIX, a few of them in grid_a1's and grid_b1's grids."""
    pool = list(desk.persons)
    rng.shuffle(pool)
    courses = house_arrivals(rng, desk, pool, centralised)
    taken = {c.person.pk for c in courses}
    first = []
    for grid in sorted({desk.users[name].region_id for name in ("grid_a1", "grid_b1")}):
        first += [p for p in pool if p.grid_id == grid and p.pk not in taken][:DEMO_GRID_PERSONS]
    taken |= {p.pk for p in first}
    rest = [p for p in pool if p.pk not in taken]
    categories, weights = zip(*HOME_MIX, strict=True)
    for index, person in enumerate((first + rest)[:home]):
        if index < len(first):
            category, fate = Category.RETURNEE, "active"
        else:
            category = rng.choices(categories, weights)[0]
            if category == Category.HIGH_RISK_ARRIVAL:
                fate = "home_phase"
            else:
                fate = "released" if rng.random() < RELEASED_SHARE else "active"
        courses.append(draw_course(rng, desk, person, category, fate))
    released = [
        c
        for c in courses
        if c.released_at and desk.policy(c.category, c.start).measure_type in IN_FACILITY
    ]
    give_rooms_of_the_past(desk, released)
    return courses


def house_arrivals(rng: random.Random, desk: Desk, pool: list[Person], count: int) -> list[Course]:
    """Arrivals from high-risk areas in centralised quarantine today: households of two or
    three in family rooms, the others in single rooms, floor by floor across the facilities."""
    rooms = [r for f in desk.facilities for r in f.rooms.all() if r.status == Room.Status.FREE]
    rooms.sort(key=lambda r: (r.floor, r.number, r.facility_id))
    singles = [r for r in rooms if r.kind == Room.Kind.SINGLE]
    families = [r for r in rooms if r.kind == Room.Kind.FAMILY]
    members = defaultdict(list)
    for person in pool:
        if person.household_id:
            members[person.household_id].append(person)
    households = [m for m in members.values() if 2 <= len(m) <= FAMILY_BEDS]
    courses: list[Course] = []
    for room, household in zip(families[: len(families) // 2], households, strict=False):
        if len(courses) + len(household) > count:
            break
        course = draw_course(rng, desk, household[0], Category.HIGH_RISK_ARRIVAL, "active")
        courses += [
            Course(person, course.category, course.start, course.begun_at, room=room)
            for person in household
        ]
    taken = {c.person.pk for c in courses}
    singles_wanted = count - len(courses)
    for person, room in zip([p for p in pool if p.pk not in taken], singles, strict=False):
        if singles_wanted <= 0:
            break
        course = draw_course(rng, desk, person, Category.HIGH_RISK_ARRIVAL, "active")
        course.room = room
        courses.append(course)
        singles_wanted -= 1
    for course in courses:
        course.room.occupants += 1
        course.room.status = Room.Status.OCCUPIED
    Room.objects.bulk_update({c.room for c in courses}, ["occupants", "status"])
    return courses


def draw_course(rng: random.Random, desk: Desk, person: Person, category: str, fate: str) -> Course:
    """`active`: in its first phase (day 1 up to the day it is due for release);
    `released`: released in the past week; `home_phase`: first phase released, the next
    running."""
    today, now = desk.today, desk.now
    policy = desk.policy(category, today)
    release_at = None
    if fate == "active":
        start = today - timedelta(days=rng.randint(0, policy.days))
    else:
        back = rng.randint(0, policy.then_days - 1 if fate == "home_phase" else 6)
        released_on = today - timedelta(days=back)
        release_at = local_day_start(released_on) + timedelta(minutes=rng.randint(540, 700))
        if release_at > now:  # not yet released today: a day earlier
            release_at -= timedelta(days=1)
            released_on -= timedelta(days=1)
        start = released_on - timedelta(days=policy.days)
    begun = local_day_start(start) + timedelta(minutes=rng.randint(480, 1260))
    begun = max(local_day_start(start), min(begun, now - timedelta(minutes=10)))
    return Course(person, category, start, begun, release_at)


def give_rooms_of_the_past(desk: Desk, courses: list[Course]) -> None:
    """Released centralised phases had a room: any room empty today; one released within the
    last day is still to be cleaned."""
    empty = [
        r
        for f in desk.facilities
        for r in f.rooms.all()
        if r.status == Room.Status.FREE and r.kind == Room.Kind.SINGLE
    ]
    cleaning = set()
    for index, course in enumerate(courses):
        course.room = empty[index % len(empty)]
        if course.released_at > desk.now - timedelta(days=1):
            cleaning.add(course.room)
    for room in cleaning:
        room.status = Room.Status.CLEANING
    Room.objects.bulk_update(cleaning, ["status"])


def write_courses(desk: Desk, courses: list[Course]) -> list[Measure]:
    """Each course's phases as `place_under_control` (and `release`) would leave them, their
    change log, and their tests (`plan_tests`)."""
    actor = desk.users["county_admin"]
    firsts, logs = [], []
    for course in courses:
        measure = first_phase(desk, course, actor)
        created = diff({}, measure_snapshot(measure))
        logs.append((measure, ChangeLog.Action.CREATE, created, measure.created_at))
        if course.released_at:
            before = measure_snapshot(measure)
            measure.status, measure.ended_at = Measure.Status.RELEASED, course.released_at
            measure.ended_by = actor
            released = diff(before, measure_snapshot(measure))
            logs.append((measure, ChangeLog.Action.UPDATE, released, measure.ended_at))
        firsts.append(measure)
    Measure.objects.bulk_create(firsts)
    seconds = []
    for course, measure in zip(courses, firsts, strict=True):
        if measure.policy.then_type:
            seconds.append(next_phase(desk, course, measure, actor))
    Measure.objects.bulk_create(seconds)
    planned, active = str(Measure.Status.PLANNED.label), str(Measure.Status.ACTIVE.label)
    for measure in seconds:
        if measure.status == Measure.Status.ACTIVE:
            started = {"status": [planned, active]}
            logs.append((measure, ChangeLog.Action.UPDATE, started, began_at(measure)))
    with_tests = firsts + [m for m in seconds if m.status == Measure.Status.ACTIVE]
    services.plan_tests(*with_tests)
    content_type = ContentType.objects.get_for_model(Measure)
    ChangeLog.objects.bulk_create(
        ChangeLog(
            actor=actor,
            action=action,
            content_type=content_type,
            object_id=str(measure.pk),
            object_repr=str(measure)[:200],
            region=measure.region,
            changes=changes,
            at=at,
        )
        for measure, action, changes, at in logs
    )
    return firsts + seconds


def began_at(measure: Measure) -> datetime:
    """A first phase begins when it is placed; a later one when the one before is released
    (the later phase was created, planned, with the first)."""
    return measure.course_start.ended_at if measure.course_start_id else measure.created_at


def first_phase(desk: Desk, course: Course, actor: User) -> Measure:
    policy = desk.policy(course.category, course.start)
    facility, person = desk.facility(course.room), course.person
    return Measure(
        person=person,
        type=policy.measure_type,
        category=course.category,
        policy=policy,
        start_date=course.start,
        planned_end=course.start + timedelta(days=policy.days),
        facility=facility,
        room=course.room,
        address=facility.address if facility else person.address,
        region=person.grid,
        responsible_organisation=facility.organisation if facility else desk.unit_of(person),
        checks_per_day=policy.checks_per_day,
        created_by=actor,
        created_at=course.begun_at,
    )


def next_phase(desk: Desk, course: Course, first: Measure, actor: User) -> Measure:
    """The home phase: planned from the first phase's planned end, or started the day the
    first phase was released (`services.start_next_phase`)."""
    policy, person = first.policy, course.person
    start = timezone.localdate(course.released_at) if course.released_at else first.planned_end
    return Measure(
        person=person,
        type=policy.then_type,
        category=course.category,
        policy=policy,
        course_start=first,
        phase=2,
        first_course_day=policy.days + 1,
        start_date=start,
        planned_end=start + timedelta(days=policy.then_days),
        status=Measure.Status.ACTIVE if course.released_at else Measure.Status.PLANNED,
        address=person.address,
        region=person.grid,
        responsible_organisation=desk.unit_of(person),
        checks_per_day=policy.checks_per_day,
        created_by=actor,
        created_at=first.created_at,
    )


# --- Tests of the course -----------------------------------------------------------------


def record_results(rng: random.Random, desk: Desk, measures: list[Measure]) -> None:
    """Tests due before today sampled on their day and negative, their sampling duties
    done; yesterday's of a few measures not sampled (the duty overdue). One statement per
    day and table."""
    yesterday = desk.today - timedelta(days=1)
    running = [m for m in measures if m.status == Measure.Status.ACTIVE and m.pk not in desk.ends]
    late = {m.pk for m in rng.sample(running, min(len(running), max(1, len(running) // 200)))}
    # Those ending otherwise within the last day were not sampled yesterday either.
    tests = MeasureTest.objects.filter(result="", due_date__lt=desk.today).exclude(
        measure__in=late | set(desk.ends), due_date=yesterday
    )
    test_type = ContentType.objects.get_for_model(MeasureTest)
    days = sorted(set(tests.values_list("due_date", flat=True)))
    for day in days:
        sampled = local_day_start(day) + timedelta(minutes=rng.randint(480, 600))
        of_day = tests.filter(due_date=day)
        Task.objects.filter(
            duty=Duty.MEASURE_TEST,
            status=Task.Status.OPEN,
            content_type=test_type,
            object_id__in=of_day.values("pk"),
        ).update(status=Task.Status.DONE, done_at=sampled)
        of_day.update(
            result=MeasureTest.Result.NEGATIVE,
            sampled_at=sampled,
            result_at=sampled + timedelta(hours=rng.randint(5, 9)),
        )


# --- Health checks -----------------------------------------------------------------------


def record_health_checks(
    rng: random.Random, desk: Desk, measures: list[Measure]
) -> tuple[int, int]:
    """Readings at each check slot of each phase while it ran, a few missed; the latest
    reading of a few running measures abnormal, and some abnormal days ago (referral
    done). Returns (readings, abnormal readings)."""
    slots = {m.pk: check_slots(rng, desk, m) for m in measures}
    recent, older = pick_abnormal(rng, desk, measures, slots)
    abnormal_at = {m.pk: slots[m.pk].pop() for m in recent}
    earlier_at = {m.pk: slots[m.pk].pop(len(slots[m.pk]) - 5) for m in older}
    checks = []
    for measure in measures:
        source, recorder = reporter(desk, measure)
        for checked_at in slots[measure.pk]:
            checks.append(
                HealthCheck(
                    measure_id=measure.pk,
                    region_id=measure.region_id,
                    checked_at=checked_at,
                    day=checked_at.date(),  # slots are made in local time
                    temperature=normal_temperature(rng),
                    abnormal=False,
                    source=source,
                    recorded_by=recorder,
                )
            )
    HealthCheck.objects.bulk_create(checks, batch_size=2000)
    abnormal = record_abnormal(rng, desk, older, earlier_at, referral_done=True)
    abnormal += record_abnormal(rng, desk, recent, abnormal_at, referral_done=False)
    return len(checks) + abnormal, abnormal


def check_slots(rng: random.Random, desk: Desk, measure: Measure) -> list[datetime]:
    """Reading times while the phase ran (to its end or now): from 08:00 and spread over
    the day, each within 1½ hours of its slot; a few missed."""
    if measure.status == Measure.Status.PLANNED:
        return []
    begin, end = began_at(measure), measure.ended_at or desk.now
    if measure.pk in desk.ends:
        end = desk.ends[measure.pk][1]
    day, last = timezone.localdate(begin), timezone.localdate(end)
    per_day = measure.checks_per_day
    times = []
    while day <= last:
        missed = MISSED_TODAY if day == desk.today else MISSED
        for index in range(per_day):
            hour = 8 + index * 14 // per_day
            at = local_day_start(day) + timedelta(hours=hour, minutes=rng.randint(0, 89))
            if begin <= at < end and rng.random() >= missed:
                times.append(at)
        day += timedelta(days=1)
    return times


def pick_abnormal(rng, desk: Desk, measures: list[Measure], slots: dict[int, list[datetime]]):
    """Running measures for an abnormal latest reading: one on floor 2 of the first
    facility, one in grid_a1's and grid_b1's grids, the rest at random; others (with enough
    readings) abnormal a couple of days ago."""
    running = [
        m
        for m in measures
        if m.status == Measure.Status.ACTIVE and m.pk not in desk.ends and slots[m.pk]
    ]
    first_facility = desk.facilities[0].pk
    # On floor 2 the last room: the first rooms stay free of open referrals for whoever
    # records the floor next.
    floor_2 = [m for m in running if m.facility_id == first_facility and m.room.floor == 2]
    wanted = [
        max(floor_2, key=lambda m: m.room.number, default=None),
        *(
            next((m for m in running if m.region_id == desk.users[name].region_id), None)
            for name in ("grid_a1", "grid_b1")
        ),
    ]
    recent = [m for m in wanted if m is not None]
    count = max(3, round(len(running) * ABNORMAL))
    others = [m for m in running if m not in recent]
    recent += rng.sample(others, min(len(others), max(0, count - len(recent))))
    seasoned = [m for m in running if m not in recent and len(slots[m.pk]) >= 6]
    older = rng.sample(seasoned, min(len(seasoned), max(1, count // 2)))
    return recent, older


def reporter(desk: Desk, measure: Measure) -> tuple[str, User | None]:
    """Facility staff record the first facility's residents, the two demo grid workers
    their grids; everyone else reports on their phone link."""
    if measure.facility_id == desk.facilities[0].pk:
        return HealthCheck.Source.STAFF, desk.users["facility_staff"]
    for username in ("grid_a1", "grid_b1"):
        if measure.region_id == desk.users[username].region_id:
            return HealthCheck.Source.STAFF, desk.users[username]
    return HealthCheck.Source.SELF, None


def normal_temperature(rng: random.Random) -> Decimal:
    index = round((rng.gauss(36.5, 0.22) - 35.9) * 10)
    return NORMAL_TEMPERATURES[min(max(index, 0), len(NORMAL_TEMPERATURES) - 1)]


def record_abnormal(
    rng, desk: Desk, measures: list[Measure], at: dict[int, datetime], *, referral_done: bool
) -> int:
    """Through `services.record_checks`: the alerts and fever-referral duties are real. A
    referral dealt with was done within two hours."""
    by_reporter = defaultdict(list)
    for measure in measures:
        if rng.random() < 0.75:
            temperature = Decimal(f"{rng.randint(373, 388) / 10:.1f}")
            symptoms = rng.choice([[], [Symptom.FEVER], [Symptom.FEVER, Symptom.FATIGUE]])
        else:
            temperature = normal_temperature(rng)
            symptoms = rng.choice([[Symptom.DRY_COUGH], [Symptom.SORE_THROAT, Symptom.FATIGUE]])
        entry = CheckEntry(measure, temperature, at[measure.pk], [str(s) for s in symptoms])
        by_reporter[reporter(desk, measure)].append(entry)
    for (source, recorder), entries in by_reporter.items():
        services.record_checks(recorder, entries, source=source)
    tasks = Task.objects.filter(
        duty=Duty.REFER_FEVER,
        content_type=ContentType.objects.get_for_model(Measure),
        object_id__in=[m.pk for m in measures],
    )
    alerts = list(Alert.objects.filter(task__in=tasks).select_related("task"))
    for alert in alerts:
        alert.created_at = alert.task.started_at
    Alert.objects.bulk_update(alerts, ["created_at"])
    if referral_done:
        for measure in measures:
            done = at[measure.pk] + timedelta(minutes=rng.randint(40, 110))
            deadlines.close_task(measure, Duty.REFER_FEVER, done_at=done)
    return len(measures)


# --- Endings and the nightly follow-up ---------------------------------------------------


def plan_endings(rng: random.Random, desk: Desk, measures: list[Measure]) -> None:
    """A few running measures end otherwise than by release within the last day: at home,
    transferred to another jurisdiction or absconded; in a facility, to the designated
    hospital."""
    running = [m for m in measures if m.status == Measure.Status.ACTIVE]
    demo_grids = {desk.users[name].region_id for name in ("grid_a1", "grid_b1")}
    at_home = [m for m in running if not m.room_id and m.region_id not in demo_grids]
    housed = [m for m in running if m.room_id]
    count = max(1, len(running) // 300)
    chosen = [
        *(
            (m, Measure.Status.TRANSFERRED, "转至外省（市）居住地继续管控")
            for m in rng.sample(at_home, min(count, len(at_home)))
        ),
        *(
            (m, Measure.Status.ABSCONDED, "多次联系未果，居住地无人")
            for m in rng.sample(at_home, min(max(1, count // 2), len(at_home)))
        ),
        *((m, Measure.Status.HOSPITAL, "转定点医院进一步诊治") for m in housed[:1]),
    ]
    for measure, status, note in chosen:
        if measure.pk in desk.ends:
            continue
        ends_at = desk.now - timedelta(minutes=rng.randint(120, 1800))
        ends_at = max(ends_at, began_at(measure) + (desk.now - began_at(measure)) / 2)
        desk.ends[measure.pk] = (status, ends_at, note)


def end_measures(desk: Desk, measures: list[Measure]) -> int:
    """The planned endings, through `services.end_measure` at their moment."""
    actor = desk.users["county_admin"]
    by_pk = {m.pk: m for m in measures}
    for pk, (status, at, note) in sorted(desk.ends.items()):
        services.end_measure(actor, by_pk[pk], status, note=note, now=at)
    return len(desk.ends)


def follow_up_missed_checks(rng: random.Random, desk: Desk) -> int:
    """Yesterday's follow-up duties as the nightly job opened them at 00:10; by half past
    eight most of them followed up."""
    midnight = local_day_start(desk.today)
    opened_at = midnight + timedelta(minutes=10)
    if opened_at > desk.now:
        return 0
    since = Task.objects.aggregate(last=Max("pk"))["last"] or 0
    count = services.open_missed_check_tasks(desk.today - timedelta(days=1), now=opened_at)
    followed = midnight + timedelta(hours=8, minutes=30)
    if followed <= desk.now:
        opened = Task.objects.filter(pk__gt=since, duty=Duty.MISSED_CHECK).order_by("pk")
        ids = list(opened.values_list("pk", flat=True))
        done = rng.sample(ids, round(len(ids) * 0.8))
        Task.objects.filter(pk__in=done).update(status=Task.Status.DONE, done_at=followed)
    return count
