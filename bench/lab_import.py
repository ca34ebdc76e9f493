"""Benchmark: a lab's 1,000,000-row result file imported end to end on PostgreSQL, against a
bare COPY of the same file, and the coverage dashboard of a 1,000,000-person mass screening.

    make bench NAME=lab_import
    BENCH_PERSONS=100000 BENCH_ROWS=100000 make bench NAME=lab_import     # quick check

Generation (not timed). The database in DATABASE_URL (PostgreSQL only: it is wiped) gets its
tables dropped and re-created by `migrate`; `build_demo` (few persons) gives the regions,
organisations and demo users; persons up to `BENCH_PERSONS` are added in SQL with a name and
a grid (`bench.check_submissions.PERSONS_SQL`). Then, through the services, the campaign and
its round (`services.create_campaign`, `services.open_round`: a target per person) and a
collection site per village (`fangyi.demo.lab.create_sites`); in SQL on the server, every
value a function of the row number:

- `BENCH_PERSONS / 10` pooled 10-in-1 tubes of the round holding every person (grid by grid,
  at their village's site, collected two days ago between 07:00 and 20:00), their members,
  and the round's targets marked tested;
- `BENCH_ROWS - BENCH_PERSONS / 10` single tubes (voluntary and key-group testing, one per
  person from the first) of the same day, so that the result file has `BENCH_ROWS` rows, one
  per tube: 1,000,000 rows at the default scale, as the issue asks, although a county's
  1,000,000 persons in 10-in-1 pools are only 100,000 tubes (bench/README.md);
- all received by the county CDC's lab; `VACUUM ANALYZE`.

The result file, written by PostgreSQL (`COPY (SELECT …) TO STDOUT`), in a random but fixed
order: barcode, result, result time, ORF1ab Ct, N Ct, method, reviewer, with the Chinese
headings labs use; negative but for `BENCH_POSITIVES` tubes (half of them pools).

Figures.
- `ratio_to_copy`: first, the file is COPYed as it is (client side, from the file, as the
  import sends its batch) into a scratch table with the same columns, then dropped
  (`copy_seconds`); then CHECKPOINT.
- `import_seconds`, `peak_mib`: in a fresh process (spawned: a Django worker with nothing
  else in memory), `fangyi.lab.imports.import_file(lab_staff, lab, file, mapping)` with the
  mapping the import page would guess from the headings: read, validate, match, store,
  resolve the pools, set off the positives (members under control, re-test duties, case
  drafts, alerts). `peak_mib` is that process's peak resident memory (VmHWM), with what it
  held before the import (VmRSS) printed too. The outcome is checked (every row stored,
  the positives, the pool members' statuses, the measures and the case drafts).
- `coverage_ms`: median of 5 (after one) of `GET /lab/rounds/<id>/data/`, the dashboard's
  figures, through Django's test client as county_admin; it computes the coverage by grid
  and the throughput by site itself. When that URL answers 404, the median of
  `services.coverage_by_grid(round, county_admin)` instead; that one is always printed too
  (`coverage_by_grid_ms`).

`BENCH_PROFILE=1` runs the import under cProfile instead and prints where its time went (the
figures of such a run are not the benchmark's).
"""

from __future__ import annotations

import os
import random
import statistics
import tempfile
import time
from collections import Counter
from datetime import timedelta
from multiprocessing import get_context
from pathlib import Path

SEED = 2026
PERSONS = int(os.environ.get("BENCH_PERSONS", "1000000"))
ROWS = int(os.environ.get("BENCH_ROWS", "1000000"))
POSITIVES = int(os.environ.get("BENCH_POSITIVES", "20"))
PROFILE = os.environ.get("BENCH_PROFILE", "") == "1"
DEMO_PERSONS = 2000
POOL = 10
COVERAGE_RUNS = 5
TIME_ZONE = "Asia/Shanghai"
HEADINGS = ("样本条码", "检测结果", "结果时间", "ORF1ab基因Ct值", "N基因Ct值", "检测方法", "审核人")
REVIEWER = "何检验"


