"""The rules of the plans as data: 14-day look-back, arrival classes, the 13:00 report."""

from datetime import date, time

from django.db import migrations

SINCE = date(2020, 1, 1)

# (origin level, measure category, certificate hours, advice, basis)
ARRIVAL_RULES = [
    (
        "high",
        "high_risk_arrival",
        48,
        "请在住所等候，社区将安排转运至集中隔离点，14天集中隔离医学观察。",
        "高风险地区来（返）人员实行集中隔离医学观察（001）",
    ),
    (
        "medium",
        "medium_risk_arrival",
        48,
        "请居家健康监测14天，每日两次测体温，第7、14天配合核酸检测。",
        "中风险地区来（返）人员14天居家健康监测，每7天一次核酸检测（001）",
    ),
    (
        "low",
        "",
        0,
        "请主动出示健康码、行程卡，做好个人防护，出现发热等症状及时就医。",
        "低风险地区来（返）人员查验健康码、行程卡（001 出行要求）",
    ),
    (
        "",
        "",
        0,
        "请主动出示健康码、行程卡，做好个人防护，出现发热等症状及时就医。",
        "非风险地区来（返）人员查验健康码（001 出行要求）",
    ),
]

# (duty, hours, basis)
DEADLINES = [
    ("verify_risk_flags", 24, "接到风险地区名单后24小时内完成辖区旅居人员核查"),
    ("place_arrival", 12, "中高风险地区来（返）人员12小时内落实管控措施"),
]


def seed(apps, schema_editor):
    MatchRule = apps.get_model("travel", "MatchRule")
    ArrivalRule = apps.get_model("travel", "ArrivalRule")
    ReportRule = apps.get_model("travel", "ReportRule")
    DeadlineRule = apps.get_model("core", "DeadlineRule")
    MatchRule.objects.get_or_create(
        effective_from=SINCE,
        defaults={"look_back_days": 14, "basis": "14天内有中高风险地区旅居史（001）"},
    )
    for level, category, hours, advice, basis in ARRIVAL_RULES:
        ArrivalRule.objects.get_or_create(
            origin_level=level,
            effective_from=SINCE,
            defaults={
                "category": category,
                "certificate_hours": hours,
                "advice": advice,
                "basis": basis,
            },
        )
    ReportRule.objects.get_or_create(
        effective_from=SINCE,
        defaults={
            "deadline": time(13),
            "basis": "各居委会（社区）每日在13:00时前向街道疫情防控领导小组办公室上报（003）",
        },
    )
    for duty, hours, basis in DEADLINES:
        DeadlineRule.objects.update_or_create(
            duty=duty, urgent=False, defaults={"hours": hours, "basis": basis}
        )


class Migration(migrations.Migration):
    dependencies = [
        ("travel", "0001_initial"),
        ("core", "0007_travel_duties"),
    ]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
