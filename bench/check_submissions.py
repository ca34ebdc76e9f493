"""Benchmark: daily health-check submission over HTTP against the production server, and the
measures dashboard, for a county in a mass-isolation week (200,000 measures in force,
5,000,000 health checks).

    make bench NAME=check_submissions
    BENCH_ACTIVE=20000 BENCH_CHECKS=500000 make bench NAME=check_submissions   # quick check

Generation. The database in DATABASE_URL (PostgreSQL only: it is wiped) gets its tables dropped
and re-created by `migrate`; `build_demo` (few persons) gives the regions, organisations and
demo users, `demo.measures.build_facilities` the two quarantine facilities with their rooms.
Then, in SQL on the server (deterministic: every value is a function of the row's number, the
day and the slot), relative to the start of the run:

- persons with the minimal fields (a name, a grid; no ID number or phone);
- `BENCH_ACTIVE` measures in force, one per person, under the seeded policies (version 1):
  contacts of contacts in the facilities' single rooms, the rest under home monitoring
  (returnees, medium-risk arrivals, high-risk-post workers, released from centralised
  quarantine), started from the policy's length ago up to today, for the grid's village
  committee; room occupancy to match;
- released measures (released up to 19 days ago), added in blocks until their readings and
  those of the measures in force reach `BENCH_CHECKS`;
- health checks: `checks_per_day` readings a day (08:00 and 15:00, within 90 minutes) while
  each measure ran, 4% missed, 0.1% abnormal; inserted with the table's indexes and foreign
  keys dropped, rebuilt afterwards (checked identical to the migrations');
- the follow-up duties of yesterday's missed checks, by the nightly job's own function
  (`services.open_missed_check_tasks`).

Load. `fangyi serve` (gunicorn) is started on loopback against that database with the
settings of docs/deploy.md (persistent database connections), `BENCH_WORKERS` workers
(default 2: the work is CPU-bound, and more workers than cores measured slower; see
bench/README.md) of class `BENCH_WORKER_CLASS` (sync; gthread with `BENCH_THREADS`), and a
Redis of its own for the phone link's rate-limit counters when `redis-server` is installed.
`wrk` (Debian package `wrk`) drives it from one thread with `BENCH_CONNECTIONS` connections
(default two per worker), each endpoint for 5 s of warm-up then `BENCH_SECONDS` (20) measured:

- `POST /api/measures/{id}/checks` with a bearer token (cdc_epi, county scope), a normal
  reading, rotating over the measures in force;
- `POST /api/checks/batch`, 50 readings of consecutive measures (a floor's list) a request;
- `POST /measures/m/<token>/` — the person's phone link, the form post with its CSRF cookie
  and field, rotating over the links of 50,000 measures (the per-address limit raised: all
  requests come from 127.0.0.1);
- `GET /healthz`, the trivial endpoint of the same server.

Accepted submissions are the responses with the expected status (201, or 200 with the
"done" page for the link) and must equal the rows inserted (give or take the requests in flight
when wrk stops); everything else counts as a failure. The CPU time of the web workers and of
their database backends over each measured run is read from /proc. Figures: accepted
submissions per second of the API, its p99 latency (wrk's latency distribution), the ratio to
/healthz's rate; and `dashboard_ms`, the median of 5 calls (after one) of
`fangyi.measures.dashboard.figures(county_admin, today)`; before them the CPU per submission,
the batch, phone-link and /healthz figures.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

SEED = 2026
ACTIVE = int(os.environ.get("BENCH_ACTIVE", "200000"))
CHECKS = int(os.environ.get("BENCH_CHECKS", "5000000"))
DEMO_PERSONS = 2000
# Measures in force served in a facility room (contacts of contacts, 7 days).
CENTRALISED = min(ACTIVE // 50, 4000)
RELEASED_BLOCK = 2000
LINKS = 50_000
SECONDS = int(os.environ.get("BENCH_SECONDS", "20"))
WARMUP_SECONDS = 5
WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))
# Two requests per worker: one being served, one waiting (sync workers serve one at a time).
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", str(2 * WORKERS)))
BATCH = 50  # readings per batch request (a facility floor)
WORKER_CLASS = os.environ.get("BENCH_WORKER_CLASS", "sync")
THREADS = int(os.environ.get("BENCH_THREADS", "4"))
DASHBOARD_RUNS = 5
TIME_ZONE = "Asia/Shanghai"
TOKEN_USER = "cdc_epi"
DASHBOARD_USER = "county_admin"
CHECKS_TABLE = "measures_healthcheck"
STARTUP_TIMEOUT = 60
# Keep the data of the last run (to compare server settings); the load still adds readings.
REUSE = os.environ.get("BENCH_REUSE", "") == "1"


def main() -> None:
    from django.db import connection
    from django.utils import timezone

    from bench.person_search import Stopwatch, reset_database
    from fangyi.measures.models import Measure

    if connection.vendor != "postgresql":
        raise SystemExit("check_submissions needs DATABASE_URL pointing at PostgreSQL (wiped)")
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not on PATH: install it (Debian/Ubuntu: apt-get install wrk)")

    started = time.perf_counter()
    if REUSE and Measure.objects.exists():
        now = timezone.now()
        print("BENCH_REUSE: the data of the last run is kept", flush=True)
    else:
        reset_database()
        step = Stopwatch(started)
        step("reset (drop tables, migrate)")
        now = generate(step)
        print(f"generated in {time.perf_counter() - started:.1f} s", flush=True)
    token, links = credentials()

    with tempfile.TemporaryDirectory(prefix="fangyi-bench-wrk-") as scratch, server() as served:
        scratch = Path(scratch)
        api = load(served, api_script(scratch, token), {201}, "api")
        batch = load(served, batch_script(scratch, token), {201}, "api", BATCH)
        link = load(served, link_script(scratch, links), {200}, "self")
        trivial = load(served, healthz_script(scratch), {200}, None)
    dashboard = measure_dashboard(now)

    for name, run in (("api", api), ("batch", batch), ("link", link), ("healthz", trivial)):
        print(
            f"{name:<8} accepted {run.accepted:>7} of {run.requests:>7} in {run.seconds:.1f} s"
            f"  {run.rate:8.1f}/s  p50 {run.p50_ms:6.1f} ms  p99 {run.p99_ms:6.1f} ms"
            f"  failed {run.failed}  CPU per request: web {run.web_cpu_ms:.2f} ms,"
            f" database {run.db_cpu_ms:.2f} ms; others used {run.others_busy:.0%} of the CPU"
        )
    print(f"dashboard runs (ms): {', '.join(f'{ms:.1f}' for ms in dashboard)}")
    print(f"RESULT web_cpu_ms_per_submission {api.web_cpu_ms:.2f} ms")
    print(f"RESULT db_cpu_ms_per_submission {api.db_cpu_ms:.2f} ms")
    print(f"RESULT batch_readings_per_second {batch.rate * BATCH:.1f} 1/s")
    print(f"RESULT batch_p99_ms {batch.p99_ms:.1f} ms")
    print(f"RESULT link_submissions_per_second {link.rate:.1f} 1/s")
    print(f"RESULT link_p99_ms {link.p99_ms:.1f} ms")
    print(f"RESULT healthz_per_second {trivial.rate:.1f} 1/s")
    print(f"RESULT submissions_per_second {api.rate:.1f} 1/s")
    print(f"RESULT p99_ms {api.p99_ms:.1f} ms")
    print(f"RESULT ratio_to_trivial {api.rate / trivial.rate:.2f} ratio")
    print(f"RESULT dashboard_ms {statistics.median(dashboard):.1f} ms")


# ---------------------------------------------------------------------------------------------
# Generation
# ---------------------------------------------------------------------------------------------


def generate(step) -> datetime:
    """The county, the measures and their readings (module docstring); returns `now`."""
    from django.db import connection, transaction
    from django.utils import timezone

    from fangyi.accounts.models import User
    from fangyi.demo.build import build_demo
    from fangyi.demo.measures import build_facilities
    from fangyi.measures import services

    now = timezone.now().replace(second=0, microsecond=0)
    build_demo(persons=DEMO_PERSONS, seed=SEED)
    with transaction.atomic():
        staff = User.objects.get(username="facility_staff")
        add_floors(staff, build_facilities(staff))
    step(f"demo county ({DEMO_PERSONS} persons), facilities")

    base = {"now": now, "today": timezone.localdate(now), "tz": TIME_ZONE}
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(max(id), 0) FROM people_person")
        first_person = cursor.fetchone()[0] + 1
        persons = ACTIVE + CHECKS // 20  # more than the released measures will need
        cursor.execute(PERSONS_SQL, {**base, "count": persons, **NAMES})
        step(f"{persons} persons")
        cursor.execute(MEASURES_SQL, {**base, "first": first_person, "last": first_person + ACTIVE})
        cursor.execute(ROOMS_SQL)
        step(f"{ACTIVE} measures in force ({CENTRALISED} in rooms)")

    schema = checks_schema()
    drop_schema(schema)
    with connection.cursor() as cursor:
        cursor.execute(CHECKS_SQL, {**base, "status": "active"})
        checks = cursor.rowcount
        released, person = 0, first_person + ACTIVE
        while checks < CHECKS:
            block = {**base, "first": person, "last": person + RELEASED_BLOCK}
            cursor.execute(RELEASED_SQL, block)
            cursor.execute(
                CHECKS_SQL + " AND m.person_id >= %(first)s", {**block, "status": "released"}
            )
            checks += cursor.rowcount
            released += RELEASED_BLOCK
            person += RELEASED_BLOCK
    step(f"{checks} checks ({released} released measures)")
    restore_schema(schema)
    if checks_schema() != schema:
        raise AssertionError("indexes or constraints of the checks differ after the load")
    step("rebuild the checks' indexes and foreign keys")

    yesterday = timezone.localdate(now) - timedelta(days=1)
    opened_at = services.local_day_start(timezone.localdate(now)) + timedelta(minutes=10)
    missed = services.open_missed_check_tasks(yesterday, now=min(opened_at, now))
    step(f"{missed} follow-up duties of yesterday's missed checks")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    step("VACUUM ANALYZE")
    return now


def add_floors(staff, facilities) -> None:
    """Floors of 100 single rooms on top of the demo's, until the centralised measures fit."""
    from fangyi.measures import services
    from fangyi.measures.models import Room

    free = Room.objects.filter(kind=Room.Kind.SINGLE, status=Room.Status.FREE).count()
    floor = max(Room.objects.values_list("floor", flat=True)) + 1
    while free < CENTRALISED:
        for facility in facilities:
            numbers = [f"{floor}{n:02d}" for n in range(100)]
            services.add_rooms(staff, facility, floor=floor, numbers=numbers, kind="single")
            free += len(numbers)
        floor += 1


