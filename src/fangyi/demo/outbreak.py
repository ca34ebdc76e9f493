"""A demo outbreak on top of the demo county (`build.build_demo`): the months a county CDC
would have behind it when someone opens the demo.

- `cases` report cards over the last ~120 days (influenza, HFMD, bacillary dysentery,
  tuberculosis, COVID-19, scarlet fever, mumps), reported by the demo clinician's hospital
  and reviewed by the demo CDC reviewer — most reviewed, some waiting for review, a few
  drafts — made through the real case services (`cases.services`), so every card has its
  audit trail and its report, review and investigation tasks;
- among them a COVID-19 cluster of `cluster_cases` cases in the first township (street_a's)
  over 4–5 generations, with the transmission links (CaseLink) and investigations;
- `contacts` close contacts and contacts of close contacts of the cluster, persons of the
  county who are not cases, most placed under control in time, some late, a handful not
  yet — bulk-inserted, with their control tasks, in a fixed number of queries.

The services stamp the real clock; the history of each card (times on the card, its tasks
and its change log) is then moved back to when it happened, relative to `now`. Every draw
comes from `random.Random(seed)` over persons taken in id order, so the same seed on the
same demo county (and the same `now`) gives the same outbreak. Without `now`, the current
time floored to the hour is used.
"""

from __future__ import annotations

import importlib.util
import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.utils import timezone

from fangyi.accounts.models import User
from fangyi.cases import services
from fangyi.cases.models import CaseReport
from fangyi.core import deadlines
from fangyi.core.models import ChangeLog, Duty, Task
from fangyi.diseases.models import Classification, Disease
from fangyi.geo.models import Organisation, Place, Region
from fangyi.people.models import Person
from fangyi.tracing.models import CaseLink, Contact, Investigation

# Sporadic cases by disease (relative weights) and who gets them (age range in years).
DISEASE_MIX = [
    ("influenza", 30, (0, 95)),
    ("hfmd", 20, (0, 5)),
    ("tuberculosis", 14, (15, 95)),
    ("bacillary_dysentery", 10, (0, 95)),
    ("covid19", 10, (0, 95)),
    ("scarlet_fever", 8, (3, 14)),
    ("mumps", 8, (3, 18)),
]
CLASSIFICATION_WEIGHTS = {
    Classification.CONFIRMED: 5,
    Classification.CLINICAL: 4,
    Classification.SUSPECTED: 1,
    Classification.ASYMPTOMATIC: 1,
}
ADULT_OCCUPATIONS = ["农民", "工人", "商业服务", "家务及待业", "干部职员", "餐饮食品业", "教师"]
HISTORY_DAYS = 120
CLUSTER_DISEASE = "covid19"
# Share of close contacts among all contacts; the rest are contacts of close contacts.
CLOSE_CONTACT_SHARE = 0.65
CONTACT_SETTINGS = [
    (Contact.Setting.HOUSEHOLD, "家属", 30),
    (Contact.Setting.WORKPLACE, "同事", 20),
    (Contact.Setting.GATHERING, "朋友", 20),
    (Contact.Setting.TRANSPORT, "同乘人员", 10),
    (Contact.Setting.PUBLIC_PLACE, "", 10),
    (Contact.Setting.SCHOOL, "同学", 5),
    (Contact.Setting.MEDICAL, "", 5),
]


@dataclass
class OutbreakSummary:
    cases: int
    drafts: int
    submitted: int
    reviewed: int
    cluster_cases: int
    generations: int
    links: int
    contacts: int
    second_degree: int
    controlled: int
    overdue_tasks: int


@dataclass
class PlannedCase:
    person_id: int
    disease: str
    classification: str
    diagnosed_at: datetime
    onset: date | None
    occupation: str
    # None: not done (yet). Moments after `now` are dropped too.
    submitted_at: datetime | None
    reviewed_at: datetime | None
    investigated_at: datetime | None
    generation: int | None = None  # cluster cases only
    infector: int | None = None  # index into the plan of the infecting case
    case: CaseReport | None = None


@dataclass
class PersonRow:
    id: int
    grid_id: int
    birth_date: date | None


