"""Benchmark: an outbreak of 10,000 cases with 1,000,000 contacts in a county of 1,000,000
people; partition it into clusters, draw transmission chains, time the timeliness table.

    make bench NAME=cluster_partition
    BENCH_PERSONS=100000 BENCH_CASES=2000 BENCH_CONTACTS=100000 make bench NAME=cluster_partition

Generation. The database in DATABASE_URL (PostgreSQL only: it is wiped) is reset and the county
with its persons is built exactly as `person_search` builds it (its `reset_database` and
`generate`: demo regions, places, users; persons by `fangyi.demo.synth` and
`build.person_from_row`, loaded with COPY). On top of it, from a fixed seed:

- cases: `BENCH_CASES` COVID-19 cards of distinct persons, onsets over 2026 in three waves,
  2% deleted; each reported, reviewed and investigated, with the three deadline tasks the
  services open (report, review, investigation), some of them late;
- transmission links: in onset order a case is, with probability 0.3, infected by a case of its
  township with onset 2 to 10 days earlier (preferring cases that already infected others:
  some spread widely), about 3,000 links;
- trajectories: each investigated case has three entries over the three days before onset, one
  at a place of its township (the demo's places and three more per village), two elsewhere
  (free text); on top, 150 gatherings put 3 to 8 cases of a township at one place at the same
  time;
- contacts: `BENCH_CONTACTS` in all, per case a fifth close contacts (密接) and the rest their
  contacts (次密接), people of the case's township, loaded with COPY.

Figures.
- `partition_seconds`: `clusters.recompute_all()` on that data, from no clusters at all (every
  cluster created, every clustered case written); `partition_seconds_repeat`: again, nothing
  changed (the nightly job's usual run).
- `chain_ms`: p95 of `clusters.chain_of(case)` + `Graph.as_data(county_admin)` (what the
  chain page computes) for 100 random clustered cases, after 10 of warm-up.
- `timeliness_ms`: p95 of `fangyi.core.timeliness.timeliness_table(county_admin, 2026-01-01,
  2026-12-31)` over 20 runs after 3 of warm-up (`nan` when that function does not exist).
"""

from __future__ import annotations

import os
import random
import time
from datetime import date, datetime, timedelta

SEED = 2026
PERSONS = int(os.environ.get("BENCH_PERSONS", "1000000"))
CASES = int(os.environ.get("BENCH_CASES", "10000"))
CONTACTS = int(os.environ.get("BENCH_CONTACTS", "1000000"))
LINK_PROBABILITY = 0.3
GATHERINGS = 150
CHAIN_RUNS = 100
CHAIN_WARMUP = 10
TIMELINESS_RUNS = 20
YEAR = 2026


def main() -> None:
    from django.db import connection

    from bench.person_search import generate, reset_database

    if connection.vendor != "postgresql":
        raise SystemExit("cluster_partition needs DATABASE_URL pointing at PostgreSQL (wiped)")

    started = time.perf_counter()
    reset_database()
    print(f"reset (drop tables, migrate): {time.perf_counter() - started:.1f} s", flush=True)
    print(f"county of {PERSONS} persons (person_search's generator):", flush=True)
    generate(PERSONS)
    started = time.perf_counter()
    build_outbreak()
    print(f"outbreak built: {time.perf_counter() - started:.1f} s", flush=True)

    partition_seconds, repeat_seconds = measure_partition()
    chain = measure_chains()
    timeliness = measure_timeliness()

    print(f"RESULT partition_seconds {partition_seconds:.2f} s")
    print(f"RESULT partition_seconds_repeat {repeat_seconds:.2f} s")
    print(f"RESULT chain_ms {percentile(chain, 95):.2f} ms")
    if timeliness is None:
        print("RESULT timeliness_ms nan ms")
    else:
        print(f"RESULT timeliness_ms {percentile(timeliness, 95):.2f} ms")


def percentile(values: list[float], p: float) -> float:
    from bench.person_search import percentile as nearest_rank

    return nearest_rank(values, p)


# ---------------------------------------------------------------------------------------------
# The outbreak
# ---------------------------------------------------------------------------------------------


