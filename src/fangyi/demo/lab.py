"""Demo sampling and testing on the demo county (`build.build_demo`, with or without the
outbreak and the measures on it): what the county CDC's lab and the screening office have on
their hands on the day.

- A finished mass screening, "<county>第1轮全员核酸筛查" (`services.create_campaign`,
  `open_round`), one round over the last two days: a collection site per village or
  community serving its grids, run by its village clinic; about 95% of the registered
  persons sampled in 10-in-1 tubes, grid by grid in household order; the others not yet
  tested, but for those exempted with a reason (`services.exempt`): persons in a quarantine
  facility or with a COVID-19 card (tested where they are), medical staff (tested weekly by
  their units) and a few away, bedridden or infants. Tubes, members and the round's
  targets are written set-based, as `collect_sample` would leave them.
- Their results in one file of the county CDC's lab (`services.store_results`), so the pools
  resolve as they would: negative but for a few positive pools (members placed under control
  with their re-test duties, the units alerted; one in grid_a1's grid, one in each demo
  township when it can) and two invalid tubes (re-sampling duties). Every member of one
  positive pool re-tested in single tubes (`services.collect_sample`), one of them positive:
  a suspected-case draft with its 2-hour report duty; two members of another re-tested
  negative; the rest still awaiting their re-test.
- The county hospital's fever clinic, about 20 samples a day over the last 7 days, and a few
  outpatients and inpatients, all tested by the CDC lab: mostly in time, some past their
  limit, the latest still pending, three of them past their 6 hours now (their late-result
  duties opened as the periodic job does, `services.open_late_result_tasks`).
- Medical staff tested at work 2 to 10 days ago (the weekly regimen finds those past 7 days
  overdue) and two environmental swabs at market stalls, one positive (the alert).
- Routine results arrive in the lab's daily files (`store_results`, one batch a day).

Draws come from `random.Random(seed)` over rows in id order: the same seed on the same county
with the same `now` gives the same tubes and results. Without `now`, the current time floored
to the hour; `now` cannot be later than the clock (the services refuse collections in the
future). A second run is refused: the campaign exists.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from fangyi.accounts.models import User
from fangyi.cases.models import CaseReport
from fangyi.core import deadlines
from fangyi.geo.models import Organisation, Place, Region
from fangyi.lab import services
from fangyi.lab.models import (
    Campaign,
    CollectionSite,
    Examinee,
    Method,
    Purpose,
    Result,
    ResultImport,
    Round,
    Sample,
    SampleType,
    ScreeningTarget,
)
from fangyi.lab.services import ResultRow
from fangyi.measures.models import Measure
from fangyi.measures.services import local_day_start
from fangyi.people.models import Person
from fangyi.tracing.models import Contact

CAMPAIGN_NAME = "{county}第1轮全员核酸筛查"
SCREENING_DAYS = 2  # the round ran the two days before today
POOL_SIZE = 10
TESTED_SHARE = 0.95  # of the expected population
FEW_EXEMPT = 0.003  # of the expected: away, bedridden, infants
POSITIVE_POOLS = 4
INVALID_TUBES = 2
SCREENING_LATE = 0.03  # tubes resulted after their 12 hours
# Persons come to the sites before and after work: relative weights of the hours 07–19.
SITE_HOURS = [9, 10, 8, 6, 5, 3, 3, 4, 4, 5, 8, 9, 6]
ROUTINE_DAYS = 7
FEVER_PER_DAY = 20
FEVER_LATE = 0.12  # fever-clinic results after their 6 hours
PENDING_LATE = 3  # fever-clinic tubes still without a result, past their limit now
OUTPATIENTS, INPATIENTS = 8, 5
KEY_GROUP = "medical_staff"
KEY_GROUP_DAYS_AGO = (2, 10)
# Nothing is resulted in the last minutes before `now`.
SLACK = timedelta(minutes=10)
ACTORS = ("county_admin", "lab_staff", "clinician", "cdc_epi", "grid_a1", "grid_b1", "street_a")
ENVIRONMENT = [("水产摊位案板表面", True), ("冷冻海鲜外包装", False)]


@dataclass
class LabSummary:
    sites: int
    expected: int
    tested: int
    exempt: int
    tubes: int
    positive_pools: int
    invalid_tubes: int
    retests: int
    suspected_cases: int
    routine_samples: int
    pending_late: int
    environmental: int
    result_files: int


@dataclass
class Tube:
    """A screening tube as drawn, with the result it will get."""

    sample: Sample
    grid: Region
    members: list[int]  # person ids, in scanning order
    result_at: datetime
    result: str = Result.NEGATIVE
    ct_values: dict[str, float] = field(default_factory=dict)


@dataclass
class Desk:
    now: datetime
    rng: random.Random
    users: dict[str, User]
    regions: dict[int, Region]
    lab: Organisation  # the county CDC's lab (lab_staff's): tests everything here
    hospital: Organisation  # the county hospital (clinician's): fever clinic and wards
    hours: dict[str, int]  # turnaround limits by purpose
    persons: list[int]  # registered in a grid, id order
    serials: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    files: int = 0  # result files stored
    # Results of routine tubes waiting for the lab's daily file: (sample, result, at, Ct).
    routine: list[tuple[Sample, str, datetime, dict]] = field(default_factory=list)

    @property
    def today(self) -> date:
        return timezone.localdate(self.now)

    @property
    def county(self) -> Region:
        return self.users["county_admin"].region

    @property
    def reviewer(self) -> str:
        staff = self.users["lab_staff"]
        return f"{staff.last_name}{staff.first_name}"

    def barcode(self, prefix: str) -> str:
        self.serials[prefix] += 1
        return f"{prefix}{self.serials[prefix]:07d}"

    def minutes(self, low: int, high: int) -> timedelta:
        return timedelta(minutes=self.rng.randint(low, high))

    def due(self, purpose: str, start: datetime) -> datetime:
        return services.due_time(purpose, start, self.hours)


def build_lab(seed: int, *, now: datetime | None = None) -> LabSummary:
    """Add sampling and testing to the demo county already in the database (module
    docstring)."""
    now = now or timezone.now().replace(minute=0, second=0, microsecond=0)
    if now > timezone.now():
        raise ValueError("now is later than the clock: the services refuse future collections")
    with transaction.atomic():
        desk = load_desk(seed, now)
        name = CAMPAIGN_NAME.format(county=desk.county.name)
        if Campaign.objects.filter(name=name).exists():
            raise ValueError(f"the lab demo is already built ({name} exists)")
        round_ = open_screening(desk, name)
        sites = create_sites(desk, round_.campaign)
        exempt_persons(desk, round_)
        tubes = fill_tubes(desk, round_, sites)
        mark_tested(round_)
        pools = draw_results(desk, tubes)
        store(desk, [(t.sample, t.result, t.result_at, t.ct_values) for t in tubes], "筛查结果")
        retests = retest_pools(desk, pools)
        fever_clinic(desk)
        wards(desk)
        key_group(desk)
        environment(desk)
        store_routine(desk)
        services.open_late_result_tasks(now)
        deadlines.alert_overdue(now)
    targets = ScreeningTarget.objects.filter(round=round_, expected=True)
    return LabSummary(
        sites=len(sites),
        expected=round_.expected,
        tested=targets.filter(status=ScreeningTarget.Status.TESTED).count(),
        exempt=targets.filter(status=ScreeningTarget.Status.EXEMPT).count(),
        tubes=len(tubes),
        positive_pools=len(pools),
        invalid_tubes=sum(t.result == Result.INVALID for t in tubes),
        retests=len(retests),
        suspected_cases=sum(s.result == Result.POSITIVE for s in retests),
        routine_samples=len(desk.routine),
        pending_late=Sample.objects.late(now).count(),
        environmental=len(ENVIRONMENT),
        result_files=desk.files,
    )


def load_desk(seed: int, now: datetime) -> Desk:
    users = {u.username: u for u in User.objects.filter(username__in=ACTORS)}
    missing = set(ACTORS) - set(users)
    if missing:
        raise ValueError(f"demo users missing: {', '.join(sorted(missing))}; run build_demo")
    return Desk(
        now=now,
        rng=random.Random(seed),
        users=users,
        regions=Region.objects.in_bulk(),
        lab=users["lab_staff"].organisation,
        hospital=users["clinician"].organisation,
        hours=services.turnaround_hours(),
        persons=list(
            Person.objects.filter(grid__isnull=False).order_by("id").values_list("id", flat=True)
        ),
    )


# --- The mass screening ------------------------------------------------------------------


def open_screening(desk: Desk, name: str) -> Round:
    """The campaign and its round over the two days before today (everyone registered in
    the county expected), as the county's screening office set them up the evening before."""
    admin = desk.users["county_admin"]
    first = desk.today - timedelta(days=SCREENING_DAYS)
    last = desk.today - timedelta(days=1)
    campaign = services.create_campaign(
        admin, name=name, region=desk.county, start_date=first, end_date=last, pool_size=POOL_SIZE
    )
    announced = local_day_start(first) - timedelta(hours=6)
    Campaign.objects.filter(pk=campaign.pk).update(created_at=announced)
    return services.open_round(admin, campaign, start_date=first, end_date=last)


