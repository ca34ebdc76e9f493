from django.db import migrations

# (purpose, hours, basis): result limits counted from receipt by the lab.
TURNAROUND = [
    ("fever_clinic", 6, "发热病人全部进行核酸检测，4—6小时内反馈结果（不超过6小时）"),
    ("emergency", 6, "急诊患者4—6小时内反馈核酸检测结果"),
    ("inpatient", 12, "住院患者及陪护人员12小时内反馈"),
    ("outpatient", 12, "检测机构接到样本后12小时内反馈检测结果"),
    ("close_contact", 12, "检测机构接到样本后12小时内反馈检测结果"),
    ("arrival", 12, "检测机构接到样本后12小时内反馈检测结果"),
    ("key_group", 12, "检测机构接到样本后12小时内反馈检测结果"),
    ("mass_screening", 12, "检测机构接到样本后12小时内反馈检测结果"),
    ("pool_retest", 6, "混采阳性单管复核优先检测，4—6小时内反馈"),
    ("voluntary", 24, "愿检尽检人员24小时内反馈"),
    ("environmental", 24, "环境样本24小时内反馈"),
]

# (name, key group code, measure category, every N days, basis)
REGIMENS = [
    ("医务人员每周检测", "medical_staff", "", 7, "医疗机构工作人员纳入应检尽检，每周开展核酸检测"),
    ("冷链从业人员每2天检测", "cold_chain", "", 2, "冷链、口岸等高风险岗位人员高频次检测"),
    ("口岸工作人员每2天检测", "port_worker", "", 2, "冷链、口岸等高风险岗位人员高频次检测"),
    ("隔离场所工作人员每2天检测", "quarantine_staff", "", 2, "隔离场所工作人员高频次检测"),
    ("农贸市场从业人员每周检测", "market_vendor", "", 7, "重点场所从业人员每7天开展一次核酸检测"),
    ("快递外卖人员每周检测", "delivery", "", 7, "重点场所从业人员每7天开展一次核酸检测"),
    (
        "中风险地区来（返）人员健康监测期间每7天检测",
        "",
        "medium_risk_arrival",
        7,
        "来（返）人员健康监测期间每7天开展一次核酸检测",
    ),
    (
        "返乡人员健康监测期间每7天检测",
        "",
        "returnee",
        7,
        "返乡人员14天居家健康监测期间每7天开展一次核酸检测",
    ),
]

# (duty, hours, basis)
DEADLINES = [
    ("report_positive", 2, "阳性结果立即反馈送样机构和县级卫生健康行政部门，2小时内网络直报"),
    ("pool_retest", 6, "混采阳性立即管控，对混采管内人员单管复核（6小时内完成采样）"),
    ("resample", 24, "无效样本24小时内重新采样"),
]


def seed(apps, schema_editor):
    TurnaroundRule = apps.get_model("lab", "TurnaroundRule")
    Regimen = apps.get_model("lab", "Regimen")
    KeyGroup = apps.get_model("people", "KeyGroup")
    DeadlineRule = apps.get_model("core", "DeadlineRule")
    for purpose, hours, basis in TURNAROUND:
        TurnaroundRule.objects.update_or_create(
            purpose=purpose, defaults={"hours": hours, "basis": basis}
        )
    groups = dict(KeyGroup.objects.values_list("code", "pk"))
    for name, group, category, every, basis in REGIMENS:
        if group and group not in groups:
            continue
        Regimen.objects.get_or_create(
            name=name,
            defaults={
                "key_group_id": groups.get(group),
                "measure_category": category,
                "every_days": every,
                "basis": basis,
            },
        )
    for duty, hours, basis in DEADLINES:
        DeadlineRule.objects.update_or_create(
            duty=duty, urgent=False, defaults={"hours": hours, "basis": basis}
        )


class Migration(migrations.Migration):
    dependencies = [
        ("lab", "0001_initial"),
        ("people", "0002_seed_key_groups"),
        ("core", "0006_lab_duties"),
    ]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
