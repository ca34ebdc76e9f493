"""Benchmark: publishing a list of 500 risk areas against 1,000,000 persons with 3,000,000
recorded stays, on PostgreSQL; everyone whose stays match is flagged.

    make bench NAME=risk_area_publish
    BENCH_PERSONS=100000 BENCH_STAYS=300000 make bench NAME=risk_area_publish   # quick check

Generation (not timed). The database in DATABASE_URL (PostgreSQL only: it is wiped) gets its
tables dropped and re-created by `migrate`; `build_demo` (few persons) gives the regions,
organisations and demo users; persons up to `BENCH_PERSONS` are added in SQL with a name and
a grid (`bench.check_submissions.PERSONS_SQL`). Then `BENCH_STAYS` stays in one INSERT …
SELECT over generate_series, every value a function of the row number n: the person
n mod persons (so three stays each at the default scale), a county-level code among the
national list's (cpca rank 2, about 2,800 after the "市辖区" placeholders), a quarter of
them with a street or town below it (one of eight common names and a number), the last day
0–29 days ago and 1–6 days long. `VACUUM ANALYZE`.

The list (`BENCH_AREAS`, 500), drawn from the seed and written as a notice would name the
places, resolved by the same resolver as the stays: 1 province, 9 cities, 290 districts and
200 streets/towns (the eight names, in other districts); a fifth high, the rest medium. It
takes effect 14 days ago (notices date areas from the first case), so every stay of the
look-back window is a candidate.

Figures: `publish_seconds`, the wall time of `matching.publish` until its transaction has
committed, when the flags become visible (resolve, check, store the areas, flag, tasks and
alerts per grid, then the commit); `commit_seconds`, the commit alone: PostgreSQL checks the
flags' deferred foreign keys then; `flag_seconds`, the flagging as the list records it
(`AreaList.flag_seconds`: the INSERT … SELECT statements and the tasks, not the commit);
`persons_flagged`. The outcome is checked: the flags
of 200 persons drawn from the seed agree with `matching.matches_of` (the rule computed per
person). `BENCH_EXPLAIN=1` prints `EXPLAIN (ANALYZE, BUFFERS)` of the matching statements.
"""

from __future__ import annotations

import os
import random
import time
from datetime import timedelta

SEED = 2026
PERSONS = int(os.environ.get("BENCH_PERSONS", "1000000"))
STAYS = int(os.environ.get("BENCH_STAYS", "3000000"))
AREAS = int(os.environ.get("BENCH_AREAS", "500"))
EXPLAIN = os.environ.get("BENCH_EXPLAIN", "") == "1"
DEMO_PERSONS = 2000
TIME_ZONE = "Asia/Shanghai"
EFFECTIVE_DAYS_AGO = 14
CHECKED_PERSONS = 200
# Streets and towns (名) found in many counties: the localities of stays and of areas.
STREETS = [
    "新华街道",
    "人民路街道",
    "解放街道",
    "城关镇",
    "城南街道",
    "东城街道",
    "西城街道",
    "中山街道",
]
# Areas of each scale per 500 (the rest of a list: districts).
MIX = {"province": 1, "city": 9, "locality": 200}


def main() -> None:
    from django.db import connection

    from bench.person_search import Stopwatch, reset_database

    if connection.vendor != "postgresql":
        raise SystemExit("risk_area_publish needs DATABASE_URL pointing at PostgreSQL (wiped)")
    started = time.perf_counter()
    reset_database()
    step = Stopwatch(started)
    step("reset (drop tables, migrate)")
    today = generate(step)
    print(f"generated in {time.perf_counter() - started:.1f} s", flush=True)

    entries = area_entries()
    area_list, seconds, commit = publish(entries, today)
    check_outcome(area_list, today)
    if EXPLAIN:
        explain(area_list, today)
    print(
        f"list: {area_list.areas_added} areas added ({scales_of(area_list)}), "
        f"{area_list.persons_flagged} persons flagged"
    )
    print(f"RESULT commit_seconds {commit:.2f} s")
    print(f"RESULT publish_seconds {seconds:.2f} s")
    print(f"RESULT persons_flagged {area_list.persons_flagged} persons")
    print(f"RESULT flag_seconds {area_list.flag_seconds:.2f} s")


# ---------------------------------------------------------------------------------------------
# Generation
# ---------------------------------------------------------------------------------------------


def county_codes() -> list[str]:
    from fangyi.travel.addresses import MUNICIPAL_DISTRICTS, cpca

    return sorted(
        key[:6]
        for key, info in cpca.ad_2_addr_dict.items()
        if info.rank == 2 and info.name != MUNICIPAL_DISTRICTS
    )


def generate(step):
    """The county, the persons and their stays (module docstring); returns today."""
    from django.db import connection
    from django.utils import timezone

    from bench.check_submissions import NAMES, PERSONS_SQL
    from fangyi.demo.build import build_demo

    now = timezone.now().replace(second=0, microsecond=0)
    today = timezone.localdate(now)
    build_demo(persons=DEMO_PERSONS, seed=SEED)
    step(f"demo county ({DEMO_PERSONS} persons)")
    with connection.cursor() as cursor:
        cursor.execute(
            PERSONS_SQL, {"now": now, "count": PERSONS - DEMO_PERSONS, "tz": TIME_ZONE, **NAMES}
        )
        step(f"{PERSONS - DEMO_PERSONS} more persons")
        codes = county_codes()
        params = {
            "stays": STAYS,
            "codes": codes,
            "streets": STREETS,
            "today": today,
            "now": now,
        }
        cursor.execute(STAYS_SQL, params)
        step(f"{cursor.rowcount} stays over {len(codes)} county codes")
        cursor.execute("VACUUM ANALYZE")
    step("VACUUM ANALYZE")
    return today