def create_sites(desk: Desk, campaign: Campaign) -> dict[int, CollectionSite]:
    """A site per village or community, serving its grids, run by its clinic; the demo grid
    workers on the staff of their villages' sites. Returns village id → site."""
    grids = defaultdict(list)
    for region in desk.regions.values():
        if region.level == Region.Level.GRID:
            grids[region.parent_id].append(region)
    clinics = {
        o.region_id: o for o in Organisation.objects.filter(type=Organisation.Type.VILLAGE_CLINIC)
    }
    villages = sorted((desk.regions[pk] for pk in grids), key=lambda r: r.path)
    sites = CollectionSite.objects.bulk_create(
        CollectionSite(
            campaign=campaign,
            name=f"{village.name}核酸采样点",
            region=village,
            address=f"{village.full_name}便民服务中心",
            organisation=clinics.get(village.pk),
        )
        for village in villages
    )
    CollectionSite.grids.through.objects.bulk_create(
        CollectionSite.grids.through(collectionsite_id=site.pk, region_id=grid.pk)
        for site in sites
        for grid in sorted(grids[site.region_id], key=lambda r: r.path)
    )
    by_village = {site.region_id: site for site in sites}
    CollectionSite.staff.through.objects.bulk_create(
        CollectionSite.staff.through(
            collectionsite_id=by_village[desk.regions[user.region_id].parent_id].pk,
            user_id=user.pk,
        )
        for user in (desk.users["grid_a1"], desk.users["grid_b1"])
    )
    return by_village


