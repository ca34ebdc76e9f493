"""Builds the demo county in the database from the synthetic data in `synth`.

The same people as the tests' canonical world: county_admin, street_a, street_b, grid_a1,
grid_b1… (see DEMO_USERS)."""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice

from django.contrib.auth.hashers import make_password
from django.db import transaction

from fangyi.accounts.models import Role, User
from fangyi.accounts.roles import RoleCode
from fangyi.demo import synth
from fangyi.geo.models import Organisation, Place, Region
from fangyi.people.models import Household, KeyGroup, Person

DEMO_PASSWORD = "fangyi-demo-2026"
Org = Organisation.Type


@dataclass(frozen=True)
class DemoUser:
    username: str
    role: str
    # "county", "street_a"/"street_b" (1st/2nd township), "village_a" (grid_a's community),
    # "grid_a"/"grid_b"
    scope: str
    organisation_type: str
    last_name: str
    first_name: str


DEMO_USERS = [
    DemoUser("county_admin", RoleCode.ADMIN, "county", Org.HEALTH_COMMISSION, "管", "理员"),
    DemoUser("commander", RoleCode.COMMANDER, "county", Org.HEALTH_COMMISSION, "周", "指挥"),
    DemoUser("cdc_epi", RoleCode.CDC_EPIDEMIOLOGIST, "county", Org.CDC, "陈", "流调"),
    DemoUser("cdc_reviewer", RoleCode.CDC_REVIEWER, "county", Org.CDC, "吴", "审核"),
    DemoUser("clinician", RoleCode.CLINICIAN, "county", Org.DESIGNATED_HOSPITAL, "林", "医生"),
    DemoUser("lab_staff", RoleCode.LAB_STAFF, "county", Org.LAB, "何", "检验"),
    DemoUser("street_a", RoleCode.STREET_WORKER, "street_a", Org.STREET_OFFICE, "赵", "街道甲"),
    DemoUser("street_b", RoleCode.STREET_WORKER, "street_b", Org.STREET_OFFICE, "钱", "街道乙"),
    DemoUser("grid_a1", RoleCode.GRID_WORKER, "grid_a", Org.VILLAGE_COMMITTEE, "孙", "网格甲"),
    DemoUser("grid_b1", RoleCode.GRID_WORKER, "grid_b", Org.VILLAGE_COMMITTEE, "李", "网格乙"),
    DemoUser(
        "facility_staff", RoleCode.FACILITY_STAFF, "county", Org.QUARANTINE_FACILITY, "郑", "隔离"
    ),
    DemoUser("school_doctor", RoleCode.SCHOOL_DOCTOR, "street_a", Org.SCHOOL, "王", "校医"),
    DemoUser("pharmacy_clerk", RoleCode.PHARMACY_CLERK, "street_a", Org.PHARMACY, "冯", "药师"),
    DemoUser(
        "supplies_officer", RoleCode.SUPPLIES_OFFICER, "county", Org.HEALTH_COMMISSION, "褚", "物资"
    ),
    # The committee of grid_a1's community: submits its daily report.
    DemoUser(
        "community_a", RoleCode.STREET_WORKER, "village_a", Org.VILLAGE_COMMITTEE, "蒋", "社区甲"
    ),
    DemoUser("hotel_clerk", RoleCode.REPORTING_UNIT, "street_a", Org.HOTEL, "沈", "前台"),
]