def local(day: date, hour: float = 0.0) -> datetime:
    from django.utils import timezone

    moment = datetime(day.year, day.month, day.day) + timedelta(hours=hour)
    return timezone.make_aware(moment)


def build_outbreak() -> None:
    """Cases, links, investigations with trajectories, tasks, contacts (see the module doc)."""
    import numpy as np
    from django.db import connection, transaction

    from bench.person_search import Stopwatch
    from fangyi.geo.models import Region
    from fangyi.people.models import Person

    rng = random.Random(SEED)
    step = Stopwatch(time.perf_counter())

    regions = list(Region.objects.values_list("pk", "path", "level", "name"))
    township_of_path = {path: pk for pk, path, level, _n in regions if level == "township"}
    township_of_region = {
        pk: township_of_path.get(path[: path.find("/", path.find("/") + 1) + 1])
        for pk, path, _level, _name in regions
    }
    persons = np.array(Person.objects.order_by("pk").values_list("pk", "grid_id"), dtype=np.int64)
    person_township = np.array([township_of_region[g] for g in persons[:, 1].tolist()])
    # Persons of each township, in one shuffled block each: contacts are taken as runs of it.
    order = np.lexsort((np.random.default_rng(SEED).random(len(persons)), person_township))
    shuffled, shuffled_township = persons[order], person_township[order]
    blocks = {  # township → [(person, grid)]
        t: list(map(tuple, shuffled[shuffled_township == t].tolist()))
        for t in sorted(set(township_of_path.values()))
    }
    step(f"loaded {len(persons)} persons by township")

    with transaction.atomic():
        places = make_places(regions)
        cases = make_cases(rng, persons)
        links = make_links(rng, cases, township_of_region)
        make_investigations(rng, cases, places, township_of_region)
        make_tasks(rng, cases)
    step(
        f"{len(cases)} cases, {len(links)} links, investigations, trajectories, tasks"
        f" ({sum(map(len, places.values()))} places)"
    )
    contacts = load_contacts(rng, cases, blocks, township_of_region)
    step(f"COPY {contacts} contacts")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('tracing_contact', 'id'), max(id))"
            " FROM tracing_contact HAVING max(id) IS NOT NULL"
        )
        cursor.execute("VACUUM ANALYZE")
    step("VACUUM ANALYZE")


def make_places(regions: list[tuple]) -> dict[int, list[int]]:
    """Three more places per village; returns place ids by township."""
    from fangyi.geo.models import Place, Region

    kinds = [Place.Type.RESTAURANT, Place.Type.MARKET, Place.Type.WORKPLACE]
    Place.objects.bulk_create(
        Place(
            type=kind,
            name=f"{name}{kind.label}{i + 1}",
            address=f"{name}{i + 1}号",
            region_id=pk,
        )
        for pk, _path, level, name in regions
        if level == Region.Level.VILLAGE
        for i, kind in enumerate(kinds)
    )
    path_of = {pk: path for pk, path, _l, _n in regions}
    township_of_path = {path: pk for pk, path, level, _n in regions if level == "township"}
    by_township: dict[int, list[int]] = {}
    for pk, region_id in Place.objects.order_by("pk").values_list("pk", "region_id"):
        path = path_of[region_id]
        township = township_of_path[path[: path.find("/", path.find("/") + 1) + 1]]
        by_township.setdefault(township, []).append(pk)
    return by_township


def onset_days(rng: random.Random, n: int) -> list[date]:
    """Three waves over the year (spring, summer, winter) over a low background."""
    waves = [(75, 18), (200, 25), (330, 15)]
    days = []
    for _ in range(n):
        if rng.random() < 0.2:
            day = rng.randrange(365)
        else:
            centre, spread = rng.choice(waves)
            day = min(364, max(0, round(rng.gauss(centre, spread))))
        days.append(date(YEAR, 1, 1) + timedelta(days=day))
    return sorted(days)