def exempt_persons(desk: Desk, round_: Round) -> int:
    """Exemptions through `services.exempt`: persons tested where they are held, medical
    staff (their units test them weekly) and a few at random."""
    Reason = ScreeningTarget.ExemptReason
    held = set(
        Measure.objects.active().filter(room__isnull=False).values_list("person_id", flat=True)
    )
    patients = set(
        CaseReport.objects.alive()
        .filter(disease__code="covid19")
        .values_list("person_id", flat=True)
    )
    medical = set(Person.objects.filter(key_groups__code=KEY_GROUP).values_list("id", flat=True))
    expected = list(
        round_.targets.filter(expected=True)
        .order_by("person_id")
        .values_list("person_id", flat=True)
    )
    reasons: dict[int, tuple[str, str]] = {}
    for person_id in expected:
        if person_id in held:
            reasons[person_id] = (Reason.UNDER_CONTROL, "在集中隔离场所按管控方案检测")
        elif person_id in patients:
            reasons[person_id] = (Reason.UNDER_CONTROL, "病例，在定点医院检测")
        elif person_id in medical:
            reasons[person_id] = (Reason.OTHER, "医务人员由所在单位每周检测")
    others = [p for p in expected if p not in reasons]
    few = desk.rng.sample(others, min(len(others), max(3, round(len(expected) * FEW_EXEMPT))))
    births = dict(Person.objects.filter(pk__in=few).values_list("id", "birth_date"))
    for person_id in sorted(few):
        born = births.get(person_id)
        age = (desk.today - born).days // 365 if born else 40
        if age < 1:
            reasons[person_id] = (Reason.INFANT, "")
        elif age >= 80:
            reasons[person_id] = (Reason.BEDRIDDEN, "已约上门采样")
        else:
            reason = desk.rng.choice([Reason.AWAY, Reason.TESTED_ELSEWHERE])
            reasons[person_id] = (reason, "")
    actor = desk.users["county_admin"]
    targets = round_.targets.filter(person_id__in=reasons).order_by("person_id")
    for target in targets:
        reason, note = reasons[target.person_id]
        services.exempt(actor, target, reason=reason, note=note)
    return len(reasons)