# Names from the row number: 20 surnames × 40 given names.
NAMES = {
    "surnames": "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨朱秦尤许",
    "given": "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红鹏飞建国志宏海燕春梅丹",
}
PERSONS_SQL = """
INSERT INTO people_person (
    name, name_pinyin, name_initials, id_type, id_number_encrypted, id_number_hash,
    id_last4_hash, phone_encrypted, phone_hash, phone_last4_hash, sex, nationality, address,
    category, workplace, created_at, updated_at, grid_id)
SELECT
    substr(%(surnames)s::text, (1 + n %% 20)::int, 1)
        || substr(%(given)s::text, (1 + n / 20 %% 40)::int, 1),
    '', '', 'none', '', NULL, '', '', '', '',
    CASE WHEN n %% 2 = 0 THEN 'male' ELSE 'female' END, '中国',
    g.full_name || (1 + n %% 300) || '号', 'resident', '', %(now)s, %(now)s, g.id
FROM generate_series(1::bigint, %(count)s) AS n
JOIN (
    SELECT id, full_name, row_number() OVER (ORDER BY path) - 1 AS k,
           count(*) OVER () AS grids
    FROM geo_region WHERE level = 'grid'
) AS g ON g.k = (n * 7919) %% g.grids
"""

# The policy in force (the latest version) of each category.
POLICIES_CTE = """
policy AS (
    SELECT DISTINCT ON (category) id, category, measure_type, days, checks_per_day
    FROM measures_policy ORDER BY category, version DESC
),
committee AS (
    SELECT g.id AS grid_id, o.id AS organisation_id
    FROM geo_region g JOIN geo_organisation o
      ON o.region_id = g.parent_id AND o.type = 'village_committee'
    WHERE g.level = 'grid'
)
"""