def build_outbreak(
    seed: int,
    *,
    cases: int = 300,
    cluster_cases: int = 50,
    contacts: int = 1500,
    now: datetime | None = None,
) -> OutbreakSummary:
    """Add the outbreak to the demo county already in the database (module docstring)."""
    if not 1 <= cluster_cases <= cases:
        raise ValueError("cluster_cases must be between 1 and cases")
    now = now or timezone.now().replace(minute=0, second=0, microsecond=0)
    rng = random.Random(seed)
    users = {u.username: u for u in User.objects.filter(username__in=DEMO_ACTORS)}
    missing = set(DEMO_ACTORS) - set(users)
    if missing:
        raise ValueError(f"demo users missing: {', '.join(sorted(missing))}; run build_demo")
    with transaction.atomic():
        world = World.load()
        plan = plan_cases(rng, world, now, cases=cases, cluster_cases=cluster_cases)
        report_cases(plan, users, world)
        investigated = backdate_cases(plan)
        investigations_and_links(plan, investigated, users["cdc_epi"], world)
        contact_rows = add_contacts(rng, world, plan, now, contacts, users["cdc_epi"])
        deadlines.alert_overdue(now)
        if importlib.util.find_spec("fangyi.tracing.clusters") is not None:
            from fangyi.tracing import clusters

            clusters.recompute_all()
    cluster = [p for p in plan if p.generation is not None]
    return OutbreakSummary(
        cases=len(plan),
        drafts=sum(p.submitted_at is None for p in plan),
        submitted=sum(p.submitted_at is not None and p.reviewed_at is None for p in plan),
        reviewed=sum(p.reviewed_at is not None for p in plan),
        cluster_cases=len(cluster),
        generations=1 + max(p.generation for p in cluster),
        links=sum(p.infector is not None for p in cluster),
        contacts=len(contact_rows),
        second_degree=sum(c.source_contact_id is not None for c in contact_rows),
        controlled=sum(c.controlled_at is not None for c in contact_rows),
        overdue_tasks=Task.objects.overdue(now).count(),
    )


DEMO_ACTORS = ("clinician", "cdc_reviewer", "cdc_epi")


@dataclass
class World:
    """What the outbreak is drawn from: persons (id order), regions, the cluster township."""

    persons: list[PersonRow]
    township_of_grid: dict[int, int]
    village_of_grid: dict[int, int]
    committee_of_village: dict[int, int]
    cluster_township: Region
    market: Place | None
    diseases: dict[str, Disease]

    @classmethod
    def load(cls) -> World:
        taken = CaseReport.objects.values("person_id")
        persons = [
            PersonRow(*row)
            for row in Person.objects.exclude(pk__in=taken)
            .order_by("id")
            .values_list("id", "grid_id", "birth_date")
        ]
        regions = {r.id: r for r in Region.objects.only("id", "parent_id", "level", "path")}
        township_of_grid, village_of_grid = {}, {}
        for region in regions.values():
            if region.level == Region.Level.GRID:
                village = regions[region.parent_id]
                village_of_grid[region.id] = village.id
                township_of_grid[region.id] = village.parent_id
        township = min(
            (r for r in regions.values() if r.level == Region.Level.TOWNSHIP),
            key=lambda r: r.path,
        )
        committees = Organisation.objects.filter(type=Organisation.Type.VILLAGE_COMMITTEE)
        return cls(
            persons=persons,
            township_of_grid=township_of_grid,
            village_of_grid=village_of_grid,
            committee_of_village=dict(committees.values_list("region_id", "id")),
            cluster_township=township,
            market=Place.objects.filter(region=township, type=Place.Type.MARKET)
            .order_by("id")
            .first(),
            diseases=Disease.objects.in_bulk(
                [code for code, _, _ in DISEASE_MIX] + [CLUSTER_DISEASE], field_name="code"
            ),
        )

    def in_cluster_township(self, person: PersonRow) -> bool:
        return self.township_of_grid.get(person.grid_id) == self.cluster_township.id


# --- Planning (pure: random draws only) ----------------------------------------------


def _hours(value: float) -> timedelta:
    return timedelta(hours=value)


def _age(person: PersonRow, on: date) -> int | None:
    if person.birth_date is None:
        return None
    years = on.year - person.birth_date.year
    return years - ((on.month, on.day) < (person.birth_date.month, person.birth_date.day))


def _occupation(rng: random.Random, age: int | None) -> str:
    if age is None:
        return rng.choice(ADULT_OCCUPATIONS)
    if age < 3:
        return "散居儿童"
    if age < 7:
        return "幼托儿童"
    if age < 19:
        return "学生"
    if age >= 60:
        return "离退人员" if rng.random() < 0.6 else "农民"
    return rng.choice(ADULT_OCCUPATIONS)