def main() -> None:
    from django.db import connection

    from bench.person_search import Stopwatch, reset_database

    if connection.vendor != "postgresql":
        raise SystemExit("lab_import needs DATABASE_URL pointing at PostgreSQL (it is wiped)")
    pools = -(-PERSONS // POOL)
    singles = ROWS - pools
    if not 0 <= singles <= PERSONS:
        raise SystemExit("BENCH_ROWS must lie between BENCH_PERSONS / 10 and 1.1 × BENCH_PERSONS")

    started = time.perf_counter()
    reset_database()
    step = Stopwatch(started)
    step("reset (drop tables, migrate)")
    round_id = generate(step, pools, singles)
    print(f"generated in {time.perf_counter() - started:.1f} s", flush=True)

    with tempfile.TemporaryDirectory(prefix="fangyi-bench-lab-") as scratch:
        path = Path(scratch) / "云溪县疾控中心检验科_检测结果.csv"
        write_file(path)
        step(f"result file: {ROWS} rows, {path.stat().st_size / 2**20:.1f} MiB")
        copy_seconds = bare_copy(path)
        print(f"bare COPY of the file: {copy_seconds:.2f} s", flush=True)
        outcome = run_import(path)
    check_outcome(outcome, pools)
    coverage, endpoint = measure_coverage(round_id)

    print(
        f"import: {outcome['rows']} rows, {outcome['stored']} stored, "
        f"{outcome['positives']} positive; process memory before {outcome['base_mib']:.0f} MiB,"
        f" peak {outcome['peak_mib']:.0f} MiB"
    )
    print(f"coverage_by_grid runs (ms): {', '.join(f'{ms:.1f}' for ms in coverage)}")
    if endpoint:
        print(f"round data endpoint runs (ms): {', '.join(f'{ms:.1f}' for ms in endpoint)}")
    else:
        print("round data endpoint /lab/rounds/<id>/data/: not there (404), not measured")
    # The endpoint computes the figures itself: it is what the page costs, not a sum with them.
    totals = endpoint or coverage
    print(f"RESULT copy_seconds {copy_seconds:.2f} s")
    print(f"RESULT import_seconds {outcome['seconds']:.1f} s")
    print(f"RESULT ratio_to_copy {outcome['seconds'] / copy_seconds:.1f} ratio")
    print(f"RESULT peak_mib {outcome['peak_mib']:.0f} MiB")
    print(f"RESULT coverage_by_grid_ms {statistics.median(coverage):.1f} ms")
    print(f"RESULT coverage_ms {statistics.median(totals):.1f} ms")


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fangyi.settings")
    import django
    from django.apps import apps

    if not apps.ready:
        django.setup()


# ---------------------------------------------------------------------------------------------
# Generation
# ---------------------------------------------------------------------------------------------


def generate(step, pools: int, singles: int) -> int:
    """The county, the round, the tubes (module docstring); returns the round's id."""
    from django.db import connection
    from django.utils import timezone

    from bench.check_submissions import NAMES, PERSONS_SQL
    from fangyi.demo.build import build_demo
    from fangyi.demo.lab import create_sites, load_desk
    from fangyi.lab import services

    now = timezone.now().replace(second=0, microsecond=0)
    build_demo(persons=DEMO_PERSONS, seed=SEED)
    step(f"demo county ({DEMO_PERSONS} persons)")
    with connection.cursor() as cursor:
        cursor.execute(
            PERSONS_SQL, {"now": now, "count": PERSONS - DEMO_PERSONS, "tz": TIME_ZONE, **NAMES}
        )
        cursor.execute("ANALYZE people_person")
    step(f"{PERSONS - DEMO_PERSONS} more persons")

    desk = load_desk(SEED, now)
    today = timezone.localdate(now)
    day = today - timedelta(days=2)
    campaign = services.create_campaign(
        desk.users["county_admin"],
        name=f"{desk.county.name}第1轮全员核酸筛查",
        region=desk.county,
        start_date=day,
        end_date=today - timedelta(days=1),
    )
    round_ = services.open_round(
        desk.users["county_admin"], campaign, start_date=day, end_date=today - timedelta(days=1)
    )
    step(f"campaign, round with {round_.expected} targets (services.open_round)")
    create_sites(desk, campaign)
    step("collection sites")

    params = {
        "day": day,
        "tz": TIME_ZONE,
        "round": round_.pk,
        "lab": desk.lab.pk,
        "pools": pools,
        "singles": singles,
        "mass": services.turnaround_hours()["mass_screening"],
        "single_hours": services.turnaround_hours()["voluntary"],
    }
    with connection.cursor() as cursor:
        cursor.execute(POOLED_SQL, params)
        tubes = cursor.rowcount
        cursor.execute(MEMBERS_SQL, params)
        members = cursor.rowcount
        cursor.execute("ANALYZE lab_sample, lab_examinee, lab_screeningtarget")
        step(f"{tubes} pooled tubes, {members} members")
        cursor.execute(TESTED_SQL, params)
        step(f"{cursor.rowcount} targets marked tested")
        cursor.execute(SINGLES_SQL, params)
        tubes = cursor.rowcount
        cursor.execute(SINGLE_MEMBERS_SQL, params)
        step(f"{tubes} single tubes")
        cursor.execute("VACUUM ANALYZE")
    step("VACUUM ANALYZE")
    return round_.pk


# The pooled tubes: persons grid by grid (then id), ten to a tube; the tube at the site of its
# first member's village, collected the first day between 07:00 and 20:00.
POOLED_SQL = """
WITH person AS (
    SELECT p.id, p.grid_id, row_number() OVER (ORDER BY g.path, p.id) - 1 AS k
    FROM people_person p JOIN geo_region g ON g.id = p.grid_id
),
firsts AS (
    SELECT k / 10 AS t, grid_id FROM person WHERE k %% 10 = 0
),
site AS (
    SELECT sg.region_id AS grid_id, s.id, s.region_id, s.organisation_id
    FROM lab_collectionsite_grids sg JOIN lab_collectionsite s ON s.id = sg.collectionsite_id
),
tube AS (
    SELECT f.t, site.id AS site_id, site.region_id, site.organisation_id,
           (%(day)s::date + time '07:00' + make_interval(mins => (f.t * 7919 %% 780)::int))
               AT TIME ZONE %(tz)s AS collected_at
    FROM firsts f JOIN site ON site.grid_id = f.grid_id
)
INSERT INTO lab_sample (
    barcode, sample_type, purpose, pool_size, collected_at, object_description, received_at,
    due_at, ct_values, method, reviewer, region_id, site_id, round_id,
    collecting_organisation_id, lab_id)
SELECT
    'P' || lpad(t::text, 8, '0'), 'op_swab', 'mass_screening', 10, collected_at, '',
    collected_at + interval '90 minutes',
    collected_at + interval '90 minutes' + make_interval(hours => %(mass)s),
    '{}'::jsonb, '', '', region_id, site_id, %(round)s, organisation_id, %(lab)s
FROM tube ORDER BY t
"""

MEMBERS_SQL = """
WITH person AS (
    SELECT p.id, row_number() OVER (ORDER BY g.path, p.id) - 1 AS k
    FROM people_person p JOIN geo_region g ON g.id = p.grid_id
)
INSERT INTO lab_examinee (sample_id, person_id, position, collected_at, status)
SELECT s.id, p.id, (p.k %% 10 + 1)::int, s.collected_at, 'pending'
FROM person p JOIN lab_sample s ON s.barcode = 'P' || lpad((p.k / 10)::text, 8, '0')
ORDER BY s.id, p.k
"""

TESTED_SQL = """
UPDATE lab_screeningtarget t
SET status = 'tested', tested_at = s.collected_at, site_id = s.site_id
FROM lab_examinee e JOIN lab_sample s ON s.id = e.sample_id
WHERE s.round_id = %(round)s AND t.round_id = %(round)s AND t.person_id = e.person_id
"""

# Single tubes of the same day, one per person from the first (by id): voluntary testing,
# every tenth a key-group test, collected by the clinic of the person's village.
SINGLES_SQL = """
WITH person AS (
    SELECT p.id, p.grid_id, row_number() OVER (ORDER BY p.id) - 1 AS j
    FROM people_person p WHERE p.grid_id IS NOT NULL
),
clinic AS (
    SELECT g.id AS grid_id, o.id AS organisation_id
    FROM geo_region g JOIN geo_organisation o
      ON o.region_id = g.parent_id AND o.type = 'village_clinic'
)
INSERT INTO lab_sample (
    barcode, sample_type, purpose, pool_size, collected_at, object_description, received_at,
    due_at, ct_values, method, reviewer, region_id, collecting_organisation_id, lab_id)
SELECT
    'S' || lpad(j::text, 8, '0'), 'op_swab',
    CASE WHEN j %% 10 = 0 THEN 'key_group' ELSE 'voluntary' END, 1, collected_at, '',
    collected_at + interval '90 minutes',
    collected_at + interval '90 minutes' + make_interval(hours => %(single_hours)s),
    '{}'::jsonb, '', '', grid_id, organisation_id, %(lab)s
FROM (
    SELECT p.*, c.organisation_id,
           (%(day)s::date + time '07:00' + make_interval(mins => (p.j * 104729 %% 780)::int))
               AT TIME ZONE %(tz)s AS collected_at
    FROM person p LEFT JOIN clinic c ON c.grid_id = p.grid_id
    WHERE p.j < %(singles)s
) AS tube ORDER BY j
"""

SINGLE_MEMBERS_SQL = """
WITH person AS (
    SELECT p.id, row_number() OVER (ORDER BY p.id) - 1 AS j
    FROM people_person p WHERE p.grid_id IS NOT NULL
)
INSERT INTO lab_examinee (sample_id, person_id, position, collected_at, status)
SELECT s.id, p.id, 1, s.collected_at, 'pending'
FROM person p JOIN lab_sample s ON s.barcode = 'S' || lpad(p.j::text, 8, '0')
ORDER BY s.id
"""

# The lab's file: results 4 to 9 hours after collection; positives with both genes' Ct.
FILE_SQL = """
COPY (
    SELECT
        barcode AS "{0}",
        CASE WHEN barcode = ANY(%(positive)s) THEN '阳性' ELSE '阴性' END AS "{1}",
        to_char(
            (collected_at + make_interval(mins => 240 + (id * 31 %% 300)::int))
                AT TIME ZONE %(tz)s,
            'YYYY-MM-DD HH24:MI:SS'
        ) AS "{2}",
        CASE WHEN barcode = ANY(%(positive)s) THEN (28 + id %% 70 / 10.0)::text END AS "{3}",
        CASE WHEN barcode = ANY(%(positive)s) THEN (27 + id %% 80 / 10.0)::text END AS "{4}",
        'PCR' AS "{5}",
        %(reviewer)s AS "{6}"
    FROM lab_sample
    ORDER BY md5(barcode)
) TO STDOUT WITH (FORMAT csv, HEADER)
"""


def positive_barcodes() -> list[str]:
    """Half the positives pools, half single tubes, drawn from the seed."""
    rng = random.Random(SEED)
    full_pools, singles = PERSONS // POOL, ROWS - -(-PERSONS // POOL)
    chosen = [f"P{t:08d}" for t in rng.sample(range(full_pools), POSITIVES // 2)]
    chosen += [f"S{j:08d}" for j in rng.sample(range(singles), POSITIVES - len(chosen))]
    return chosen


def write_file(path: Path) -> None:
    from django.db import connection

    statement = FILE_SQL.format(*HEADINGS)
    params = {"positive": positive_barcodes(), "tz": TIME_ZONE, "reviewer": REVIEWER}
    with connection.cursor() as cursor, path.open("wb") as out:
        copy_sql = cursor.mogrify(statement, params)
        with cursor.cursor.copy(copy_sql) as copy:
            for data in copy:
                out.write(data)


# ---------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------


def bare_copy(path: Path) -> float:
    """COPY of the file as it is into a scratch table with the same columns (client side, read
    from the file in 1 MiB blocks); seconds. The table is dropped afterwards."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_lab_file")
        cursor.execute(
            """
            CREATE TABLE bench_lab_file (
                barcode varchar(32), result varchar(16), result_at timestamptz,
                ct_orf1ab numeric, ct_n numeric, method varchar(16), reviewer varchar(64)
            )
            """
        )
        cursor.execute("SET TIME ZONE %s", [TIME_ZONE])
        started = time.perf_counter()
        with (
            path.open("rb") as source,
            cursor.cursor.copy("COPY bench_lab_file FROM STDIN WITH (FORMAT csv, HEADER)") as copy,
        ):
            while data := source.read(1 << 20):
                copy.write(data)
        seconds = time.perf_counter() - started
        cursor.execute("SELECT count(*) FROM bench_lab_file")
        copied = cursor.fetchone()[0]
        cursor.execute("SET TIME ZONE 'UTC'")
        cursor.execute("DROP TABLE bench_lab_file")
        cursor.execute("CHECKPOINT")
    if copied != ROWS:
        raise AssertionError(f"COPY loaded {copied} rows, expected {ROWS}")
    return seconds


def run_import(path: Path) -> dict:
    """The import in a spawned process (its peak memory is then the import's alone)."""
    from django.db import connections

    from fangyi.lab.imports import guess_mapping, headings_of

    with path.open("rb") as source:
        from django.core.files import File

        mapping = guess_mapping(headings_of(File(source, name=path.name)))
    print(f"mapping guessed from the headings: {mapping}", flush=True)
    connections.close_all()
    with get_context("spawn").Pool(1) as pool:
        return pool.apply(import_in_child, (str(path), mapping, PROFILE))


def import_in_child(path: str, mapping: dict, profile: bool) -> dict:
    _setup_django()
    from django.core.files import File
    from django.db import connection

    from fangyi.accounts.models import User
    from fangyi.lab.imports import import_file

    actor = User.objects.select_related("organisation").get(username="lab_staff")
    connection.ensure_connection()
    base = memory_mib("VmRSS")
    with open(path, "rb") as source:
        upload = File(source, name=Path(path).name)
        started = time.perf_counter()
        if profile:
            import cProfile
            import pstats

            from django.test.utils import CaptureQueriesContext

            profiler = cProfile.Profile()
            with CaptureQueriesContext(connection) as queries:
                log = profiler.runcall(import_file, actor, actor.organisation, upload, mapping)
            stats = pstats.Stats(profiler)
            stats.sort_stats("cumulative").print_stats(45)
            stats.sort_stats("tottime").print_stats(25)
            slowest = sorted(queries.captured_queries, key=lambda q: -float(q["time"]))[:12]
            for query in slowest:
                print(f"{float(query['time']):8.3f} s  {' '.join(query['sql'].split())[:240]}")
        else:
            log = import_file(actor, actor.organisation, upload, mapping)
        seconds = time.perf_counter() - started
    peak = memory_mib("VmHWM")
    return {
        "seconds": seconds,
        "base_mib": base,
        "peak_mib": peak,
        "outcome": log.outcome,
        "rows": log.rows,
        "stored": log.stored,
        "positives": log.positives,
        "problems": log.problems[:5],
    }


def memory_mib(field: str) -> float:
    """The process's resident memory now (VmRSS) or at its peak (VmHWM), from /proc. Not
    `ru_maxrss`: Linux carries that over from the parent through fork and exec, so a spawned
    child would report at least the parent's size."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def check_outcome(outcome: dict, pools: int) -> None:
    """Every row stored; the positive pools' members under control with their re-test
    duties, the positive single tubes' persons with a case draft; the others negative."""
    from django.db.models import Count

    from fangyi.cases.models import CaseReport
    from fangyi.core.models import Duty, Task
    from fangyi.lab.models import Examinee, Sample
    from fangyi.measures.models import Measure

    if outcome["outcome"] != "saved" or outcome["stored"] != ROWS:
        raise AssertionError(f"import not saved whole: {outcome}")
    positive_pools = POSITIVES // 2
    positive_singles = POSITIVES - positive_pools
    if outcome["positives"] != POSITIVES:
        raise AssertionError(f"{outcome['positives']} positives, expected {POSITIVES}")
    if Sample.objects.filter(result__isnull=True).exists():
        raise AssertionError("tubes left without a result")
    # Members of negative tubes may keep their row as it was ("pending") and read the tube
    # (Examinee.outcome), or be written negative: either counts as negative here.
    statuses = Counter()
    grouped = Examinee.objects.values_list("status", "sample__result").annotate(n=Count("id"))
    for status, result, count in grouped.order_by():
        statuses["negative" if (status, result) == ("pending", "negative") else status] += count
    expected = {
        "negative": PERSONS + ROWS - pools - POOL * positive_pools - positive_singles,
        "pool_positive": POOL * positive_pools,
        "positive": positive_singles,
    }
    if statuses != expected:
        raise AssertionError(f"member statuses {statuses}, expected {expected}")
    controlled = Measure.objects.filter(category="pool_positive").count()
    retests = Task.objects.filter(duty=Duty.POOL_RETEST).count()
    cases = CaseReport.objects.count()
    if (controlled, retests, cases) != (
        POOL * positive_pools,
        POOL * positive_pools,
        positive_singles,
    ):
        raise AssertionError(f"measures {controlled}, re-test duties {retests}, cases {cases}")
    print(
        f"outcome checked: {ROWS} tubes resulted, {controlled} pool members under control with "
        f"their re-test duties, {cases} suspected-case drafts",
        flush=True,
    )


def measure_coverage(round_id: int) -> tuple[list[float], list[float]]:
    """ms per run (after one warm-up) of coverage_by_grid and of the round's data endpoint
    (empty when the URL is not there)."""
    from django.test import Client

    from fangyi.accounts.models import User
    from fangyi.lab import services
    from fangyi.lab.models import Round

    user = User.objects.select_related("region").get(username="county_admin")
    round_ = Round.objects.select_related("campaign").get(pk=round_id)
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    url = f"/lab/rounds/{round_id}/data/"
    has_endpoint = client.get(url).status_code != 404
    coverage, endpoint = [], []
    for run in range(COVERAGE_RUNS + 1):
        begin = time.perf_counter()
        rows = services.coverage_by_grid(round_, user)
        middle = time.perf_counter()
        if has_endpoint:
            response = client.get(url)
            if response.status_code != 200:
                raise AssertionError(f"{url} answered {response.status_code}")
        end = time.perf_counter()
        if run:
            coverage.append((middle - begin) * 1000)
            if has_endpoint:
                endpoint.append((end - middle) * 1000)
    tested = sum(row.tested for row in rows)
    print(f"coverage: {len(rows)} grids, {tested} tested of {sum(r.expected for r in rows)}")
    return coverage, endpoint


if __name__ == "__main__":
    _setup_django()
    main()
