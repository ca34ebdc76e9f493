"""Benchmark: build a 1,000,000-person county on PostgreSQL, then search it as the page does.

    make bench NAME=person_search                 (BENCH_PERSONS=20000 for a quick check)

Generation. The database in DATABASE_URL (PostgreSQL only: it is wiped) gets its tables dropped
and re-created by `migrate` (so the seeded roles and key groups are exactly the migrations'),
then the clock starts. Regions, organisations, places and users come from the demo builder
(`fangyi.demo.build`), persons from `fangyi.demo.synth.persons` turned into `Person` objects by
`build.person_from_row`, the one code path that encrypts and hashes personal data. With the same
seed and size this is the very county `build_demo(persons=N, seed=2026)` makes; only the writing
differs: households, persons and their key groups go in with COPY (explicit ids, as the rows come
from the generator), into tables stripped of their indexes and constraints, which are rebuilt
afterwards from the definitions captured before (and checked to be identical to the migrations').
Two processes share the Python work (each runs the generator, which is cheap, and encodes its
own slice of the persons, which is not). VACUUM ANALYZE stops the clock: figure
`generate_seconds`.

Search. `PersonFilterForm({"q": q}, user=user).page(request)`, the person list's own path:
`Person.objects.visible_to(user).search(q)` with the grid, newest first, page 1 of 50 with the
count (capped at SEARCH_COUNT_CAP for searches): three kinds of query (a full ID number, a
pinyin prefix, the last four characters of an ID or phone), 200 different queries each after a
warm-up, for `county_admin` (the county) and `grid_a1` (one grid). Queries are drawn from
persons the user can see, so they find someone. Figures: p95 per kind (the slower user) and
the slowest of the three, `search_p95_ms`.
"""

from __future__ import annotations

import math
import os
import random
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from itertools import islice
from multiprocessing import get_context
from operator import attrgetter

SEED = 2026
PERSONS = int(os.environ.get("BENCH_PERSONS", "1000000"))
# Processes encoding persons (Python-bound: encryption, keyed hashes, model instances).
LOAD_WORKERS = int(os.environ.get("BENCH_LOAD_WORKERS", "2"))
# Share of a person's Python cost spent in the generator (which every worker runs up to the end of
# its slice): used to give the first workers more persons so that all finish together.
GENERATOR_SHARE = 0.2
# Connections rebuilding indexes at the same time (each without parallel workers).
INDEX_CONNECTIONS = 2
LOADED_TABLES = ("people_household", "people_person", "people_person_key_groups")

SEARCH_USERS = ("county_admin", "grid_a1")
KINDS = ("exact_id", "pinyin", "last4")
RUNS = 200
WARMUP = 20
EXPLAIN = os.environ.get("BENCH_EXPLAIN", "") == "1"


def main() -> None:
    _setup_django()
    from django.db import connection

    if connection.vendor != "postgresql":
        raise SystemExit("person_search needs DATABASE_URL pointing at PostgreSQL (it is wiped)")

    started = time.perf_counter()
    reset_database()
    print(f"reset (drop tables, migrate): {time.perf_counter() - started:.1f} s", flush=True)

    generate_seconds = generate(PERSONS)
    timings = measure_search()

    worst: dict[str, float] = {}
    for kind in KINDS:
        for username in SEARCH_USERS:
            values = timings[kind, username]
            print(
                f"search {kind:<8} {username:<12} p50 {percentile(values, 50):6.2f} ms  "
                f"p95 {percentile(values, 95):6.2f} ms  max {max(values):6.2f} ms  "
                f"(n={len(values)})"
            )
        worst[kind] = max(percentile(timings[kind, u], 95) for u in SEARCH_USERS)

    print(f"RESULT generate_seconds {generate_seconds:.1f} s")
    print(f"RESULT search_p95_ms {max(worst.values()):.2f} ms")
    for kind in KINDS:
        print(f"RESULT search_p95_ms_{kind} {worst[kind]:.2f} ms")


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fangyi.settings")
    import django
    from django.apps import apps

    if not apps.ready:
        django.setup()


# ---------------------------------------------------------------------------------------------
# Generation
# ---------------------------------------------------------------------------------------------


def reset_database() -> None:
    """Drop every table of the schema and migrate: empty tables plus the migrations' seed rows."""
    from django.core.management import call_command
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
        tables = [connection.ops.quote_name(name) for (name,) in cursor.fetchall()]
        if tables:
            cursor.execute(f"DROP TABLE {', '.join(tables)} CASCADE")
    call_command("migrate", verbosity=0, interactive=False)