# Persons [first, last): the first CENTRALISED in single rooms (contacts of contacts), the
# others at home by category; started from the policy's length ago up to today.
MEASURES_SQL = f"""
WITH {POLICIES_CTE},
room AS (
    SELECT r.id, r.facility_id, f.organisation_id, f.address,
           row_number() OVER (ORDER BY r.facility_id, r.floor, r.number) AS k
    FROM measures_room r JOIN measures_facility f ON f.id = r.facility_id
    WHERE r.kind = 'single' AND r.status = 'free'
),
person AS (
    SELECT p.*, p.id - %(first)s + 1 AS k,
           CASE
               WHEN p.id - %(first)s < {CENTRALISED} THEN 'secondary_contact'
               WHEN p.id %% 100 < 45 THEN 'returnee'
               WHEN p.id %% 100 < 70 THEN 'medium_risk_arrival'
               WHEN p.id %% 100 < 85 THEN 'high_risk_post'
               ELSE 'released_centralised'
           END AS measure_category
    FROM people_person p WHERE p.id >= %(first)s AND p.id < %(last)s
),
placed AS (
    SELECT p.*, pol.id AS policy_id, pol.measure_type, pol.days, pol.checks_per_day,
           %(today)s::date - (p.k * 37 %% (pol.days + 1))::int AS start_date
    FROM person p JOIN policy pol ON pol.category = p.measure_category
)
INSERT INTO measures_measure (
    person_id, type, category, reason, policy_id, phase, first_course_day, start_date,
    planned_end, status, facility_id, room_id, address, region_id,
    responsible_organisation_id, checks_per_day, end_note, created_at)
SELECT
    p.id, p.measure_type, p.measure_category, '', p.policy_id, 1, 1, p.start_date,
    p.start_date + p.days, 'active', room.facility_id, room.id,
    coalesce(room.address, p.address), p.grid_id,
    coalesce(room.organisation_id, committee.organisation_id), p.checks_per_day, '',
    least(
        (p.start_date + make_interval(hours => 8, mins => (p.k * 13 %% 720)::int))
            AT TIME ZONE %(tz)s,
        %(now)s::timestamptz - interval '10 minutes'
    )
FROM placed p
LEFT JOIN room ON room.k = p.k AND p.measure_category = 'secondary_contact'
LEFT JOIN committee ON committee.grid_id = p.grid_id
ORDER BY p.id
"""