def _classification(rng: random.Random, disease: Disease) -> str:
    allowed = [(c, w) for c, w in CLASSIFICATION_WEIGHTS.items() if disease.allows(c)]
    choices, weights = zip(*allowed, strict=True)
    return rng.choices(choices, weights)[0]


def _daytime(rng: random.Random, moment: datetime) -> datetime:
    """The same day, at a clinic hour (08:00–20:59 local)."""
    local = timezone.localtime(moment)
    return local.replace(
        hour=rng.randint(8, 20), minute=rng.randint(0, 59), second=0, microsecond=0
    )


def generation_sizes(cases: int) -> list[int]:
    """An index case, then generations growing about twofold: 4–5 generations in all (fewer
    only when there are too few cases)."""
    generations = min(5 if cases >= 20 else 4, cases)
    if generations == 1:
        return [1]
    weights = [2**g for g in range(1, generations)]
    rest = cases - 1
    sizes = [max(1, round(rest * w / sum(weights))) for w in weights]
    sizes[-1] += rest - sum(sizes)
    return [1, *sizes]


def plan_cases(
    rng: random.Random, world: World, now: datetime, *, cases: int, cluster_cases: int
) -> list[PlannedCase]:
    """The cluster first (index case first), then the sporadic cases."""
    cluster_pool = [p for p in world.persons if world.in_cluster_township(p)]
    if len(cluster_pool) < cluster_cases:
        raise ValueError("not enough persons in the first township for the cluster")
    cluster_persons = rng.sample(cluster_pool, cluster_cases)
    chosen = {p.id for p in cluster_persons}
    plan = plan_cluster(rng, world, now, cluster_persons)
    others = [p for p in world.persons if p.id not in chosen]
    plan += plan_sporadic(rng, world, now, cases - cluster_cases, others)
    return plan


def plan_cluster(
    rng: random.Random, world: World, now: datetime, persons: list[PersonRow]
) -> list[PlannedCase]:
    """COVID-19 spreading in generations about 3.5 days apart, the last one diagnosed in the
    last few days: cards reported and reviewed within hours, as in an outbreak."""
    sizes = generation_sizes(len(persons))
    disease = world.diseases[CLUSTER_DISEASE]
    first = now - timedelta(days=3.5 * (len(sizes) - 1) + 2)
    plan: list[PlannedCase] = []
    previous: list[int] = []
    people = iter(persons)
    for generation, size in enumerate(sizes):
        current = []
        for _ in range(size):
            person = next(people)
            centre = first + timedelta(days=3.5 * generation + rng.uniform(-1, 1))
            diagnosed = min(_daytime(rng, centre), now - _hours(rng.uniform(3, 30)))
            asymptomatic = rng.random() < 0.15
            submitted = diagnosed + _hours(rng.uniform(0.3, 6))
            plan.append(
                PlannedCase(
                    person_id=person.id,
                    disease=CLUSTER_DISEASE,
                    classification=Classification.ASYMPTOMATIC
                    if asymptomatic and disease.allows(Classification.ASYMPTOMATIC)
                    else Classification.CONFIRMED,
                    diagnosed_at=diagnosed,
                    onset=None
                    if asymptomatic
                    else timezone.localdate(diagnosed - timedelta(days=rng.randint(0, 3))),
                    occupation=_occupation(rng, _age(person, now.date())),
                    submitted_at=submitted,
                    reviewed_at=submitted + _hours(rng.uniform(0.5, 10)),
                    investigated_at=submitted + _hours(rng.uniform(2, 20)),
                    generation=generation,
                    infector=rng.choice(previous) if previous else None,
                )
            )
            current.append(len(plan) - 1)
        previous = current
    return [_drop_future(p, now) for p in plan]


# Fates of sporadic cards: (share of cards, at least), in the order they are handed out.
FATES = [
    ("draft_overdue", 0.015, 1),  # not reported, past the 24-hour limit
    ("draft", 0.02, 1),  # diagnosed a few hours ago, card being filled
    ("unreviewed_overdue", 0.02, 1),  # reported days ago, review still to do
    ("unreviewed", 0.05, 1),  # reported today
]