def generate(n: int) -> float:
    """Build the county with `n` persons; the wall time from empty tables to analyzed ones."""
    from django.db import connection, connections, transaction

    from fangyi.demo import synth
    from fangyi.demo.build import create_organisations, create_places, create_regions, create_users
    from fangyi.people.models import KeyGroup

    started = time.perf_counter()
    step = Stopwatch(started)
    with transaction.atomic():
        regions = create_regions(synth.region_tree(SEED))
        organisations = create_organisations(regions)
        create_places(regions)
        create_users(regions, organisations)
    key_groups = dict(KeyGroup.objects.values_list("code", "id"))
    step("regions, organisations, places, users")

    schema = loaded_schema()
    drop_schema(schema)
    step("drop indexes and constraints")

    # Each worker (a forked process with its own connection) encodes and copies one slice.
    job = LoadJob(n, regions, key_groups)
    bounds = slice_bounds(n, LOAD_WORKERS)
    if LOAD_WORKERS == 1:
        counts = [job.load(0, n)]
    else:
        connections.close_all()  # children must not share the parent's connection
        with ProcessPoolExecutor(LOAD_WORKERS, mp_context=get_context("fork")) as pool:
            counts = list(pool.map(job.load, bounds[:-1], bounds[1:]))
    households, persons, links = (sum(column) for column in zip(*counts, strict=True))
    step(f"COPY {persons} persons, {households} households, {links} key-group links")

    restore_schema(schema)
    step("rebuild indexes and constraints")
    with connection.cursor() as cursor:
        for table in LOADED_TABLES:
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), max(id))"
                f" FROM {table} HAVING max(id) IS NOT NULL"
            )
        cursor.execute("VACUUM ANALYZE")
    step("sequences, VACUUM ANALYZE")
    elapsed = time.perf_counter() - started

    if loaded_schema() != schema:
        raise AssertionError("indexes or constraints differ from the migrations' after the load")
    if persons != n:
        raise AssertionError(f"loaded {persons} persons, expected {n}")
    return elapsed


class Stopwatch:
    def __init__(self, started: float) -> None:
        self.last = started

    def __call__(self, label: str) -> None:
        now = time.perf_counter()
        print(f"  {label}: {now - self.last:.1f} s", flush=True)
        self.last = now


def slice_bounds(n: int, workers: int) -> list[int]:
    """Slice ends such that each worker's cost (generator up to its end + encoding of its slice)
    is the same; the first workers get more persons since they run less of the generator."""
    g, e = GENERATOR_SHARE, 1 - GENERATOR_SHARE
    ends = [1.0]
    for _ in range(workers - 1):
        ends.append((1 + e * ends[-1]) / (g + e))
    return [0] + [round(n * end / ends[-1]) for end in ends[:-1]] + [n]


@dataclass
class LoadJob:
    n: int
    regions: dict  # code -> Region, as create_regions returns it
    key_groups: dict[str, int]  # code -> id

    def rows(self) -> Iterator:
        """The persons of `build_demo(persons=n, seed=SEED)`, in the same order."""
        from fangyi.demo import synth
        from fangyi.geo.models import Region

        grids = [r for r in self.regions.values() if r.level == Region.Level.GRID]
        specs = [
            synth.RegionSpec(r.code, r.name, r.level, r.parent.code if r.parent else None, "")
            for r in self.regions.values()
        ]
        return synth.persons(SEED, self.n, [g.code for g in grids], synth.grid_addresses(specs))

    def load(self, start: int, end: int) -> tuple[int, int, int]:
        """COPY persons [start, end) with their key groups, and the households they start.

        Ids are positions in the generator's output (persons, households, links in order), so
        every worker can number its rows without asking the others."""
        from django.db import connection

        from fangyi.demo.build import person_from_row
        from fangyi.people.models import Person

        fields = Person._meta.concrete_fields
        assert fields[0].attname == "id"
        columns = [field.column for field in fields]
        values = attrgetter(*(field.attname for field in fields[1:]))
        households: list[tuple] = []
        links: list[tuple] = []
        household_id = link_id = 0
        household_key = None
        household_ids: dict[str, int] = {}
        connection.ensure_connection()
        with connection.connection.transaction(), connection.connection.cursor() as cursor:
            copy_sql = f"COPY people_person ({', '.join(columns)}) FROM STDIN"
            with cursor.copy(copy_sql) as copy:
                for index, row in enumerate(islice(self.rows(), end)):
                    if row.household_key != household_key:
                        household_key = row.household_key
                        household_id += 1
                        household_ids = {household_key: household_id}
                        if index >= start:
                            grid_id = self.regions[row.grid_code].id
                            households.append((household_id, household_key, row.address, grid_id))
                    if index < start:
                        link_id += len(row.key_groups)
                        continue
                    person = person_from_row(row, self.regions, household_ids)
                    copy.write_row((index + 1, *values(person)))
                    for code in row.key_groups:
                        link_id += 1
                        links.append((link_id, index + 1, self.key_groups[code]))
            with cursor.copy("COPY people_household (id, code, address, grid_id) FROM STDIN") as c:
                for household in households:
                    c.write_row(household)
            copy_sql = "COPY people_person_key_groups (id, person_id, keygroup_id) FROM STDIN"
            with cursor.copy(copy_sql) as copy:
                for link in links:
                    copy.write_row(link)
        connection.close()
        return len(households), end - start, len(links)