def site_moment(desk: Desk, day: date) -> datetime:
    hour = desk.rng.choices(range(7, 7 + len(SITE_HOURS)), weights=SITE_HOURS)[0]
    return local_day_start(day) + timedelta(hours=hour) + desk.minutes(0, 59)


def fill_tubes(desk: Desk, round_: Round, sites: dict[int, CollectionSite]) -> list[Tube]:
    """`TESTED_SHARE` of the expected sampled in 10-in-1 tubes at their village's site, grid
    by grid in id (household) order, on either day; bulk-written as `collect_sample` writes
    them (tube, members), with the lab's receipt and its result to come."""
    rng = desk.rng
    waiting = list(
        round_.targets.filter(expected=True, status=ScreeningTarget.Status.UNTESTED)
        .order_by("person_id")
        .values_list("person_id", "grid_id")
    )
    tested = min(len(waiting), round(round_.expected * TESTED_SHARE))
    missed = set(rng.sample([p for p, _ in waiting], len(waiting) - tested))
    by_grid = defaultdict(list)
    for person_id, grid_id in waiting:
        if person_id not in missed:
            by_grid[grid_id].append(person_id)
    days = [round_.start_date + timedelta(days=n) for n in range(SCREENING_DAYS)]
    tubes = []
    for grid_id in sorted(by_grid, key=lambda pk: desk.regions[pk].path):
        grid, persons = desk.regions[grid_id], by_grid[grid_id]
        site = sites[grid.parent_id]
        for start in range(0, len(persons), POOL_SIZE):
            collected = site_moment(desk, rng.choice(days))
            received = collected + desk.minutes(60, 180)
            due = desk.due(Purpose.MASS_SCREENING, received)
            if rng.random() < SCREENING_LATE:
                result_at = due + desk.minutes(20, 240)
            else:
                result_at = received + desk.minutes(120, 600)
            sample = Sample(
                barcode=desk.barcode("QY"),
                sample_type=SampleType.OROPHARYNGEAL,
                purpose=Purpose.MASS_SCREENING,
                pool_size=POOL_SIZE,
                collected_at=collected,
                region_id=site.region_id,
                site=site,
                round=round_,
                collecting_organisation_id=site.organisation_id,
                lab=desk.lab,
                received_at=received,
                due_at=due,
            )
            result_at = max(min(result_at, desk.now - SLACK), received + timedelta(minutes=30))
            tubes.append(Tube(sample, grid, persons[start : start + POOL_SIZE], result_at))
    Sample.objects.bulk_create([t.sample for t in tubes], batch_size=2000)
    Examinee.objects.bulk_create(
        (
            Examinee(
                sample=tube.sample,
                person_id=person_id,
                position=position,
                collected_at=tube.sample.collected_at,
            )
            for tube in tubes
            for position, person_id in enumerate(tube.members, start=1)
        ),
        batch_size=5000,
    )
    return tubes