def plan_sporadic(
    rng: random.Random, world: World, now: datetime, count: int, persons: list[PersonRow]
) -> list[PlannedCase]:
    fates = []
    for fate, share, least in FATES:
        fates += [fate] * min(max(least, round(count * share)), count - len(fates))
    fates += ["reviewed"] * (count - len(fates))
    rng.shuffle(fates)
    by_disease = {code: [] for code, _, _ in DISEASE_MIX}
    for person in persons:
        age = _age(person, now.date())
        for code, _, (youngest, oldest) in DISEASE_MIX:
            if age is None or youngest <= age <= oldest:
                by_disease[code].append(person)
    taken: set[int] = set()
    codes, weights = [c for c, _, _ in DISEASE_MIX], [w for _, w, _ in DISEASE_MIX]
    plan = []
    for fate in fates:
        code = rng.choices(codes, weights)[0]
        person = _pick_untaken(rng, by_disease[code], taken) or _pick_untaken(rng, persons, taken)
        if person is None:
            raise ValueError("not enough persons in the demo county for the outbreak")
        taken.add(person.id)
        plan.append(_plan_sporadic_case(rng, world, now, fate, code, person))
    return plan


def _pick_untaken(rng: random.Random, pool: list[PersonRow], taken: set[int]) -> PersonRow | None:
    for _ in range(50):
        if not pool:
            return None
        person = rng.choice(pool)
        if person.id not in taken:
            return person
    free = [p for p in pool if p.id not in taken]
    return rng.choice(free) if free else None


def _plan_sporadic_case(
    rng: random.Random, world: World, now: datetime, fate: str, code: str, person: PersonRow
) -> PlannedCase:
    disease = world.diseases[code]
    # Most cards within the limits; one in ten reported late, fewer reviewed or
    # investigated late.
    report = rng.uniform(0.3, 20) if rng.random() < 0.9 else rng.uniform(24.5, 60)
    review = rng.uniform(0.5, 20) if rng.random() < 0.93 else rng.uniform(25, 72)
    investigate = rng.uniform(3, 22) if rng.random() < 0.9 else rng.uniform(25, 50)
    back = {
        "draft_overdue": _hours(rng.uniform(26, 60)),
        "draft": _hours(rng.uniform(0.5, 10)),
        "unreviewed_overdue": _hours(rng.uniform(48, 110)),
        "unreviewed": _hours(rng.uniform(0.5, 12)),
        "reviewed": timedelta(days=rng.uniform(6, HISTORY_DAYS)),
    }[fate]
    if fate == "reviewed":
        diagnosed = _daytime(rng, now - back)
    else:
        diagnosed = (now - back).replace(second=0, microsecond=0)
    if fate == "unreviewed":
        report = 0.0
    elif fate == "unreviewed_overdue":
        report = rng.uniform(0.3, 20)
    submitted = None if fate.startswith("draft") else diagnosed + _hours(report)
    reviewed = submitted + _hours(review) if fate == "reviewed" else None
    investigated = submitted + _hours(investigate) if submitted else None
    if fate == "unreviewed_overdue":
        investigated = None  # the investigation (when there is one) is late as well
    classification = _classification(rng, disease)
    return _drop_future(
        PlannedCase(
            person_id=person.id,
            disease=code,
            classification=classification,
            diagnosed_at=diagnosed,
            onset=None
            if classification == Classification.ASYMPTOMATIC
            else timezone.localdate(diagnosed - timedelta(days=rng.randint(0, 4))),
            occupation=_occupation(rng, _age(person, now.date())),
            submitted_at=submitted,
            reviewed_at=reviewed,
            investigated_at=investigated,
        ),
        now,
    )


def _drop_future(case: PlannedCase, now: datetime) -> PlannedCase:
    """Steps that would happen after `now` have not happened yet."""
    if case.submitted_at is not None and case.submitted_at > now:
        case.submitted_at = None
    if case.submitted_at is None or (case.reviewed_at and case.reviewed_at > now):
        case.reviewed_at = None
    if case.submitted_at is None or (case.investigated_at and case.investigated_at > now):
        case.investigated_at = None
    return case


# --- Writing --------------------------------------------------------------------------


