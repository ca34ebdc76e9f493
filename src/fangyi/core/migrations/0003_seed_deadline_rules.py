from django.db import migrations

# (duty, urgent, hours, basis). "urgent": Class A and diseases managed as Class A.
RULES = [
    (
        "report_case",
        False,
        24,
        "传染病信息报告管理规范：诊断后24小时内网络直报（病种时限另见传染病目录）",
    ),
    ("report_case", True, 2, "甲类及按甲类管理的传染病：诊断后2小时内网络直报"),
    ("review_case", False, 24, "县级疾控机构收到报告卡后24小时内审核确认"),
    ("review_case", True, 2, "甲类及按甲类管理的传染病：收到报告卡后2小时内审核确认"),
    ("investigate_case", False, 24, "确诊病例、无症状感染者24小时内完成流行病学调查"),
    ("control_contact", False, 12, "密切接触者登记后12小时内落实管控措施"),
]


def seed(apps, schema_editor):
    DeadlineRule = apps.get_model("core", "DeadlineRule")
    for duty, urgent, hours, basis in RULES:
        DeadlineRule.objects.update_or_create(
            duty=duty, urgent=urgent, defaults={"hours": hours, "basis": basis}
        )


class Migration(migrations.Migration):
    dependencies = [("core", "0002_deadline_tasks_and_alerts")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