def mark_tested(round_: Round) -> int:
    """The round's targets of the sampled persons tested, at their tube's time and site, as
    `services.mark_screened` does: one statement."""
    examined = Examinee.objects.filter(sample__round=round_)
    own = examined.filter(person=OuterRef("person_id"))
    return (
        ScreeningTarget.objects.filter(round=round_, person__in=examined.values("person"))
        .exclude(status=ScreeningTarget.Status.TESTED)
        .update(
            status=ScreeningTarget.Status.TESTED,
            tested_at=Subquery(own.values("collected_at")[:1]),
            site=Subquery(own.values("sample__site")[:1]),
            exempt_reason="",
        )
    )


def draw_results(desk: Desk, tubes: list[Tube]) -> list[Tube]:
    """A few full tubes of persons free of measures, cases and contact tracing positive
    (one in grid_a1's grid and one in each demo township when there is one), a couple
    invalid; returns the positive pools."""
    rng, users = desk.rng, desk.users
    busy = (
        set(Measure.objects.open().values_list("person_id", flat=True))
        | set(CaseReport.objects.values_list("person_id", flat=True))
        | set(Contact.objects.values_list("person_id", flat=True))
    )
    free = [t for t in tubes if len(t.members) == POOL_SIZE and busy.isdisjoint(t.members)]
    wanted = [
        lambda t: t.grid.pk == users["grid_a1"].region_id,
        lambda t: t.grid.path.startswith(users["street_a"].region.path),
        lambda t: not t.grid.path.startswith(users["street_a"].region.path),
    ]
    pools: list[Tube] = []
    for test in wanted:
        options = [t for t in free if test(t) and t not in pools]
        if options:
            pools.append(rng.choice(options))
    others = [t for t in free if t not in pools]
    pools += rng.sample(others, min(len(others), POSITIVE_POOLS - len(pools)))
    for tube in pools:
        tube.result = Result.POSITIVE
        tube.ct_values = {"ORF1ab": ct(rng, 29, 35), "N": ct(rng, 28, 34)}
    negatives = [t for t in tubes if t.result == Result.NEGATIVE]
    for tube in rng.sample(negatives, min(len(negatives), INVALID_TUBES)):
        tube.result = Result.INVALID
    return pools


def ct(rng: random.Random, low: float, high: float) -> float:
    return round(rng.uniform(low, high), 1)


def store(desk: Desk, results: list[tuple[Sample, str, datetime, dict]], title: str) -> None:
    """One file of the lab, through `services.store_results` (all or nothing)."""
    rows = [
        ResultRow(
            line=line,
            barcode=sample.barcode,
            result=result,
            result_at=result_at,
            ct_values=ct_values,
            method=Method.RT_PCR,
            reviewer=desk.reviewer,
        )
        for line, (sample, result, result_at, ct_values) in enumerate(results, start=2)
    ]
    log = services.store_results(
        desk.users["lab_staff"], desk.lab, rows, file_name=f"{desk.lab.name}_{title}.csv"
    )
    if log.outcome != ResultImport.Outcome.SAVED:
        raise RuntimeError(f"demo results refused: {log.problems[:5]}")
    desk.files += 1