# Organisations: county-wide ones, then one of each kind per township and per village.
COUNTY_ORGANISATIONS = [
    (Org.HEALTH_COMMISSION, "{county}卫生健康局"),
    (Org.CDC, "{county}疾病预防控制中心"),
    (Org.DESIGNATED_HOSPITAL, "{county}人民医院"),
    (Org.RESERVE_HOSPITAL, "{county}中医院"),
    (Org.HOSPITAL, "{county}妇幼保健院"),
    (Org.LAB, "{county}疾控中心检验科"),
    (Org.QUARANTINE_FACILITY, "{county}第一集中隔离医学观察点"),
    (Org.QUARANTINE_FACILITY, "{county}第二集中隔离医学观察点"),
]
TOWNSHIP_ORGANISATIONS = [
    (Org.STREET_OFFICE, "{name}办事处"),
    (Org.TOWNSHIP_HEALTH_CENTRE, "{name}卫生院"),
    (Org.SCHOOL, "{name}中心小学"),
    (Org.KINDERGARTEN, "{name}中心幼儿园"),
    (Org.PHARMACY, "{name}惠民大药房"),
    (Org.MARKET, "{name}农贸市场"),
    (Org.ENTERPRISE, "{name}食品有限公司"),
    (Org.PRIVATE_CLINIC, "{name}诊所"),
    (Org.HOTEL, "{name}宾馆"),
]
VILLAGE_ORGANISATIONS = [
    (Org.VILLAGE_COMMITTEE, "{name}委会"),
    (Org.VILLAGE_CLINIC, "{name}卫生室"),
]
TOWNSHIP_PLACES = [
    (Place.Type.MARKET, "{name}农贸市场"),
    (Place.Type.RESTAURANT, "{name}老街饭店"),
    (Place.Type.STATION, "{name}汽车站"),
    (Place.Type.SCHOOL, "{name}中心小学"),
]


@dataclass
class DemoSummary:
    regions: int
    organisations: int
    persons: int
    users: int


def build_demo(persons: int = 20_000, seed: int = 2026, batch_size: int = 5000) -> DemoSummary:
    with transaction.atomic():
        regions = create_regions(synth.region_tree(seed))
        organisations = create_organisations(regions)
        create_places(regions)
        users = create_users(regions, organisations)
    grids = [r for r in regions.values() if r.level == Region.Level.GRID]
    addresses = synth.grid_addresses(list(_specs_of(regions)))
    rows = synth.persons(seed, persons, [g.code for g in grids], addresses)
    created = 0
    for chunk in _chunks(rows, batch_size):
        with transaction.atomic():
            created += insert_person_rows(chunk, regions)
    return DemoSummary(len(regions), len(organisations), created, len(users))


def _specs_of(regions: dict[str, Region]) -> Iterator[synth.RegionSpec]:
    for r in regions.values():
        parent = r.parent.code if r.parent else None
        yield synth.RegionSpec(r.code, r.name, r.level, parent, "")


def _chunks(items: Iterable, size: int) -> Iterator[list]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def create_regions(specs: list[synth.RegionSpec]) -> dict[str, Region]:
    """Insert the tree level by level (parents first), in bulk."""
    regions: dict[str, Region] = {}
    for level in Region.LEVEL_ORDER:
        batch = []
        for spec in specs:
            if spec.level != level:
                continue
            region = Region(code=spec.code, name=spec.name, level=spec.level)
            region.parent = regions[spec.parent_code] if spec.parent_code else None
            region.fill_derived()
            batch.append(region)
        for region in Region.objects.bulk_create(batch):
            regions[region.code] = region
    return regions


def create_organisations(regions: dict[str, Region]) -> list[Organisation]:
    county = next(r for r in regions.values() if r.level == Region.Level.COUNTY)
    batch = [
        Organisation(type=kind, name=pattern.format(county=county.name), region=county)
        for kind, pattern in COUNTY_ORGANISATIONS
    ]
    for region in regions.values():
        patterns = {
            Region.Level.TOWNSHIP: TOWNSHIP_ORGANISATIONS,
            Region.Level.VILLAGE: VILLAGE_ORGANISATIONS,
        }.get(region.level, [])
        name = region.name.removesuffix("街道").removesuffix("镇").removesuffix("乡")
        for kind, pattern in patterns:
            label = region.name if kind == Org.VILLAGE_COMMITTEE else name
            batch.append(Organisation(type=kind, name=pattern.format(name=label), region=region))
    return Organisation.objects.bulk_create(batch)