def make_cases(rng: random.Random, persons) -> list:
    from fangyi.cases.models import CaseReport
    from fangyi.diseases.models import Disease
    from fangyi.geo.models import Organisation

    covid = Disease.objects.get(code="covid19")
    hospital = Organisation.objects.filter(type=Organisation.Type.DESIGNATED_HOSPITAL).first()
    chosen = rng.sample(range(len(persons)), CASES)
    classifications = ["confirmed"] * 14 + ["asymptomatic"] * 5 + ["suspected"]
    cases = []
    for index, onset in zip(chosen, onset_days(rng, CASES), strict=True):
        diagnosed = local(onset + timedelta(days=rng.choice([0, 1, 1, 2, 3])), rng.uniform(8, 20))
        submitted = diagnosed + timedelta(hours=rng.uniform(0.2, 30))
        deleted = rng.random() < 0.02
        cases.append(
            CaseReport(
                person_id=int(persons[index, 0]),
                disease=covid,
                classification=rng.choice(classifications),
                onset_date=onset if rng.random() < 0.95 else None,
                diagnosed_at=diagnosed,
                region_id=int(persons[index, 1]),
                reporting_organisation=hospital,
                status=CaseReport.Status.DELETED if deleted else CaseReport.Status.REVIEWED,
                created_at=diagnosed,
                submitted_at=submitted,
                reviewed_at=submitted + timedelta(hours=rng.uniform(0.5, 30)),
                deleted_at=submitted + timedelta(days=1) if deleted else None,
                deleted_reason="重复报告" if deleted else "",
            )
        )
    return CaseReport.objects.bulk_create(cases, batch_size=2000)


def make_links(rng: random.Random, cases: list, township_of_region: dict) -> list:
    """In onset order, each case is infected with LINK_PROBABILITY by a case of its township
    with an onset 2 to 10 days before; infectors who infected more are likelier again."""
    from django.utils import timezone

    from fangyi.tracing.models import CaseLink

    def day(case) -> date:
        return case.onset_date or timezone.localdate(case.diagnosed_at)

    ordered = sorted(cases, key=lambda c: (day(c), c.pk))
    recent: dict[int, list] = {}
    infected: dict[int, int] = {}
    links = []
    for case in ordered:
        township = township_of_region[case.region_id]
        window = [c for c in recent.get(township, []) if 2 <= (day(case) - day(c)).days <= 10]
        recent[township] = [c for c in recent.get(township, []) if (day(case) - day(c)).days <= 10]
        recent[township].append(case)
        if window and rng.random() < LINK_PROBABILITY:
            weights = [1 + 3 * infected.get(c.pk, 0) for c in window]
            infector = rng.choices(window, weights)[0]
            infected[infector.pk] = infected.get(infector.pk, 0) + 1
            links.append(CaseLink(infector_id=infector.pk, infectee_id=case.pk))
    return CaseLink.objects.bulk_create(links, batch_size=2000)


def make_investigations(
    rng: random.Random, cases: list, places: dict[int, list[int]], township_of_region: dict
) -> None:
    from django.utils import timezone

    from fangyi.tracing.models import Investigation, TrajectoryEntry

    investigated = [c for c in cases if rng.random() < 0.95]
    investigations = Investigation.objects.bulk_create(
        (
            Investigation(
                case_id=c.pk,
                region_id=c.region_id,
                started_at=c.submitted_at + timedelta(hours=1),
                completed_at=c.submitted_at + timedelta(hours=rng.uniform(3, 36)),
            )
            for c in investigated
        ),
        batch_size=2000,
    )
    entries = []
    visits_at: dict[int, list] = {}  # township → (entry index, day) for the gatherings
    for case, investigation in zip(investigated, investigations, strict=True):
        onset = case.onset_date or timezone.localdate(case.diagnosed_at)
        township = township_of_region[case.region_id]
        for days_before in (3, 2, 1):
            start = local(onset - timedelta(days=days_before), rng.uniform(7, 20))
            end = start + timedelta(minutes=rng.choice([30, 60, 90, 120]))
            at_place = days_before == 2
            entries.append(
                TrajectoryEntry(
                    investigation_id=investigation.pk,
                    place_id=rng.choice(places[township]) if at_place else None,
                    place_text="" if at_place else "家中及周边",
                    start=start,
                    end=end,
                )
            )
            if at_place:
                visits_at.setdefault(township, []).append(len(entries) - 1)
    # Gatherings: 3 to 8 cases of a township, close in time, at one place at one time.
    for _ in range(GATHERINGS):
        township = rng.choice(sorted(visits_at))
        indices = sorted(visits_at[township], key=lambda i: entries[i].start)
        size = rng.randint(3, 8)
        first = rng.randrange(max(1, len(indices) - size))
        together = indices[first : first + size]
        place = rng.choice(places[township])
        start = entries[together[0]].start
        for index in together:
            entries[index].place_id = place
            entries[index].start = start + timedelta(minutes=rng.randint(0, 30))
            entries[index].end = entries[index].start + timedelta(hours=1)
    TrajectoryEntry.objects.bulk_create(entries, batch_size=5000)


