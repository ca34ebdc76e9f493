"""Builders for the travel tests: stays recorded directly, lists published through the
service, arrivals registered through the one registration path."""

from datetime import date, timedelta

import pytest
from django.utils import timezone

from fangyi.geo.models import Organisation, Region
from fangyi.people.models import Household
from fangyi.people.services import create_person
from fangyi.travel import matching, services
from fangyi.travel.models import Stay


@pytest.fixture
def today() -> date:
    return timezone.localdate()


@pytest.fixture
def stay():
    """stay(person, "湖北省武汉市江汉区…", from_days_ago, to_days_ago) → a recorded stay."""

    def make(person, address, from_ago, to_ago, source=Stay.Source.GRID):
        from fangyi.travel.addresses import resolve

        place = resolve(address)
        today = timezone.localdate()
        return Stay.objects.create(
            person=person,
            address=address,
            adcode=place.adcode,
            detail=place.detail,
            from_date=today - timedelta(days=from_ago),
            to_date=today - timedelta(days=to_ago),
            source=source,
        )

    return make


@pytest.fixture
def publish(users):
    """publish([("湖北省武汉市江汉区", "high"), …], effective_from=…) → the AreaList."""

    def make(lines, *, effective_from=None, title="测试名单", actor=None):
        entries = [
            matching.AreaEntry(line=i, text=text, level=level, action=action)
            for i, (text, level, *rest) in enumerate(lines, start=1)
            for action in [rest[0] if rest else matching.ADD]
        ]
        return matching.publish(
            actor or users["cdc_epi"],
            title=title,
            effective_from=effective_from or timezone.localdate(),
            entries=entries,
        )

    return make


@pytest.fixture
def arrival_data(users):
    """arrival_data(grid, origin="…", days_ago=1, **overrides) → ArrivalData for a new person."""
    counter = iter(range(1, 10_000))

    def make(grid, *, origin="湖北省武汉市江汉区花楼街道", days_ago=1, **overrides):
        today = timezone.localdate()
        n = next(counter)
        fields = {
            "name": f"来返{n}",
            "grid": grid,
            "origin": origin,
            "stay_from": today - timedelta(days=days_ago + 10),
            "departure_date": today - timedelta(days=days_ago),
            "arrival_date": today - timedelta(days=days_ago),
            "transport": "train",
            "destination": f"{grid.full_name}{n}号",
            "id_type": "passport",
            "id_number": f"E{n:08d}",
            "phone": f"139{n:08d}",
        }
        fields.update(overrides)
        return services.ArrivalData(**fields)

    return make


def new_region(parent, code, name, level):
    return Region.objects.create(code=code, name=name, level=level, parent=parent)


@pytest.fixture
def area(users):
    """(village, [grid one, grid two], {grid id: [households]}) — see build_area."""
    return build_area(users)


def build_area(users):
    """A new community in street_a's township with two grids: grid one has three households
    of two members, grid two has two households of one member; plus its committee."""
    township = users["street_a"].region
    village = new_region(township, f"{township.code}901", "测试社区", Region.Level.VILLAGE)
    Organisation.objects.create(
        name="测试社区居委会", type=Organisation.Type.VILLAGE_COMMITTEE, region=village
    )
    grids = [
        new_region(village, f"{village.code}01", "一网格", Region.Level.GRID),
        new_region(village, f"{village.code}02", "二网格", Region.Level.GRID),
    ]
    households = {}
    for grid, count, size in ((grids[0], 3, 2), (grids[1], 2, 1)):
        for n in range(count):
            household = Household.objects.create(
                code=f"T{grid.code}{n}", address=f"{grid.name}{n + 1}号", grid=grid
            )
            for m in range(size):
                create_person(
                    None,
                    {
                        "name": f"张{grid.name}{n}{m}",
                        "id_type": "none",
                        "sex": "male",
                        "birth_date": date(1980, 1, 1),
                        "grid": grid,
                        "household": household,
                    },
                )
            households.setdefault(grid.pk, []).append(household)
    return village, grids, households


@pytest.fixture
def grid(users):
    return users["grid_a1"].region


@pytest.fixture
def risk_list(publish, today, facility):
    """Areas in force for a month: a high, a medium and a low one (a facility has rooms)."""
    return publish(
        [("湖北省武汉市江汉区", "high"), ("湖南省长沙市岳麓区", "medium"), ("江苏省南京市", "low")],
        effective_from=today - timedelta(days=30),
    )
