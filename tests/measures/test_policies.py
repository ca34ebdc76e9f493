"""Policy pages: the version in force per category with its history and the people under
each version, and publishing a new version from a form prefilled with the latest one."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from fangyi.measures import services
from fangyi.measures.models import Category, Measure, MeasureType, Policy
from fangyi.people.models import Person

URL = "/measures/policies/"
PUBLISH = "/measures/policies/returnee/publish/"


@pytest.fixture
def returnee(users) -> Measure:
    """A person of grid_a1 under the returnee policy (home monitoring)."""
    person = (
        Person.objects.visible_to(users["grid_a1"])
        .exclude(measures__status__in=services.OPEN)
        .order_by("id")
        .first()
    )
    return services.place_under_control(
        users["grid_a1"], person, category=Category.RETURNEE, address="柳溪村3组"
    )


def section(page: str, category: str) -> str:
    return re.search(rf'<article id="policy-{category}">.*?</article>', page, re.S).group(0)


def new_version(**overrides) -> dict:
    data = {
        "measure_type": "home_monitoring",
        "days": "7",
        "then_type": "",
        "then_days": "0",
        "test_days": "1, 4, 7",
        "test_every_days": "",
        "checks_per_day": "2",
        "release_needs_tests": "on",
        "effective_from": timezone.localdate().isoformat(),
        "basis": "第九版防控方案",
    }
    return data | overrides


def under_version(user, policy) -> int:
    return Measure.objects.visible_to(user).active().filter(policy=policy).count()


def test_list_shows_the_version_in_force_with_the_people_under_it(users, client_for, returnee):
    page = client_for("commander").get(URL).content.decode()

    returnees = section(page, "returnee")
    assert "居家健康监测14天，第7、14天核酸检测" in returnees
    assert "返乡人员：返乡后实行14天居家健康监测" in returnees
    n = under_version(users["commander"], returnee.policy)
    assert n >= 1 and f"{n} 人按此版本管控" in returnees
    close = section(page, "close_contact")
    assert "集中隔离医学观察14天+居家健康监测14天" in close
    assert "人、物、环境样本均阴性" in close
    assert "发布新版本" not in page  # the commander does not publish


def test_publishing_a_version_keeps_the_measures_under_the_old_one(users, client_for, returnee):
    client = client_for("county_admin")
    form = client.get(PUBLISH).content.decode()
    # Prefilled from the latest version.
    assert re.search(r'name="days" value="14"', form)
    assert re.search(r'name="test_every_days" value="7"', form)
    assert 'value="返乡人员：返乡后实行14天居家健康监测' in form

    response = client.post(PUBLISH, new_version())

    assert response.status_code == 302 and response["Location"] == URL
    old = returnee.policy
    published = Policy.objects.get(category=Category.RETURNEE, version=old.version + 1)
    assert (published.days, published.test_days, published.test_every_days) == (7, [1, 4, 7], 0)
    assert published.published_by == users["county_admin"]
    returnee.refresh_from_db()
    assert returnee.policy == old and returnee.days == 14
    page = client.get(URL).content.decode()
    returnees = section(page, "returnee")
    assert "居家健康监测7天，第1、4、7天核酸检测" in returnees.split("<details>")[0]
    n = under_version(users["county_admin"], old)
    assert re.search(rf'id="policy-version-{old.pk}">.*?{n} 人按此版本管控', returnees, re.S)
    assert re.search(rf'id="policy-version-{published.pk}">.*?0 人按此版本管控', returnees, re.S)


def test_a_version_effective_later_is_shown_as_upcoming(users, client_for):
    tomorrow = timezone.localdate() + timedelta(days=1)
    client = client_for("county_admin")
    client.post(PUBLISH, new_version(effective_from=tomorrow.isoformat()))

    returnees = section(client.get(URL).content.decode(), "returnee")

    assert f"将于{tomorrow:%Y-%m-%d}生效：居家健康监测7天" in returnees
    assert "居家健康监测14天，第7、14天核酸检测" in returnees.split("<details>")[0]


@pytest.mark.parametrize(
    ("overrides", "field", "error"),
    [
        ({"test_days": "1,4,9"}, "test_days", "检测日9超出管控总天数（7天）。"),
        ({"test_days": "1,a"}, "test_days", "检测日须为正整数，用逗号分隔，如 1,4,7,14。"),
        ({"test_every_days": "3"}, "test_every_days", "检测日与检测间隔只能填写一项。"),
        (
            {"test_days": "", "test_every_days": "8"},
            "test_every_days",
            "检测间隔不能超过管控总天数（7天）。",
        ),
        ({"then_type": "home_monitoring"}, "then_days", "选择了期满后续措施，请填写后续措施天数。"),
        ({"then_days": "7"}, "then_days", "未选择期满后续措施，后续措施天数应为0。"),
        ({"days": "0"}, "days", "天数须在1–60之间。"),
        ({"checks_per_day": ""}, "checks_per_day", "请填写每日健康监测次数。"),
        (
            {"effective_from": (timezone.localdate() - timedelta(days=1)).isoformat()},
            "effective_from",
            "生效日期不能早于今天。",
        ),
    ],
)
def test_an_invalid_version_is_refused_next_to_its_field(client_for, overrides, field, error):
    before = Policy.objects.filter(category=Category.RETURNEE).count()

    response = client_for("county_admin").post(PUBLISH, new_version(**overrides))

    assert response.status_code == 200
    errors = re.search(rf'id="error-{field}">(.*?)</ul>', response.content.decode(), re.S)
    assert errors and error in errors.group(1)
    assert Policy.objects.filter(category=Category.RETURNEE).count() == before


def test_a_course_with_a_home_phase_counts_both_phases_for_test_days(client_for):
    response = client_for("county_admin").post(
        PUBLISH,
        new_version(
            measure_type=MeasureType.CENTRALISED,
            then_type=MeasureType.HOME_MONITORING,
            then_days="7",
            test_days="1,7,14",
        ),
    )
    assert response.status_code == 302
    published = Policy.objects.filter(category=Category.RETURNEE).order_by("-version").first()
    assert published.course_test_days() == [1, 7, 14] and published.then_days == 7


def test_only_publishers_publish(client_for):
    assert client_for("cdc_epi").get(PUBLISH).status_code == 404
    assert client_for("cdc_epi").post(PUBLISH, new_version()).status_code == 404
    assert client_for("county_admin").get("/measures/policies/unknown/publish/").status_code == 404
    assert client_for("grid_b1").get(URL).status_code == 200
