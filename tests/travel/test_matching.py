"""Risk areas against travel history: addresses resolved to codes, the edges of the date
windows, the people a newly published list flags, and the history of an area."""

from datetime import timedelta

import pytest

from fangyi.core.models import Alert, Duty, Task
from fangyi.core.rules import RuleError
from fangyi.travel import matching
from fangyi.travel.addresses import name_of, resolve, resolve_many
from fangyi.travel.models import RiskArea, RiskFlag

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("address", "adcode", "detail"),
    [
        ("湖北省武汉市江汉区花楼街道民意四路12号", "420103", "花楼街道民意四路12号"),
        ("武汉市江汉区", "420103", ""),
        ("武汉江汉区前进四路", "420103", "前进四路"),  # province inferred
        ("上海浦东新区张江镇祖冲之路", "310115", "张江镇祖冲之路"),
        ("北京市朝阳区望京街道望京西园三区", "110105", "望京街道望京西园三区"),
        ("新疆乌鲁木齐市天山区", "650102", ""),
        ("广东省广州市", "440100", ""),  # city only
        ("内蒙古呼和浩特", "150100", ""),
        ("  浙江省 杭州市 余杭区 五常街道 ", "330110", "五常街道"),  # spaces in a typed address
    ],
)
def test_real_format_addresses_resolve_to_their_codes(address, adcode, detail):
    place = resolve(address)
    assert place.resolved
    assert (place.adcode, place.detail) == (adcode, detail)


def test_an_address_naming_no_place_or_a_shared_district_name_is_not_guessed():
    nowhere, shared, settled = resolve_many(["火星基地", "朝阳区望京", "北京朝阳区望京"])
    assert not nowhere.resolved and nowhere.adcode == ""
    assert shared.ambiguous and not shared.resolved  # Beijing's or Changchun's 朝阳区?
    assert settled.resolved and settled.adcode == "110105"
    assert name_of("420103") == "湖北省武汉市江汉区"


def test_a_new_list_flags_exactly_the_people_whose_stays_match(residents, stay, publish, today):
    a, b, c, d, e, f = residents("grid_a1", 6)
    stay(a, "湖北省武汉市江汉区花楼街道", 10, 3)  # in the district-level area
    stay(b, "湖北省武汉市武昌区", 5, 2)  # other district of the same city: no
    stay(c, "广东省深圳市南山区", 8, 6)  # inside the city-level area
    stay(d, "北京市朝阳区望京街道望京西园三区5号楼", 4, 4)  # the compound-level area
    stay(e, "北京市朝阳区望京街道花家地", 4, 4)  # same street, other compound: no
    stay(f, "湖北省武汉市江汉区", 30, 16)  # left before the 14-day window: no
    areas = publish(
        [
            ("湖北省武汉市江汉区", "medium"),
            ("广东省深圳市", "high"),
            ("北京市朝阳区望京街道望京西园三区", "high"),
        ],
        # In force since before the stays: matches depend on the stays and the window.
        effective_from=today - timedelta(days=20),
    )
    flags = RiskFlag.objects.filter(area__area_list=areas)
    assert {fl.person_id: fl.level for fl in flags} == {a.pk: "medium", c.pk: "high", d.pk: "high"}
    assert areas.persons_flagged == 3
    task = Task.objects.get(duty=Duty.VERIFY_RISK_FLAGS, region=a.grid, status="open")
    assert "3 人" in task.subject_label
    assert Alert.objects.filter(task=task).exists()

    again = publish([("湖北省武汉市江汉区", "medium")], effective_from=today - timedelta(days=20))
    assert again.areas_added == 0 and again.persons_flagged == 0  # nothing new: nobody twice


def test_window_edges_count_both_end_days(residents, stay, publish, today):
    """Look-back 14 days: a stay ending 14 days ago counts, 15 days ago does not; an area
    in force from day X matches a stay ending on X, not one ending the day before."""
    on_edge, past_edge, last_day_before, first_day = residents("street_b", 4)
    stay(on_edge, "湖南省长沙市岳麓区", 20, 14)
    stay(past_edge, "湖南省长沙市岳麓区", 20, 15)
    stay(last_day_before, "湖南省长沙市天心区", 9, 6)
    stay(first_day, "湖南省长沙市天心区", 9, 5)
    old = publish([("湖南省长沙市岳麓区", "medium")], effective_from=today - timedelta(days=30))
    new = publish([("湖南省长沙市天心区", "high")], effective_from=today - timedelta(days=5))
    assert set(RiskFlag.objects.filter(area__area_list=old).values_list("person", flat=True)) == {
        on_edge.pk
    }
    assert set(RiskFlag.objects.filter(area__area_list=new).values_list("person", flat=True)) == {
        first_day.pk
    }


def test_a_lifted_area_keeps_its_history(publish, today):
    publish([("四川省成都市锦江区", "high")], effective_from=today - timedelta(days=10))
    publish(
        [("四川省成都市锦江区", "high", matching.LIFT)],
        effective_from=today - timedelta(days=3),
    )
    area = RiskArea.objects.get(code_prefix="510104")
    assert area.effective_to == today - timedelta(days=4)
    _, then = matching.areas_on("成都市锦江区春熙路", today - timedelta(days=4))
    _, now = matching.areas_on("成都市锦江区春熙路", today)
    assert [a.level for a in then] == ["high"] and now == []


def test_a_level_change_ends_the_old_level_and_starts_the_new(publish, today):
    publish([("陕西省西安市雁塔区", "medium")], effective_from=today - timedelta(days=6))
    publish([("陕西省西安市雁塔区", "high")], effective_from=today - timedelta(days=2))
    _, before = matching.areas_on("西安市雁塔区", today - timedelta(days=3))
    _, after = matching.areas_on("西安市雁塔区", today)
    assert [a.level for a in before] == ["medium"]
    assert [a.level for a in after] == ["high"]


def test_a_list_with_an_unresolvable_line_is_not_published(publish):
    with pytest.raises(RuleError):
        publish([("湖北省武汉市江汉区", "high"), ("某某地方", "high")])
    assert not RiskArea.objects.filter(code_prefix="420103").exists()


def test_handling_every_flag_of_a_grid_closes_its_task(residents, stay, publish, users, today):
    a, b = residents("grid_a1", 2)
    stay(a, "江西省南昌市东湖区", 3, 1)
    stay(b, "江西省南昌市东湖区", 3, 1)
    area_list = publish(
        [("江西省南昌市东湖区", "medium")], effective_from=today - timedelta(days=5)
    )
    first, second = RiskFlag.objects.filter(area__area_list=area_list)
    task = Task.objects.get(duty=Duty.VERIFY_RISK_FLAGS, region=a.grid, status="open")
    with pytest.raises(RuleError):
        matching.handle_flag(users["grid_a1"], first, status=RiskFlag.Status.DISMISSED)
    matching.handle_flag(users["grid_a1"], first, status=RiskFlag.Status.VERIFIED)
    task.refresh_from_db()
    assert task.status == "open"
    matching.handle_flag(
        users["grid_a1"], second, status=RiskFlag.Status.DISMISSED, note="未曾前往，系误填"
    )
    task.refresh_from_db()
    assert task.status == "done"