ROOMS_SQL = """
UPDATE measures_room r SET occupants = 1, status = 'occupied'
FROM measures_measure m WHERE m.room_id = r.id AND m.status = 'active'
"""

# Persons [first, last) released at home up to 19 days ago, after the policy's full length.
RELEASED_SQL = f"""
WITH {POLICIES_CTE},
person AS (
    SELECT p.*, p.id - %(first)s + 1 AS k,
           CASE
               WHEN p.id %% 100 < 45 THEN 'returnee'
               WHEN p.id %% 100 < 70 THEN 'medium_risk_arrival'
               WHEN p.id %% 100 < 85 THEN 'high_risk_post'
               ELSE 'released_centralised'
           END AS measure_category
    FROM people_person p WHERE p.id >= %(first)s AND p.id < %(last)s
),
placed AS (
    SELECT p.*, pol.id AS policy_id, pol.measure_type, pol.days, pol.checks_per_day,
           %(today)s::date - (p.id * 37 %% 20)::int AS planned_end
    FROM person p JOIN policy pol ON pol.category = p.measure_category
)
INSERT INTO measures_measure (
    person_id, type, category, reason, policy_id, phase, first_course_day, start_date,
    planned_end, ended_at, status, address, region_id, responsible_organisation_id,
    checks_per_day, end_note, created_at)
SELECT
    p.id, p.measure_type, p.measure_category, '', p.policy_id, 1, 1, p.planned_end - p.days,
    p.planned_end,
    least(
        (p.planned_end + make_interval(hours => 9, mins => (p.k %% 120)::int))
            AT TIME ZONE %(tz)s,
        %(now)s::timestamptz - interval '5 minutes'
    ),
    'released', p.address, p.grid_id, committee.organisation_id, p.checks_per_day, '',
    ((p.planned_end - p.days) + make_interval(hours => 8, mins => (p.k * 13 %% 720)::int))
        AT TIME ZONE %(tz)s
FROM placed p LEFT JOIN committee ON committee.grid_id = p.grid_id
ORDER BY p.id
"""