@dataclass(frozen=True)
class Schema:
    """Indexes and constraints on (or pointing at) the loaded tables, as the catalog shows them."""

    indexes: tuple[tuple[str, str, str], ...]  # (table, index, CREATE INDEX …), all of them
    constraints: tuple[tuple[str, str, str, str], ...]  # (table, name, contype, definition)


def loaded_schema() -> Schema:
    from django.db import connection

    tables = list(LOADED_TABLES)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename, indexname, indexdef FROM pg_indexes"
            " WHERE schemaname = current_schema() AND tablename = ANY(%s) ORDER BY 1, 2",
            [tables],
        )
        indexes = tuple(cursor.fetchall())
        cursor.execute(
            "SELECT conrelid::regclass::text, conname, contype, pg_get_constraintdef(oid)"
            " FROM pg_constraint WHERE conrelid = ANY(%s::regclass[])"
            " OR confrelid = ANY(%s::regclass[]) ORDER BY 1, 2",
            [tables, tables],
        )
        constraints = tuple(cursor.fetchall())
    return Schema(indexes, constraints)


def drop_schema(schema: Schema) -> None:
    """Drop foreign keys, then primary keys and unique constraints, then the other indexes."""
    from django.db import connection

    quote = connection.ops.quote_name
    foreign_keys_first = sorted(
        (c for c in schema.constraints if c[2] in "fpu"), key=lambda c: c[2] != "f"
    )
    with connection.cursor() as cursor:
        for table, name, _kind, _definition in foreign_keys_first:
            cursor.execute(f"ALTER TABLE {quote(table)} DROP CONSTRAINT {quote(name)}")
        for _table, name, _definition in schema.indexes:
            cursor.execute(f"DROP INDEX IF EXISTS {quote(name)}")


def restore_schema(schema: Schema) -> None:
    """Rebuild every index (two connections at a time), then attach the primary keys and unique
    constraints to their indexes and add the foreign keys back (each one checks the rows)."""
    from django.db import connection

    quote = connection.ops.quote_name
    params = connection.get_connection_params()

    def build(statement: str) -> None:
        import psycopg

        with psycopg.connect(**params, autocommit=True) as pg:
            pg.execute("SET maintenance_work_mem = '256MB'")
            pg.execute("SET max_parallel_maintenance_workers = 0")
            pg.execute(statement)

    # The largest tables first, so that the two connections finish close together.
    size = {"people_person": 0, "people_household": 1, "people_person_key_groups": 2}
    statements = [d for t, _n, d in sorted(schema.indexes, key=lambda i: size.get(i[0], 3))]
    with ThreadPoolExecutor(INDEX_CONNECTIONS) as pool:
        list(pool.map(build, statements))

    keyword = {"p": "PRIMARY KEY", "u": "UNIQUE"}
    with connection.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = '256MB'")
        for table, name, kind, _definition in schema.constraints:
            if kind in keyword:
                cursor.execute(
                    f"ALTER TABLE {quote(table)} ADD CONSTRAINT {quote(name)}"
                    f" {keyword[kind]} USING INDEX {quote(name)}"
                )
        for table, name, kind, definition in schema.constraints:
            if kind == "f":
                cursor.execute(
                    f"ALTER TABLE {quote(table)} ADD CONSTRAINT {quote(name)} {definition}"
                )