def retest_pools(desk: Desk, pools: list[Tube]) -> list[Sample]:
    """Single tubes for every member of the latest positive pool resulted long enough ago
    (one of them positive) and for two members of another, collected by the CDC
    (`services.collect_sample`, which closes each member's re-test duty); their results in
    one file."""
    rng = desk.rng
    settled = sorted(
        (t for t in pools if t.result_at <= desk.now - timedelta(hours=5)),
        key=lambda t: t.result_at,
    )
    if not settled:
        return []
    whole = settled[-1]
    partly = next((t for t in reversed(settled) if t is not whole), None)
    plan = [(whole, whole.members)]
    if partly is not None:
        plan.append((partly, partly.members[:2]))
    positive = rng.choice(whole.members)
    persons = Person.objects.in_bulk([p for _tube, members in plan for p in members])
    results, retests = [], []
    for tube, members in plan:
        for person_id in members:
            collected = min(tube.result_at + desk.minutes(50, 110), desk.now - timedelta(hours=3))
            sample = services.collect_sample(
                desk.users["cdc_epi"],
                barcode=desk.barcode("FH"),
                purpose=Purpose.POOL_RETEST,
                persons=[persons[person_id]],
                sample_type=SampleType.NASOPHARYNGEAL,
                collected_at=collected,
                lab=desk.lab,
            )
            if person_id == positive:
                result, values = Result.POSITIVE, {"ORF1ab": ct(rng, 24, 29), "N": ct(rng, 23, 28)}
            else:
                result, values = Result.NEGATIVE, {}
            results.append((sample, result, collected + desk.minutes(100, 170), values))
            retests.append(sample)
    store(desk, results, "混采阳性单管复核结果")
    for sample, result, *_rest in results:
        sample.result = result
    return retests


# --- Routine testing ---------------------------------------------------------------------


def routine_tube(
    desk: Desk,
    purpose: str,
    collected: datetime,
    *,
    sample_type: str = SampleType.OROPHARYNGEAL,
    prefix: str,
) -> Sample:
    """A single tube of the county hospital, received by the lab within the hour."""
    received = collected + desk.minutes(20, 60)
    return Sample(
        barcode=desk.barcode(prefix),
        sample_type=sample_type,
        purpose=purpose,
        pool_size=1,
        collected_at=collected,
        region_id=desk.hospital.region_id,
        collecting_organisation=desk.hospital,
        collector=desk.users["clinician"],
        lab=desk.lab,
        received_at=received,
        due_at=desk.due(purpose, received),
    )


def write_routine(tubes: list[tuple[Sample, int]]) -> None:
    """Single tubes and their persons, as `collect_sample` writes them."""
    Sample.objects.bulk_create([sample for sample, _person in tubes], batch_size=2000)
    Examinee.objects.bulk_create(
        Examinee(sample=sample, person_id=person_id, position=1, collected_at=sample.collected_at)
        for sample, person_id in tubes
    )


def resulted(desk: Desk, sample: Sample, result_at: datetime) -> None:
    """Queue the tube's negative result for the lab's file of that day, unless the clock has
    not reached it and the tube is not due yet (then it waits). A tube already late gets its
    result just before now, so that only the chosen ones are pending and late."""
    if result_at > desk.now - SLACK:
        if sample.due_at >= desk.now:
            return
        result_at = desk.now - SLACK
    desk.routine.append((sample, Result.NEGATIVE, result_at, {}))


def fever_clinic(desk: Desk) -> None:
    """About 20 a day over the last 7 days (today's up to now), results within the 6 hours
    but for a few; three more, taken 7½ to 10 hours ago, still waiting."""
    rng = desk.rng
    tubes = []
    for days_ago in range(ROUTINE_DAYS - 1, -1, -1):
        day = desk.today - timedelta(days=days_ago)
        for _n in range(FEVER_PER_DAY + rng.randint(-4, 4)):
            collected = local_day_start(day) + timedelta(hours=8) + desk.minutes(0, 14 * 60)
            if collected > desk.now - timedelta(minutes=30):
                continue
            sample = routine_tube(
                desk,
                Purpose.FEVER_CLINIC,
                collected,
                sample_type=SampleType.NASOPHARYNGEAL,
                prefix="FR",
            )
            tubes.append((sample, rng.choice(desk.persons)))
            if rng.random() < FEVER_LATE:
                resulted(desk, sample, sample.due_at + desk.minutes(15, 240))
            else:
                resulted(desk, sample, sample.received_at + desk.minutes(90, 300))
    for _n in range(PENDING_LATE):
        collected = desk.now - desk.minutes(7 * 60 + 30, 10 * 60)
        sample = routine_tube(
            desk,
            Purpose.FEVER_CLINIC,
            collected,
            sample_type=SampleType.NASOPHARYNGEAL,
            prefix="FR",
        )
        tubes.append((sample, rng.choice(desk.persons)))
    write_routine(tubes)