# Readings of the measures of a status: slot s of a day at 08:00 + s × 14 h / checks_per_day,
# within 90 minutes, while the measure ran; 1 in 25 missed, 1 in 997 abnormal (37.6 ℃).
CHECKS_SQL = """
INSERT INTO measures_healthcheck (
    measure_id, region_id, checked_at, day, temperature, symptoms, note, abnormal, source)
SELECT m.id, m.region_id, slot.at, day.d::date,
       CASE WHEN slot.abnormal THEN 37.6 ELSE 36.0 + (slot.n %% 11) / 10.0 END,
       '[]'::jsonb, '', slot.abnormal, 'self'
FROM measures_measure m
CROSS JOIN LATERAL generate_series(
    m.start_date::timestamp,
    least(coalesce((m.ended_at AT TIME ZONE %(tz)s)::date, %(today)s::date), %(today)s::date)
        ::timestamp,
    interval '1 day'
) AS day(d)  -- local midnights (timestamp without time zone)
CROSS JOIN LATERAL generate_series(0, m.checks_per_day - 1) AS s(i)
CROSS JOIN LATERAL (
    SELECT (day.d + make_interval(
                hours => 8 + s.i * 14 / m.checks_per_day,
                mins => ((m.id * 31 + (day.d::date - m.start_date) * 17 + s.i * 7) %% 90)::int
           )) AT TIME ZONE %(tz)s AS at,
           m.id * 3 + (day.d::date - m.start_date) * 2 + s.i AS n,
           (m.id * 7 + (day.d::date - m.start_date) * 3 + s.i) %% 997 = 0 AS abnormal
) AS slot
WHERE m.status = %(status)s
  AND slot.at >= m.created_at
  AND slot.at < coalesce(m.ended_at, %(now)s::timestamptz)
  AND slot.n %% 25 <> 0
"""


@dataclass(frozen=True)
class Schema:
    """The checks table's indexes (but its primary key) and foreign keys, as the catalog has
    them."""

    indexes: tuple[tuple[str, str], ...]  # (name, CREATE INDEX …)
    foreign_keys: tuple[tuple[str, str], ...]  # (name, definition)


def checks_schema() -> Schema:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s"
            " AND indexname <> %s ORDER BY 1",
            [CHECKS_TABLE, f"{CHECKS_TABLE}_pkey"],
        )
        indexes = tuple(cursor.fetchall())
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid = %s::regclass AND contype = 'f' ORDER BY 1",
            [CHECKS_TABLE],
        )
        foreign_keys = tuple(cursor.fetchall())
    return Schema(indexes, foreign_keys)


def drop_schema(schema: Schema) -> None:
    from django.db import connection

    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for name, _definition in schema.foreign_keys:
            cursor.execute(f"ALTER TABLE {CHECKS_TABLE} DROP CONSTRAINT {quote(name)}")
        for name, _definition in schema.indexes:
            cursor.execute(f"DROP INDEX {quote(name)}")


