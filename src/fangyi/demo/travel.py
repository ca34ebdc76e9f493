"""Demo arrivals from elsewhere on the demo county (`build.build_demo`, with or without the
other demo modules): what the street offices and grids have on their hands on the day.

- Two published lists of risk areas in other provinces (`matching.publish`): the first 20
  days ago (high, medium and low areas at province, city, district and street/compound
  scale), the second 6 days ago (new areas, one raised from medium to high, one lifted).
- Travel history found by the grids for about 150 residents (some in the areas of the
  second list, so publishing it flagged them, with one verification task per grid).
- About 260 arrivals over the last 14 days through every channel (`services.
  register_arrival`): the person's own phone (half), grid workers, the hotel, employers
  and an import; from risk areas and elsewhere; some reported twice (merged), some ahead of
  their day, a few unwell. Each is classified and placed under its measure; high-risk
  arrivals go to a quarantine facility when the measures demo has built one, else wait
  for the street.
- A canvass round over the first township, launched 3 days ago and due tomorrow, about
  half of its households visited (`canvass.record_visit`).
- The communities' daily reports for the past 3 weeks (`reports.submit_report`): most on
  time, some late, a few missing; zero reports where nothing was found.

Draws come from `random.Random(seed)`; the same seed on the same county gives the same
arrivals. A second run is refused: the first list exists.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from fangyi.accounts.models import User
from fangyi.demo import synth
from fangyi.geo.models import Region
from fangyi.people.models import Household, Person
from fangyi.travel import canvass, matching, reports, services
from fangyi.travel.addresses import resolve_many
from fangyi.travel.models import AreaList, Arrival, HouseholdVisit, Stay

FIRST_LIST = "国务院联防联控机制公布的中高风险地区（第1期）"
SECOND_LIST = "国务院联防联控机制公布的中高风险地区（第2期）"
# (area as published, level) — real places, invented designations.
FIRST_AREAS = [
    ("湖北省武汉市江汉区", "high"),
    ("湖北省武汉市江岸区花桥街道", "high"),
    ("广东省广州市荔湾区", "medium"),
    ("广东省深圳市南山区粤海街道", "medium"),
    ("北京市朝阳区望京街道望京西园三区", "high"),
    ("上海市浦东新区张江镇", "medium"),
    ("四川省成都市锦江区", "medium"),
    ("河南省郑州市金水区", "medium"),
    ("陕西省西安市雁塔区", "medium"),
    ("江苏省南京市", "low"),
    ("黑龙江省哈尔滨市", "low"),
]
SECOND_AREAS = [
    ("陕西省西安市雁塔区", "high", matching.ADD),  # raised
    ("四川省成都市锦江区", "medium", matching.LIFT),  # lifted
    ("新疆维吾尔自治区乌鲁木齐市天山区", "high", matching.ADD),
    ("内蒙古自治区呼和浩特市赛罕区", "medium", matching.ADD),
    ("福建省厦门市思明区", "medium", matching.ADD),
]
# Where arrivals come from: risk areas and elsewhere (detail below the district).
ORIGINS = [
    "湖北省武汉市江汉区民意街道",
    "湖北省武汉市江岸区花桥街道",
    "广东省广州市荔湾区沙面街道",
    "广东省深圳市南山区粤海街道科技园",
    "北京市朝阳区望京街道望京西园三区",
    "上海市浦东新区张江镇",
    "河南省郑州市金水区经八路街道",
    "陕西省西安市雁塔区小寨路街道",
    "新疆维吾尔自治区乌鲁木齐市天山区",
    "内蒙古自治区呼和浩特市赛罕区",
    "福建省厦门市思明区",
    "江苏省南京市玄武区",
    "黑龙江省哈尔滨市南岗区",
    "浙江省杭州市西湖区",
    "浙江省宁波市鄞州区",
    "安徽省合肥市蜀山区",
    "江西省南昌市东湖区",
    "湖南省长沙市岳麓区",
    "山东省济南市历下区",
    "云南省昆明市五华区",
]
ARRIVALS = 260
GRID_STAYS = 150
REPORT_DAYS = 21
VISITED_SHARE = 0.5
LATE_SHARE = 0.06
MISSING_SHARE = 0.04
CHANNELS = [  # (channel, share)
    (Arrival.Channel.SELF, 0.5),
    (Arrival.Channel.GRID, 0.25),
    (Arrival.Channel.HOTEL, 0.1),
    (Arrival.Channel.EMPLOYER, 0.05),
    (Arrival.Channel.IMPORT, 0.1),
]
TRANSPORT = ["train", "train", "plane", "car", "coach"]


@dataclass
class TravelSummary:
    areas: int
    flagged: int
    arrivals: int
    merged: int
    under_measure: int
    pending: int
    visits: int
    reports: int

    def __str__(self) -> str:
        return (
            f"{self.areas} risk areas, {self.flagged} flagged, {self.arrivals} arrivals "
            f"({self.merged} merged, {self.under_measure} under a measure, "
            f"{self.pending} pending), {self.visits} households visited, "
            f"{self.reports} daily reports"
        )


def build_travel(seed: int, *, now: datetime | None = None) -> TravelSummary:
    """Add arrivals, risk areas, canvassing and daily reports (module docstring)."""
    now = now or timezone.now().replace(minute=0, second=0, microsecond=0)
    today = timezone.localdate(now)
    rng = random.Random(seed)
    if AreaList.objects.filter(title=FIRST_LIST).exists():
        raise ValueError("the travel demo is already built")
    users = {u.username: u for u in User.objects.select_related("region", "organisation")}
    grids = list(Region.objects.filter(level=Region.Level.GRID).order_by("path"))
    with transaction.atomic():
        first = publish_list(users, FIRST_LIST, today - timedelta(days=20), FIRST_AREAS)
        grid_stays(rng, today)
        second = publish_list(users, SECOND_LIST, today - timedelta(days=6), SECOND_AREAS)
        arrivals, merged = register_arrivals(rng, users, grids, today, now)
        visits = canvass_half(rng, users, now)
        filed = daily_reports(rng, users, today, now)
    return TravelSummary(
        areas=first.areas_added + second.areas_added,
        flagged=second.persons_flagged + first.persons_flagged,
        arrivals=len(arrivals),
        merged=merged,
        under_measure=sum(a.status == Arrival.Status.MEASURE for a in arrivals),
        pending=sum(a.status == Arrival.Status.PENDING for a in arrivals),
        visits=visits,
        reports=filed,
    )


def publish_list(users, title: str, effective_from: date, lines) -> AreaList:
    entries = [
        matching.AreaEntry(line=i, text=text, level=level, action=rest[0] if rest else "add")
        for i, (text, level, *rest) in enumerate(lines, start=1)
    ]
    return matching.publish(
        users["cdc_epi"],
        title=title,
        effective_from=effective_from,
        entries=entries,
        source="国务院客户端“防疫行程卡”风险地区查询",
    )


def grid_stays(rng: random.Random, today: date) -> None:
    """Stays the grids recorded for residents back from trips (half of them in places of
    the second list, which is published after them and flags them)."""
    persons = list(Person.objects.filter(grid__isnull=False).order_by("id")[:4000])
    chosen = rng.sample(persons, min(GRID_STAYS, len(persons)))
    places = [*ORIGINS[7:11], *ORIGINS[11:]]
    resolved = dict(zip(places, resolve_many(places), strict=True))
    stays = []
    for person in chosen:
        place = rng.choice(places)
        end = today - timedelta(days=rng.randint(1, 13))
        stays.append(
            Stay(
                person=person,
                address=place,
                adcode=resolved[place].adcode,
                detail=resolved[place].detail,
                from_date=end - timedelta(days=rng.randint(1, 6)),
                to_date=end,
                source=Stay.Source.GRID,
            )
        )
    Stay.objects.bulk_create(stays)


def _resident_id(rng: random.Random, adcode: str) -> str:
    born = date(1960, 1, 1) + timedelta(days=rng.randint(0, 16000))
    body = f"{adcode}{born:%Y%m%d}{rng.randint(0, 999):03d}"
    return body + synth.id_check_char(body)


def _name(rng: random.Random) -> str:
    surnames, weights, male, female = synth._name_tables()
    surname = rng.choices(surnames, cum_weights=weights)[0][0]
    pool = rng.choice((male, female))
    return surname + "".join(rng.choice(pool)[0] for _ in range(rng.randint(1, 2)))


def _channel(rng: random.Random) -> str:
    return rng.choices([c for c, _ in CHANNELS], weights=[w for _, w in CHANNELS])[0]


def register_arrivals(rng, users, grids, today: date, now: datetime):
    """Arrivals through every channel: new persons with an ID from their origin, and some
    residents returning; a few reported a second time through another channel."""
    origins = dict(zip(ORIGINS, resolve_many(ORIGINS), strict=True))
    residents = list(Person.objects.filter(grid__isnull=False).order_by("-id")[:600])
    actors = {
        Arrival.Channel.SELF: None,
        Arrival.Channel.GRID: users["grid_a1"],
        Arrival.Channel.HOTEL: users["hotel_clerk"],
        Arrival.Channel.EMPLOYER: users["street_a"],
        Arrival.Channel.IMPORT: users["street_b"],
    }
    arrivals: dict[int, Arrival] = {}
    merged = 0
    for n in range(ARRIVALS):
        origin = rng.choice(ORIGINS)
        channel = _channel(rng)
        grid = users["grid_a1"].region if channel == Arrival.Channel.GRID else rng.choice(grids)
        arrival_day = today - timedelta(days=rng.randint(-2, 13))
        departure = arrival_day - timedelta(days=rng.randint(0, 1))
        returning = residents.pop() if rng.random() < 0.3 and residents else None
        sampled = None
        if rng.random() < 0.7:
            sampled = timezone.make_aware(
                datetime.combine(departure - timedelta(days=rng.randint(0, 3)), time(9))
            )
        unwell = rng.random() < 0.03
        data = services.ArrivalData(
            name=returning.name if returning else _name(rng),
            person=returning,
            id_number=_resident_id(rng, origins[origin].adcode) if not returning else "",
            phone=f"13{rng.randint(0, 999_999_999):09d}" if not returning else "",
            grid=returning.grid if returning else grid,
            origin=origin,
            stay_from=departure - timedelta(days=rng.randint(3, 60)),
            departure_date=departure,
            arrival_date=arrival_day,
            transport=rng.choice(TRANSPORT),
            transport_number=f"G{rng.randint(100, 9999)}" if rng.random() < 0.6 else "",
            destination=(returning.address if returning else "")
            or f"{grid.full_name}{rng.randint(1, 60)}号",
            has_certificate=sampled is not None,
            certificate_sampled_at=sampled,
            temperature=Decimal("38.1") if unwell else Decimal("36.5"),
            symptoms=["fever", "cough"] if unwell else [],
        )
        organisation = users["hotel_clerk"].organisation if channel == "hotel" else None
        # Registered on the day of arrival (or now, for those reported ahead).
        when = min(now, timezone.make_aware(datetime.combine(arrival_day, time(10 + n % 8))))
        arrival, created = services.register_arrival(
            actors[channel], data, channel=channel, organisation=organisation, now=when
        )
        arrivals[arrival.pk] = arrival
        if created and rng.random() < 0.08:  # the grid registers it again: merged
            data.person = arrival.person
            services.register_arrival(None, data, channel="grid", now=when)
            merged += 1
    return list(Arrival.objects.filter(pk__in=arrivals)), merged


def canvass_half(rng: random.Random, users, now: datetime) -> int:
    """A round over the first township launched 3 days ago, due tomorrow evening; about
    half of its households visited since, by their grid's worker."""
    street = users["street_a"]
    launched = now - timedelta(days=3)
    canvass_round = canvass.launch_round(
        street,
        name=f"{street.region.name}第一轮入户排查",
        region=street.region,
        deadline=timezone.make_aware(
            datetime.combine(timezone.localdate(now) + timedelta(days=1), time(18))
        ),
        instructions="逐户核实在住人员，重点排查14天内外地来（返）人员，做到不漏户、不漏人。",
        now=launched,
    )
    households = list(
        Household.objects.filter(grid__path__startswith=street.region.path)
        .prefetch_related("members")
        .order_by("grid__path", "code")
    )
    visited = 0
    for household in households:
        if rng.random() >= VISITED_SHARE:
            continue
        members = list(household.members.all())
        found = [m for m in members if rng.random() < 0.9]
        outcome = HouseholdVisit.Outcome.VISITED if found else HouseholdVisit.Outcome.NOBODY_HOME
        when = launched + timedelta(hours=rng.randint(2, 70))
        canvass.record_visit(
            street,
            household,
            canvass_round=canvass_round,
            visited_on=timezone.localdate(when),
            outcome=outcome,
            found_persons=found,
            arrivals_found=1 if rng.random() < 0.03 else 0,
            now=when,
        )
        visited += 1
    return visited