def wards(desk: Desk) -> None:
    """A few outpatients and new inpatients over the week, resulted within their 12 hours."""
    rng = desk.rng
    tubes = []
    for purpose, count, prefix in (
        (Purpose.OUTPATIENT, OUTPATIENTS, "MZ"),
        (Purpose.INPATIENT, INPATIENTS, "ZY"),
    ):
        for _n in range(count):
            day = desk.today - timedelta(days=rng.randint(1, ROUTINE_DAYS - 1))
            collected = local_day_start(day) + timedelta(hours=8) + desk.minutes(0, 9 * 60)
            sample = routine_tube(desk, purpose, collected, prefix=prefix)
            tubes.append((sample, rng.choice(desk.persons)))
            resulted(desk, sample, sample.received_at + desk.minutes(180, 540))
    write_routine(tubes)


def key_group(desk: Desk) -> None:
    """Every medical staff member tested at work 2 to 10 days ago, negative."""
    staff = Person.objects.filter(key_groups__code=KEY_GROUP, grid__isnull=False)
    tubes = []
    for person_id in staff.order_by("id").values_list("id", flat=True):
        day = desk.today - timedelta(days=desk.rng.randint(*KEY_GROUP_DAYS_AGO))
        collected = local_day_start(day) + timedelta(hours=8) + desk.minutes(0, 180)
        sample = routine_tube(desk, Purpose.KEY_GROUP, collected, prefix="ZD")
        tubes.append((sample, person_id))
        resulted(desk, sample, sample.received_at + desk.minutes(180, 480))
    write_routine(tubes)


def environment(desk: Desk) -> None:
    """Swabs at two markets on the round's second day, taken by the CDC
    (`services.collect_sample`, received by `services.receive_samples`); one positive."""
    day = desk.today - timedelta(days=1)
    markets = Place.objects.filter(type=Place.Type.MARKET).order_by("id")[: len(ENVIRONMENT)]
    for index, (place, (swabbed, positive)) in enumerate(zip(markets, ENVIRONMENT, strict=False)):
        collected = local_day_start(day) + timedelta(hours=10, minutes=20 * index)
        sample = services.collect_sample(
            desk.users["cdc_epi"],
            barcode=desk.barcode("HJ"),
            purpose=Purpose.ENVIRONMENTAL,
            place=place,
            object_description=swabbed,
            collected_at=collected,
            lab=desk.lab,
        )
        received = collected + timedelta(hours=2)
        services.receive_samples(desk.users["lab_staff"], desk.lab, [sample.barcode], at=received)
        values = {"ORF1ab": ct(desk.rng, 33, 37), "N": ct(desk.rng, 32, 36)} if positive else {}
        result = Result.POSITIVE if positive else Result.NEGATIVE
        desk.routine.append((sample, result, received + desk.minutes(240, 360), values))


def store_routine(desk: Desk) -> None:
    """The routine results in the lab's daily files, oldest first."""
    by_day = defaultdict(list)
    for item in sorted(desk.routine, key=lambda item: (item[2], item[0].barcode)):
        by_day[timezone.localdate(item[2])].append(item)
    for day, results in sorted(by_day.items()):
        store(desk, results, f"日常检测结果_{day:%Y%m%d}")