def restore_schema(schema: Schema) -> None:
    from django.db import connection

    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = '512MB'")
        for _name, definition in schema.indexes:
            cursor.execute(definition)
        for name, definition in schema.foreign_keys:
            cursor.execute(f"ALTER TABLE {CHECKS_TABLE} ADD CONSTRAINT {quote(name)} {definition}")


def credentials() -> tuple[str, list[str]]:
    """A bearer token of the API user, and the phone links of LINKS measures in force."""
    from fangyi.accounts.models import User
    from fangyi.accounts.services import create_api_token
    from fangyi.measures import links
    from fangyi.measures.models import Measure

    user = User.objects.get(username=TOKEN_USER)
    _token, raw = create_api_token(user, "bench", created_by=user)
    active = list(Measure.objects.active().order_by("id").only("id", "planned_end"))
    chosen = active[:: max(1, len(active) // LINKS)][:LINKS]
    return raw, [links.self_check_path(measure) for measure in chosen]


# ---------------------------------------------------------------------------------------------
# The server and the load
# ---------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def process(command: list[str], log: Path, env: dict | None = None):
    """A child in its own process group, stopped (the whole group) on the way out."""
    with open(log, "wb") as out:
        child = subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield child
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGTERM)
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait(timeout=5)


@dataclass(frozen=True)
class Server:
    url: str
    pid: int  # the gunicorn master

    def workers(self) -> list[int]:
        return [pid for pid, parent in processes() if parent == self.pid]


def processes() -> list[tuple[int, int]]:
    """(pid, parent pid) of every process."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            found.append((int(entry.name), int(stat.rsplit(")", 1)[1].split()[1])))
    return found


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """User + system CPU time of each process (from /proc/<pid>/stat)."""
    ticks = os.sysconf("SC_CLK_TCK")
    times = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        times[pid] = (int(fields[11]) + int(fields[12])) / ticks
    return times


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot."""
    ticks = os.sysconf("SC_CLK_TCK")
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values) - idle) / ticks, sum(values) / ticks


