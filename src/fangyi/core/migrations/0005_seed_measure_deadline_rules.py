from django.db import migrations

# (duty, urgent, hours, basis)
RULES = [
    ("refer_fever", False, 2, "管控人员体温≥37.3℃或出现症状：2小时内转运至发热门诊并采样检测"),
    ("missed_check", False, 4, "每日健康监测不少于2次；漏测次日4小时内上门核实补测"),
    ("measure_test", False, 24, "管控期按政策规定的检测日当日完成采样"),
]


def seed(apps, schema_editor):
    DeadlineRule = apps.get_model("core", "DeadlineRule")
    for duty, urgent, hours, basis in RULES:
        DeadlineRule.objects.update_or_create(
            duty=duty, urgent=urgent, defaults={"hours": hours, "basis": basis}
        )


class Migration(migrations.Migration):
    dependencies = [("core", "0004_measure_duties")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