def make_tasks(rng: random.Random, cases: list) -> None:
    """The three deadline tasks of each card, as the services open and close them."""
    from django.contrib.contenttypes.models import ContentType

    from fangyi.cases.models import CaseReport
    from fangyi.core.deadlines import rule_hours
    from fangyi.core.models import Duty, Task
    from fangyi.geo.models import Organisation

    content_type = ContentType.objects.get_for_model(CaseReport)
    cdc = Organisation.objects.filter(type=Organisation.Type.CDC).first()
    centres = list(Organisation.objects.filter(type=Organisation.Type.TOWNSHIP_HEALTH_CENTRE))
    review_hours = rule_hours(Duty.REVIEW_CASE)
    investigate_hours = rule_hours(Duty.INVESTIGATE_CASE)
    tasks = []
    for case in cases:
        deleted = case.status == CaseReport.Status.DELETED
        for duty, started, hours, done, organisation in (
            (
                Duty.REPORT_CASE,
                case.diagnosed_at,
                24,
                case.submitted_at,
                case.reporting_organisation,
            ),
            (Duty.REVIEW_CASE, case.submitted_at, review_hours, case.reviewed_at, cdc),
            (
                Duty.INVESTIGATE_CASE,
                case.submitted_at,
                investigate_hours,
                case.submitted_at + timedelta(hours=rng.uniform(3, 36)),
                rng.choice(centres),
            ),
        ):
            tasks.append(
                Task(
                    duty=duty,
                    content_type=content_type,
                    object_id=case.pk,
                    subject_label=f"报告卡 {case.pk}",
                    region_id=case.region_id,
                    responsible_organisation=organisation,
                    started_at=started,
                    due_at=started + timedelta(hours=hours),
                    done_at=None if deleted else done,
                    status=Task.Status.CANCELLED if deleted else Task.Status.DONE,
                )
            )
    Task.objects.bulk_create(tasks, batch_size=5000)