def database_backends() -> list[int]:
    """The server processes of this database's other connections (the web workers')."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
        )
        return [pid for (pid,) in cursor.fetchall()]


@contextmanager
def server():
    """`fangyi serve` on a free port (and its own Redis when there is one)."""
    var = Path(tempfile.mkdtemp(prefix="fangyi-bench-server-"))
    env = os.environ | {
        "DB_CONN_MAX_AGE": "60",
        "FANGYI_LOG_LEVEL": "WARNING",
        "FANGYI_SELF_CHECK_REQUESTS_PER_ADDRESS_HOUR": "1000000000",
        "PYTHONUNBUFFERED": "1",
    }
    if WORKER_CLASS != "sync":
        env["GUNICORN_CMD_ARGS"] = f"--worker-class {WORKER_CLASS} --threads {THREADS}"
    port = free_port()
    command = [
        *(sys.executable, "-m", "fangyi.cli", "serve"),
        *("--host", "127.0.0.1", "--port", str(port), "--workers", str(WORKERS)),
    ]
    with redis(var) as redis_url:
        if redis_url:
            env["REDIS_URL"] = redis_url
        with process(command, var / "server.log", env) as child:
            url = f"http://127.0.0.1:{port}"
            wait_healthy(url, child, var / "server.log")
            print(
                f"server: {WORKERS} {WORKER_CLASS} workers"
                + (f" × {THREADS} threads" if WORKER_CLASS != "sync" else "")
                + f", rate-limit counters in {'Redis' if redis_url else 'the file cache'}",
                flush=True,
            )
            yield Server(url, child.pid)
    shutil.rmtree(var, ignore_errors=True)


@contextmanager
def redis(var: Path):
    if shutil.which("redis-server") is None:
        yield None
        return
    port = free_port()
    command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    with process([*command, "--appendonly", "no"], var / "redis.log"):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        yield f"redis://127.0.0.1:{port}/0"


def wait_healthy(url: str, child: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise RuntimeError(f"server exited with {child.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"server not healthy after {STARTUP_TIMEOUT} s:\n{log.read_text()}")


@dataclass
class Run:
    requests: int
    accepted: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: dict
    # CPU per request (ms) of the web workers and of their database connections, and the
    # share of the machine's CPU the rest of it (wrk, other jobs) used meanwhile.
    web_cpu_ms: float = 0.0
    db_cpu_ms: float = 0.0
    others_busy: float = 0.0

    @property
    def rate(self) -> float:
        return self.accepted / self.seconds

    @property
    def failed(self) -> int:
        return self.requests - self.accepted + sum(self.errors.values())


def load(
    server: Server, script: Path, accepted: set[int], source: str | None, readings: int = 1
) -> Run:
    """wrk with the script: warm-up, then the measured run. The rows a submitting script
    inserted must be the accepted responses of both (× `readings` per request), give or take
    the requests in flight when wrk stopped (at most one per connection and run: answered,
    but not counted)."""
    from django.db.models import Max

    from fangyi.measures.models import HealthCheck

    mark = HealthCheck.objects.aggregate(last=Max("pk"))["last"]
    warmup = wrk(server.url, script, WARMUP_SECONDS, accepted)
    workers, backends = server.workers(), set(database_backends())
    before, machine_before = cpu_seconds([*workers, *backends]), machine_busy()
    run = wrk(server.url, script, SECONDS, accepted)
    # Connections older than DB_CONN_MAX_AGE are replaced: count the new ones in full.
    backends |= set(database_backends())
    after, machine_after = cpu_seconds([*workers, *backends]), machine_busy()
    spent = {pid: after[pid] - before.get(pid, 0) for pid in after}
    run.web_cpu_ms = sum(spent.get(pid, 0) for pid in workers) * 1000 / run.requests
    run.db_cpu_ms = sum(spent.get(pid, 0) for pid in backends) * 1000 / run.requests
    busy, total = (a - b for a, b in zip(machine_after, machine_before, strict=True))
    ours = sum(spent.values())
    run.others_busy = (busy - ours) / total
    if source is not None:
        inserted = HealthCheck.objects.filter(pk__gt=mark, source=source).count()
        answered = (warmup.accepted + run.accepted) * readings
        print(f"{source}: {inserted} readings inserted, {answered} accepted", flush=True)
        if not answered <= inserted <= answered + 2 * CONNECTIONS * readings:
            raise AssertionError(f"{inserted} readings inserted for {answered} accepted")
    return run


def wrk(url: str, script: Path, seconds: int, accepted: set[int]) -> Run:
    statuses = ", ".join(f"[{status}] = true" for status in sorted(accepted))
    done = script.with_suffix(".done.lua")
    done.write_text(
        script.read_text() + DONE_LUA.replace("ACCEPTED", "{" + statuses + "}"), encoding="utf-8"
    )
    command = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", "-s", str(done)]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    figures = json.loads(re.search(r"^BENCH (.*)$", output, re.MULTILINE).group(1))
    return Run(
        requests=figures["requests"],
        accepted=figures["accepted"],
        seconds=figures["duration_us"] / 1e6,
        p50_ms=figures["p50_us"] / 1000,
        p99_ms=figures["p99_us"] / 1000,
        errors=figures["errors"],
    )


# Counts the accepted responses per thread and prints the figures as JSON.
DONE_LUA = """
local accepted_statuses = ACCEPTED
local threads = {}
function setup(thread)
  thread:set("thread_number", #threads)
  table.insert(threads, thread)
end
accepted = 0
function response(status, headers, body)
  if accepted_statuses[status] and (expect == nil or body:find(expect, 1, true)) then
    accepted = accepted + 1
  end
end
function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do total = total + thread:get("accepted") end
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests": %d, "accepted": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, '
    .. '"errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d}}\\n',
    summary.requests, total, summary.duration, latency:percentile(50),
    latency:percentile(99), e.connect, e.read, e.write, e.timeout))