STAYS_SQL = """
WITH code AS (
    SELECT ordinality - 1 AS k, c FROM unnest(%(codes)s::text[]) WITH ORDINALITY AS u(c, ordinality)
),
person AS (
    SELECT id, row_number() OVER (ORDER BY id) - 1 AS k FROM people_person
),
stay AS (
    SELECT n,
           n %% (SELECT count(*) FROM people_person) AS person_k,
           (n * 7919 + n / 3) %% (SELECT count(*) FROM code) AS code_k,
           CASE WHEN n %% 4 = 0
                THEN (%(streets)s::text[])[1 + (n / 4) %% 8] || (1 + n %% 97) || '号'
                ELSE '' END AS detail,
           %(today)s::date - ((n * 13) %% 30)::int AS to_date,
           (n %% 6)::int AS length
    FROM generate_series(0::bigint, %(stays)s - 1) AS n
)
INSERT INTO travel_stay (person_id, address, adcode, detail, from_date, to_date, source, created_at)
SELECT p.id, c.c || s.detail, c.c, s.detail, s.to_date - s.length, s.to_date, 'import', %(now)s
FROM stay s
JOIN person p ON p.k = s.person_k
JOIN code c ON c.k = s.code_k
ORDER BY s.n
"""


# ---------------------------------------------------------------------------------------------
# The list and its publication
# ---------------------------------------------------------------------------------------------


def area_entries():
    """AREAS lines as a notice names them, every one resolvable and distinct (module
    docstring)."""
    from fangyi.travel import matching
    from fangyi.travel.addresses import name_of

    rng = random.Random(SEED)
    codes = county_codes()
    provinces = sorted({code[:2] + "0000" for code in codes})
    cities = sorted({code[:4] + "00" for code in codes if code[2:4] != "90"})
    scale = {name: round(count * AREAS / 500) for name, count in MIX.items()}
    texts = [name_of(code) for code in rng.sample(provinces, scale["province"])]
    texts += [name_of(code) for code in rng.sample(cities, scale["city"] * 2)]
    districts = rng.sample(codes, AREAS * 2)
    texts += [name_of(code) + rng.choice(STREETS) for code in districts[: scale["locality"] * 2]]
    texts += [name_of(code) for code in districts[scale["locality"] * 2 :]]
    candidates = [
        matching.AreaEntry(line=i, text=text, level="high" if rng.random() < 0.2 else "medium")
        for i, text in enumerate(texts, start=1)
    ]
    usable = matching.check_entries(candidates).entries  # cpca cannot name them all back
    wanted = {**scale, "district": AREAS - sum(scale.values())}
    chosen = []
    for entry in usable:
        kind = entry.resolution.scale
        if wanted.get(kind, 0) > 0:
            wanted[kind] -= 1
            chosen.append(entry)
    if len(chosen) != AREAS:
        raise AssertionError(f"only {len(chosen)} usable areas, still wanted {wanted}")
    for line, entry in enumerate(chosen, start=1):
        entry.line, entry.resolution = line, None
    return chosen


def publish(entries, today):
    """`matching.publish` until its transaction has committed (the flags are seen then);
    returns the list, the seconds and the seconds of the commit alone."""
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from fangyi.travel import matching

    actor = get_user_model().objects.get(username="cdc_epi")
    started = time.perf_counter()
    with transaction.atomic():  # publish's own; its end is timed apart
        area_list = matching.publish(
            actor,
            title=f"风险地区名单（{len(entries)}个）",
            effective_from=today - timedelta(days=EFFECTIVE_DAYS_AGO),
            entries=entries,
        )
        returned = time.perf_counter()
    committed = time.perf_counter()
    return area_list, committed - started, committed - returned


def scales_of(area_list) -> str:
    from django.db.models import Count

    rows = area_list.areas.values_list("scale").annotate(n=Count("id")).order_by("scale")
    return ", ".join(f"{scale} {n}" for scale, n in rows)


def check_outcome(area_list, today) -> None:
    """The flags of persons drawn from the seed agree with the rule computed per person."""
    from django.db.models import Max, Min

    from fangyi.people.models import Person
    from fangyi.travel import matching
    from fangyi.travel.models import RiskFlag

    bounds = Person.objects.aggregate(first=Min("id"), last=Max("id"))
    rng = random.Random(SEED + 1)
    flagged = set(
        RiskFlag.objects.filter(area__area_list=area_list).values_list("person_id", flat=True)
    )
    if len(flagged) != area_list.persons_flagged:
        raise AssertionError(f"{len(flagged)} flagged, list says {area_list.persons_flagged}")
    sample = [rng.randint(bounds["first"], bounds["last"]) for _ in range(CHECKED_PERSONS)]
    sample += rng.sample(sorted(flagged), min(CHECKED_PERSONS // 2, len(flagged)))
    for person_id in sample:
        matches = matching.matches_of(person_id, today)
        if bool(matches) != (person_id in flagged):
            raise AssertionError(f"person {person_id}: flagged {person_id in flagged}, {matches}")
    print(f"outcome checked on {len(sample)} persons against matches_of", flush=True)


def explain(area_list, today) -> None:
    from django.db import connection

    from fangyi.travel import matching

    params = matching.match_params(today, list_id=area_list.pk)
    with connection.cursor() as cursor:
        for select in matching._match_statements("AND a.area_list_id = %(list_id)s"):
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + select, params)
            print("\n".join(row[0] for row in cursor.fetchall()), flush=True)