def load_contacts(rng: random.Random, cases: list, blocks: dict, township_of_region: dict) -> int:
    """COPY the contacts: per case a fifth close contacts, the rest their contacts, all people
    of the case's township (consecutive runs of its shuffled block: no one twice per case)."""
    from django.db import connection

    from fangyi.tracing.models import Contact

    per_case = CONTACTS // len(cases)
    extra = CONTACTS - per_case * len(cases)  # the first cases get one more
    fields = Contact._meta.concrete_fields
    columns = [f.column for f in fields]
    defaults = {f.attname: f.get_default() for f in fields}
    settings = list(Contact.Setting.values)
    contact_id = 0
    connection.ensure_connection()
    with connection.connection.cursor() as cursor:
        copy_sql = f"COPY tracing_contact ({', '.join(columns)}) FROM STDIN"
        with cursor.copy(copy_sql) as copy:
            for number, case in enumerate(cases):
                count = per_case + (1 if number < extra else 0)
                close = max(1, count // 5)
                block = blocks[township_of_region[case.region_id]]
                offset = rng.randrange(len(block))
                people = [block[(offset + i) % len(block)] for i in range(count)]
                exposed = case.diagnosed_at - timedelta(hours=rng.uniform(12, 72))
                sources = []
                for i, (person_id, grid_id) in enumerate(people):
                    contact_id += 1
                    is_close = i < close
                    source = None if is_close else sources[(i - close) % len(sources)]
                    if is_close:
                        sources.append(contact_id)
                    registered = case.submitted_at + timedelta(hours=rng.uniform(1, 12))
                    row = defaults | {
                        "id": contact_id,
                        "person_id": int(person_id),
                        "case_id": case.pk if is_close else None,
                        "source_contact_id": source,
                        "region_id": int(grid_id),
                        "setting": settings[i % len(settings)],
                        "last_exposure_at": exposed,
                        "registered_at": registered,
                        "controlled_at": registered + timedelta(hours=rng.uniform(1, 14)),
                    }
                    copy.write_row([row[f.attname] for f in fields])
    connection.connection.commit()
    return contact_id


# ---------------------------------------------------------------------------------------------
# Measurements
# ---------------------------------------------------------------------------------------------


def measure_partition() -> tuple[float, float]:
    from django.db.models import Max

    from fangyi.cases.models import CaseReport
    from fangyi.tracing import clusters
    from fangyi.tracing.models import Cluster

    started = time.perf_counter()
    count = clusters.recompute_all()
    first = time.perf_counter() - started
    ids = set(Cluster.objects.values_list("pk", flat=True))
    started = time.perf_counter()
    clusters.recompute_all()
    repeat = time.perf_counter() - started
    if set(Cluster.objects.values_list("pk", flat=True)) != ids:
        raise AssertionError("a recomputation without changes changed cluster ids")

    largest = Cluster.objects.aggregate(size=Max("size"), generations=Max("generations"))
    clustered = CaseReport.objects.filter(cluster__isnull=False).count()
    print(
        f"partition: {count} clusters holding {clustered} cases, largest {largest['size']}"
        f" cases, most generations {largest['generations']};"
        f" first run {first:.2f} s, repeat {repeat:.2f} s",
        flush=True,
    )
    return first, repeat


def measure_chains() -> list[float]:
    from fangyi.accounts.models import User
    from fangyi.cases.models import CaseReport
    from fangyi.tracing import clusters
    from fangyi.tracing.models import Cluster

    viewer = User.objects.select_related("region").get(username="county_admin")
    rng = random.Random(SEED)
    candidates = list(
        CaseReport.objects.alive()
        .filter(cluster__isnull=False)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    chosen = rng.sample(candidates, min(len(candidates), CHAIN_RUNS + CHAIN_WARMUP))
    cases = CaseReport.objects.in_bulk(chosen)
    timings = []
    nodes = []
    for number, pk in enumerate(chosen):
        started = time.perf_counter()
        graph = clusters.chain_of(cases[pk])
        graph.as_data(viewer)
        elapsed = (time.perf_counter() - started) * 1000
        if number >= CHAIN_WARMUP:
            timings.append(elapsed)
            nodes.append(len(graph.nodes))
    timings_sorted = sorted(timings)
    print(
        f"chain_of: {len(timings)} cases, nodes median {sorted(nodes)[len(nodes) // 2]}"
        f" max {max(nodes)}; p50 {timings_sorted[len(timings) // 2]:.2f} ms"
        f" p95 {percentile(timings, 95):.2f} ms max {max(timings):.2f} ms",
        flush=True,
    )

    biggest = Cluster.objects.order_by("-size").first()
    started = time.perf_counter()
    graph = clusters.cluster_graph(biggest)
    graph.as_data(viewer)
    print(
        f"cluster_graph of the largest cluster ({biggest.size} cases, {len(graph.nodes)} nodes,"
        f" {graph.contacts_total} contacts): {(time.perf_counter() - started) * 1000:.1f} ms",
        flush=True,
    )
    return timings


def measure_timeliness() -> list[float] | None:
    try:
        from fangyi.core.timeliness import timeliness_table
    except ImportError:
        print("fangyi.core.timeliness.timeliness_table does not exist: not timed", flush=True)
        return None
    from fangyi.accounts.models import User
    from fangyi.core.models import Task

    viewer = User.objects.select_related("region").get(username="county_admin")
    start, end = date(YEAR, 1, 1), date(YEAR, 12, 31)
    timings = []
    for run in range(TIMELINESS_RUNS + 3):
        began = time.perf_counter()
        rows = timeliness_table(viewer, start, end)
        if run >= 3:
            timings.append((time.perf_counter() - began) * 1000)
    print(
        f"timeliness_table: {Task.objects.count()} tasks, {len(rows)} rows;"
        f" p95 {percentile(timings, 95):.2f} ms max {max(timings):.2f} ms",
        flush=True,
    )
    return timings