end
"""


def api_script(scratch: Path, token: str) -> Path:
    """A normal reading for each measure in force in turn (a stride through the ids)."""
    from fangyi.measures.models import Measure

    ids = Measure.objects.active().values_list("id", flat=True)
    first, last, count = min(ids), max(ids), ids.count()
    if last - first + 1 != count:
        raise AssertionError("the ids of the measures in force are not one run")
    path = scratch / "api.lua"
    path.write_text(
        f"""
local first, count = {first}, {count}
wrk.method = "POST"
wrk.body = '{{"temperature": "36.5"}}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {token}"
local n = 0
function request()
  n = n + 1
  local id = first + (thread_number * 100003 + n * 7919) % count
  return wrk.format(nil, "/api/measures/" .. id .. "/checks")
end
"""
    )
    return path


def batch_script(scratch: Path, token: str) -> Path:
    """BATCH normal readings of consecutive measures in force per request (a floor's list)."""
    from fangyi.measures.models import Measure

    ids = Measure.objects.active().values_list("id", flat=True)
    first, count = min(ids), ids.count()
    path = scratch / "batch.lua"
    path.write_text(
        f"""
local first, count, size = {first}, {count}, {BATCH}
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {token}"
local n = 0
function request()
  n = n + 1
  local start = (thread_number * 100003 + n * 7919 * size) % count
  local items = {{}}
  for i = 0, size - 1 do
    local id = first + (start + i) % count
    items[#items + 1] = '{{"measure": ' .. id .. ', "temperature": "36.6"}}'
  end
  local body = '{{"items": [' .. table.concat(items, ",") .. ']}}'
  return wrk.format(nil, "/api/checks/batch", nil, body)
end
"""
    )
    return path


CSRF_SECRET = "benchbenchbenchbenchbenchbench12"


def link_script(scratch: Path, links: list[str]) -> Path:
    """The phone link's form post, one link after the other, with the CSRF cookie and the
    same secret in the form (Django accepts the unmasked secret)."""
    path = scratch / "link.lua"
    table = ",\n".join(f'"{link}"' for link in links)
    path.write_text(
        f"""
local links = {{
{table}
}}
expect = 'id="reading"'
wrk.method = "POST"
wrk.body = "csrfmiddlewaretoken={CSRF_SECRET}&temperature=36.5"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Cookie"] = "csrftoken={CSRF_SECRET}"
local n = 0
function request()
  n = n + 1
  return wrk.format(nil, links[1 + (thread_number * 7 + n) % #links])
end
""",
        encoding="utf-8",
    )
    return path


def healthz_script(scratch: Path) -> Path:
    path = scratch / "healthz.lua"
    path.write_text('wrk.path = "/healthz"\n')
    return path


# ---------------------------------------------------------------------------------------------
# The dashboard
# ---------------------------------------------------------------------------------------------


def measure_dashboard(now: datetime) -> list[float]:
    """Milliseconds of `figures(county_admin, today)`, DASHBOARD_RUNS runs after one."""
    from django.utils import timezone

    from fangyi.accounts.models import User
    from fangyi.measures.dashboard import figures

    user = User.objects.select_related("region").get(username=DASHBOARD_USER)
    today = timezone.localdate(now)
    figures(user, today)
    timings = []
    for _ in range(DASHBOARD_RUNS):
        begin = time.perf_counter()
        result = figures(user, today)
        timings.append((time.perf_counter() - begin) * 1000)
    total = result.total
    print(
        f"dashboard: {total.under_control} under control, {total.new_today} new today, "
        f"{total.released_today} released today, {total.due_tomorrow} due tomorrow, "
        f"{total.abnormal_today} abnormal today, {total.missed_checks} missed checks; "
        f"{len(result.regions)} regions, {len(result.facilities)} facilities",
        flush=True,
    )
    return timings


if __name__ == "__main__":
    main()