def daily_reports(rng: random.Random, users, today: date, now: datetime) -> int:
    """The communities' reports of the last 3 weeks (and today's from those already in):
    mostly on time, some late, a few missing; zero reports on quiet days."""
    communities = list(Region.objects.filter(level=Region.Level.VILLAGE).order_by("path"))
    # Each report by the nearest demo user above the community (its committee in the demo
    # is only community_a's; the streets stand in for the others).
    staff = [users[n] for n in ("community_a", "street_a", "street_b", "county_admin")]
    filed = 0
    for offset in range(REPORT_DAYS, -1, -1):
        day = today - timedelta(days=offset)
        reports.open_report_tasks(day)
        figures = reports.community_figures(communities, day)
        for community in communities:
            draw = rng.random()
            if draw < MISSING_SHARE:
                continue
            hour = rng.randint(13, 18) if draw < MISSING_SHARE + LATE_SHARE else rng.randint(8, 12)
            submitted = timezone.make_aware(datetime.combine(day, time(hour, rng.randint(0, 59))))
            if submitted > now:
                continue  # not yet in today
            quiet = figures[community.pk].nothing_new
            reports.submit_report(
                next(u for u in staff if community.path.startswith(u.region.path)),
                community,
                day,
                is_zero=quiet and rng.random() < 0.8,
                signed_by=_name(rng),
                figures=figures[community.pk],
                now=submitted,
            )
            filed += 1
    return filed