def report_cases(plan: list[PlannedCase], users: dict[str, User], world: World) -> None:
    """Each card through the case services: create (and submit), review."""
    clinician, reviewer = users["clinician"], users["cdc_reviewer"]
    persons = Person.objects.select_related("grid").in_bulk([p.person_id for p in plan])
    for planned in plan:
        person = persons[planned.person_id]
        data = {
            "person": person,
            "disease": world.diseases[planned.disease],
            "classification": planned.classification,
            "onset_date": planned.onset,
            "diagnosed_at": planned.diagnosed_at,
            "occupation": planned.occupation,
            "address_at_onset": person.address,
            "reporting_doctor": clinician.get_full_name(),
        }
        case = services.create_case(clinician, data, submit=planned.submitted_at is not None)
        if planned.reviewed_at is not None:
            services.review_case(reviewer, case)
        if planned.investigated_at is not None:
            deadlines.close_task(case, Duty.INVESTIGATE_CASE, done_at=planned.investigated_at)
        planned.case = case


def backdate_cases(plan: list[PlannedCase]) -> set[int]:
    """Move each card's history (card times, task times, change log) back to the planned
    moments; a fixed number of queries. Returns the cards with an investigation task."""
    cases = []
    for planned in plan:
        case = planned.case
        first_step = planned.submitted_at or planned.diagnosed_at + timedelta(minutes=20)
        case.created_at = min(planned.diagnosed_at + timedelta(minutes=10), first_step)
        case.submitted_at = planned.submitted_at
        case.reviewed_at = planned.reviewed_at
        cases.append(case)
    CaseReport.objects.bulk_update(cases, ["created_at", "submitted_at", "reviewed_at"])

    by_case = {p.case.pk: p for p in plan}
    tasks = list(
        Task.objects.filter(
            content_type=ContentType.objects.get_for_model(CaseReport), object_id__in=by_case
        )
    )
    for task in tasks:
        planned = by_case[task.object_id]
        allowed = task.due_at - task.started_at
        if task.duty == Duty.REPORT_CASE:
            task.done_at = planned.submitted_at
        elif task.duty == Duty.REVIEW_CASE:
            task.started_at, task.done_at = planned.submitted_at, planned.reviewed_at
        elif task.duty == Duty.INVESTIGATE_CASE:
            task.started_at, task.done_at = planned.submitted_at, planned.investigated_at
        task.due_at = task.started_at + allowed
    Task.objects.bulk_update(tasks, ["started_at", "due_at", "done_at"])

    # The change log of a card reads create, submit, review: in that order of ids.
    moments = {p.case.pk: [p.case.created_at, p.submitted_at, p.reviewed_at] for p in plan}
    entries = list(
        ChangeLog.objects.filter(
            content_type=ContentType.objects.get_for_model(CaseReport),
            object_id__in=[str(pk) for pk in by_case],
        ).order_by("id")
    )
    seen: dict[int, int] = {}
    for entry in entries:
        pk = int(entry.object_id)
        position = seen.get(pk, 0)
        seen[pk] = position + 1
        steps = moments[pk]
        if position < len(steps) and steps[position] is not None:
            entry.at = steps[position]
    ChangeLog.objects.bulk_update(entries, ["at"])
    return {task.object_id for task in tasks if task.duty == Duty.INVESTIGATE_CASE}


def investigations_and_links(
    plan: list[PlannedCase], investigated: set[int], investigator: User, world: World
) -> None:
    """The investigation of every card with an investigation task, and who infected whom."""
    investigations = []
    for planned in plan:
        case = planned.case
        if case.pk not in investigated:
            continue
        source_case = plan[planned.infector].case if planned.infector is not None else None
        index_case = planned.generation == 0
        if source_case is not None:
            source_type = Investigation.SourceType.CASE
        elif index_case and world.market is not None:
            source_type = Investigation.SourceType.PLACE
        else:
            source_type = Investigation.SourceType.UNKNOWN
        investigations.append(
            Investigation(
                case=case,
                region_id=case.region_id,
                investigator=investigator,
                suspected_source_type=source_type,
                source_case=source_case,
                source_place=world.market
                if source_type == Investigation.SourceType.PLACE
                else None,
                started_at=planned.submitted_at + timedelta(minutes=30),
                completed_at=planned.investigated_at,
                notes="",
            )
        )
    Investigation.objects.bulk_create(investigations)
    CaseLink.objects.bulk_create(
        CaseLink(
            infector=plan[p.infector].case,
            infectee=p.case,
            created_at=p.investigated_at or p.submitted_at or p.diagnosed_at,
            created_by=investigator,
        )
        for p in plan
        if p.infector is not None
    )