def create_places(regions: dict[str, Region]) -> None:
    Place.objects.bulk_create(
        Place(
            type=kind,
            name=pattern.format(name=region.name),
            region=region,
            address=f"{region.full_name}{kind.label}",
        )
        for region in regions.values()
        if region.level == Region.Level.TOWNSHIP
        for kind, pattern in TOWNSHIP_PLACES
    )


def demo_user_regions(regions: dict[str, Region]) -> dict[str, Region]:
    """The region each demo scope stands for: the first two townships and a grid of each."""
    ordered = sorted(regions.values(), key=lambda r: r.path)
    county = next(r for r in ordered if r.level == Region.Level.COUNTY)
    townships = [r for r in ordered if r.level == Region.Level.TOWNSHIP][:2]

    def first_grid(township: Region) -> Region:
        return next(
            r for r in ordered if r.level == Region.Level.GRID and r.path.startswith(township.path)
        )

    grid_a = first_grid(townships[0])
    return {
        "county": county,
        "street_a": townships[0],
        "street_b": townships[1],
        "village_a": grid_a.parent,
        "grid_a": grid_a,
        "grid_b": first_grid(townships[1]),
    }


def create_users(regions: dict[str, Region], organisations: list[Organisation]) -> list[User]:
    scopes = demo_user_regions(regions)
    password = make_password(DEMO_PASSWORD)
    roles = {role.code: role for role in Role.objects.all()}
    users = []
    for demo in DEMO_USERS:
        region = scopes[demo.scope]
        organisation = _organisation_for(organisations, demo.organisation_type, region)
        user = User.objects.create(
            username=demo.username,
            password=password,
            region=region,
            organisation=organisation,
            last_name=demo.last_name,
            first_name=demo.first_name,
            is_staff=demo.role == RoleCode.ADMIN,
        )
        user.roles.add(roles[demo.role])
        users.append(user)
    return users


def _organisation_for(organisations, kind: str, region: Region) -> Organisation | None:
    """The organisation of that type closest above the region (grid → village → township)."""
    candidates = [
        o for o in organisations if o.type == kind and region.path.startswith(o.region.path)
    ]
    return max(candidates, key=lambda o: len(o.region.path), default=None)


def insert_person_rows(rows: list[synth.PersonRow], regions: dict[str, Region]) -> int:
    households = {
        key: Household(code=key, address=row.address, grid=regions[row.grid_code])
        for row in rows
        for key in [row.household_key]
    }
    existing = set(Household.objects.filter(code__in=households).values_list("code", flat=True))
    Household.objects.bulk_create([h for k, h in households.items() if k not in existing])
    household_ids = dict(Household.objects.filter(code__in=households).values_list("code", "id"))
    persons = [person_from_row(row, regions, household_ids) for row in rows]
    Person.objects.bulk_create(persons)
    key_groups = dict(KeyGroup.objects.values_list("code", "id"))
    Person.key_groups.through.objects.bulk_create(
        Person.key_groups.through(person_id=person.pk, keygroup_id=key_groups[code])
        for person, row in zip(persons, rows, strict=True)
        for code in row.key_groups
    )
    return len(persons)


def person_from_row(
    row: synth.PersonRow, regions: dict[str, Region], household_ids: dict[str, int]
) -> Person:
    person = Person(
        name=row.name,
        name_pinyin=row.name_pinyin,
        name_initials=row.name_initials,
        id_type=row.id_type,
        sex=row.sex,
        birth_date=row.birth_date,
        nationality="" if row.id_type == Person.IdType.PASSPORT else "中国",
        address=row.address,
        grid=regions[row.grid_code],
        household_id=household_ids.get(row.household_key),
        category=row.category,
        workplace=row.workplace,
    )
    person.set_id_number(row.id_number)
    person.set_phone(row.phone)
    return person
