from datetime import date

from django.db import migrations

CLOSE_CONTACT_TESTS = [1, 2, 3, 4, 5, 7, 10, 13, 14, 16, 21, 28]
# (category, measure type, days, then type, then days, test days, every n days,
#  needs environment samples, basis) — version 1 of each category, from the seed plans.
POLICIES = [
    (
        "close_contact",
        "centralised",
        14,
        "home_monitoring",
        14,
        CLOSE_CONTACT_TESTS,
        0,
        True,
        "密切接触者：14天集中隔离+14天居家健康监测+12次核酸检测（第1、2、3、4、5、7、10、13、14、16、21、28天）；人、物、环境三样本阴性方可解除",
    ),
    (
        "secondary_contact",
        "centralised",
        7,
        "",
        0,
        [1, 4, 7],
        0,
        False,
        "密接的密接：第1、4、7天核酸检测均阴性，可于第7天解除集中隔离",
    ),
    (
        "high_risk_arrival",
        "centralised",
        14,
        "home_monitoring",
        14,
        CLOSE_CONTACT_TESTS,
        0,
        True,
        "中高风险地区来（返）人员：14天集中隔离+14天居家健康监测+12次核酸检测",
    ),
    (
        "medium_risk_arrival",
        "home_monitoring",
        14,
        "",
        0,
        [],
        7,
        False,
        "中风险地区来（返）人员：14天居家健康监测，每7天开展一次核酸检测",
    ),
    (
        "returnee",
        "home_monitoring",
        14,
        "",
        0,
        [],
        7,
        False,
        "返乡人员：返乡后实行14天居家健康监测，期间每7天开展一次核酸检测",
    ),
    (
        "released_centralised",
        "home_monitoring",
        7,
        "",
        0,
        [],
        0,
        False,
        "解除集中隔离人员：点对点闭环返回居住地，做好7天居家健康监测",
    ),
    (
        "high_risk_post",
        "home_monitoring",
        14,
        "",
        0,
        [],
        2,
        False,
        "高风险岗位人员：脱离岗位14天，健康监测，高频核酸检测（每2天一次）",
    ),
    (
        "pool_positive",
        "home_observation",
        2,
        "",
        0,
        [1],
        0,
        False,
        "混采阳性管控人员：立即居家隔离医学观察，单管复核检测结果明确前不得外出",
    ),
    (
        "fever_patient",
        "observation_room",
        1,
        "",
        0,
        [1],
        0,
        False,
        "发热病人：核酸检测结果反馈前全部留观",
    ),
    ("other", "home_monitoring", 14, "", 0, [], 7, False, "其他需健康监测人员：14天居家健康监测"),
]


def seed(apps, schema_editor):
    Policy = apps.get_model("measures", "Policy")
    for category, kind, days, then, then_days, tests, every, environment, basis in POLICIES:
        Policy.objects.get_or_create(
            category=category,
            version=1,
            defaults=dict(
                effective_from=date(2020, 1, 1),
                measure_type=kind,
                days=days,
                then_type=then,
                then_days=then_days,
                test_days=tests,
                test_every_days=every,
                release_needs_environment=environment,
                basis=basis,
            ),
        )


class Migration(migrations.Migration):
    dependencies = [("measures", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