def add_contacts(
    rng: random.Random,
    world: World,
    plan: list[PlannedCase],
    now: datetime,
    count: int,
    registrar: User,
) -> list[Contact]:
    """Close contacts of the cluster's cases and contacts of those, with their control tasks
    (12-hour rule): bulk inserts only."""
    cluster = [p for p in plan if p.generation is not None and p.submitted_at is not None]
    if not cluster or count <= 0:
        return []
    case_persons = {p.person_id for p in plan}
    free = [p for p in world.persons if p.id not in case_persons]
    local = [p for p in free if world.in_cluster_township(p)]
    elsewhere = [p for p in free if not world.in_cluster_township(p)]
    rng.shuffle(local)
    rng.shuffle(elsewhere)
    n_local = min(len(local), round(count * 0.8))
    persons = local[:n_local] + elsewhere[: count - n_local]
    persons += local[n_local : n_local + count - len(persons)]
    if len(persons) < count:
        raise ValueError("not enough persons in the demo county for the contacts")
    rng.shuffle(persons)
    names = dict(Person.objects.filter(pk__in=[p.id for p in persons]).values_list("id", "name"))
    n_close = max(1, round(count * CLOSE_CONTACT_SHARE))
    setting_choices, relations, weights = zip(*CONTACT_SETTINGS, strict=True)
    # A handful registered over 13 hours ago and not reached yet: overdue now.
    unreachable = set(rng.sample(range(count), max(1, count // 200)))
    overdue_by = now - _hours(13)

    def control(index: int, registered: datetime) -> datetime | None:
        if index in unreachable:
            return None
        # Late controls belong to the past weeks; the recent ones are on time or pending.
        late = rng.random() < 0.12 and registered < now - _hours(36)
        controlled = registered + _hours(rng.uniform(12.5, 36) if late else rng.uniform(0.5, 11))
        return controlled if controlled <= now else None

    older_cases = [p for p in cluster if p.submitted_at < overdue_by] or cluster
    close = []
    for index, person in enumerate(persons[:n_close]):
        planned = rng.choice(older_cases if index in unreachable else cluster)
        registered = min(planned.submitted_at + _hours(rng.uniform(1, 16)), now)
        if index in unreachable:
            registered = max(min(registered, overdue_by), planned.submitted_at)
        setting = rng.choices(range(len(setting_choices)), weights)[0]
        close.append(
            Contact(
                person_id=person.id,
                case=planned.case,
                region_id=person.grid_id,
                relation=relations[setting],
                setting=setting_choices[setting],
                last_exposure_at=planned.diagnosed_at - _hours(rng.uniform(0, 72)),
                found_by=Contact.FoundBy.BIG_DATA
                if rng.random() < 0.1
                else Contact.FoundBy.INVESTIGATION,
                registered_at=registered,
                registered_by=registrar,
                controlled_at=control(index, registered),
            )
        )
    Contact.objects.bulk_create(close)
    older_contacts = [c for c in close if c.registered_at < overdue_by] or close
    second = []
    for offset, person in enumerate(persons[n_close:]):
        index = n_close + offset
        source = rng.choice(older_contacts if index in unreachable else close)
        registered = min(source.registered_at + _hours(rng.uniform(2, 24)), now)
        if index in unreachable:
            registered = min(registered, overdue_by)
        registered = max(registered, source.registered_at)
        setting = rng.choices(range(len(setting_choices)), weights)[0]
        second.append(
            Contact(
                person_id=person.id,
                source_contact=source,
                region_id=person.grid_id,
                relation=relations[setting],
                setting=setting_choices[setting],
                last_exposure_at=min(
                    source.last_exposure_at + _hours(rng.uniform(0, 48)), registered
                ),
                registered_at=registered,
                registered_by=registrar,
                controlled_at=control(index, registered),
            )
        )
    Contact.objects.bulk_create(second)
    contacts = close + second
    hours = deadlines.rule_hours(Duty.CONTROL_CONTACT)
    content_type = ContentType.objects.get_for_model(Contact)
    Task.objects.bulk_create(
        Task(
            duty=Duty.CONTROL_CONTACT,
            content_type=content_type,
            object_id=contact.pk,
            subject_label=names[contact.person_id],  # as tracing.services labels them
            region_id=contact.region_id,
            responsible_organisation_id=world.committee_of_village.get(
                world.village_of_grid.get(contact.region_id)
            ),
            started_at=contact.registered_at,
            due_at=contact.registered_at + timedelta(hours=hours),
            done_at=contact.controlled_at,
            status=Task.Status.DONE if contact.controlled_at else Task.Status.OPEN,
        )
        for contact in contacts
    )
    return contacts