# ---------------------------------------------------------------------------------------------
# Search
# ---------------------------------------------------------------------------------------------


def measure_search() -> dict[tuple[str, str], list[float]]:
    """Milliseconds per query, by (kind, username), warm-up excluded."""
    from fangyi.accounts.models import User

    timings = {}
    rng = random.Random(SEED)
    for username in SEARCH_USERS:
        user = User.objects.select_related("region").get(username=username)
        samples = sample_persons(user, WARMUP + RUNS, rng)
        for kind in KINDS:
            queries = QUERY_MAKERS[kind](samples)
            for query in queries[:WARMUP]:
                search_page(user, query)
            measured = []
            for query in queries[WARMUP:]:
                begin = time.perf_counter()
                count, rows = search_page(user, query)
                measured.append(((time.perf_counter() - begin) * 1000, query))
                if count == 0 or not rows:
                    raise AssertionError(f"{kind} search {query!r} for {username} found nobody")
            timings[kind, username] = [ms for ms, _query in measured]
            if EXPLAIN:
                explain(user, max(measured)[1])
    return timings


def search_page(user, query: str) -> tuple[int, list]:
    """What the person list does with `?q=query`: `PersonFilterForm.page`, page 1."""
    from django.test import RequestFactory

    from fangyi.people.filters import PersonFilterForm

    request = RequestFactory().get("/persons/", {"q": query})
    request.user = user
    page, _query = PersonFilterForm(request.GET, user=user).page(request)
    return page.paginator.count, list(page.object_list)


def explain(user, query: str) -> None:
    """EXPLAIN (ANALYZE, BUFFERS) of the statements one search runs (the count, the page)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        search_page(user, query)
    print(f"-- slowest query for {user.username}: q={query!r}")
    with connection.cursor() as cursor:
        for statement in captured.captured_queries:
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {statement['sql']}")
            plan = "\n".join(line for (line,) in cursor.fetchall())
            print(f"{statement['sql']}\n{plan}")


@dataclass(frozen=True)
class Sample:
    name: str
    name_pinyin: str
    name_initials: str
    id_number: str
    phone: str


def sample_persons(user, count: int, rng: random.Random) -> list[Sample]:
    """`count` persons the user can see (with an ID and a phone, so every kind has a query)."""
    from fangyi.people.models import Person

    visible = Person.objects.visible_to(user).exclude(id_number_hash=None).exclude(phone_hash="")
    ids = list(visible.order_by("id").values_list("id", flat=True))
    if not ids:
        raise AssertionError(f"{user.username} sees nobody with an ID and a phone")
    # At small scales (BENCH_PERSONS) a grid may hold fewer persons: queries then repeat.
    chosen = rng.sample(ids, count) if len(ids) >= count else rng.choices(ids, k=count)
    persons = Person.objects.in_bulk(chosen)
    return [
        Sample(p.name, p.name_pinyin, p.name_initials, p.id_number, p.phone)
        for p in (persons[pk] for pk in chosen)
    ]


def exact_id_queries(samples: list[Sample]) -> list[str]:
    return [s.id_number for s in samples]


def pinyin_queries(samples: list[Sample]) -> list[str]:
    """In turn: two initials ("zs"), all initials ("wxm"), surname in full + an initial
    ("zhangs")."""
    from fangyi.people.pinyin import name_pinyin

    queries = []
    for i, s in enumerate(samples):
        surname = name_pinyin(s.name[0])[0]
        variant = i % 3
        if variant == 2 and s.name_pinyin.startswith(surname) and len(s.name_pinyin) > len(surname):
            queries.append(s.name_pinyin[: len(surname) + 1])
        elif variant == 1:
            queries.append(s.name_initials)
        else:
            queries.append(s.name_initials[:2])
    return queries


def last4_queries(samples: list[Sample]) -> list[str]:
    """In turn: the last four of an ID number, of a phone."""
    return [s.id_number[-4:] if i % 2 == 0 else s.phone[-4:] for i, s in enumerate(samples)]


QUERY_MAKERS: dict[str, Callable[[list[Sample]], list[str]]] = {
    "exact_id": exact_id_queries,
    "pinyin": pinyin_queries,
    "last4": last4_queries,
}


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


if __name__ == "__main__":
    main()
