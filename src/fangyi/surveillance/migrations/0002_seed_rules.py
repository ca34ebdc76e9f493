"""Detector rules after CIDARS (Yang et al., WPSAR 2011; Zhang H et al., 中华预防医学杂志
2014;48(4):265-9), the syndromic sources' rules, the response and reporting deadlines and
the serial intervals used for Rt. All are data: edited in the admin, never in code."""

from django.db import migrations

CIDARS = "CIDARS（Yang 2011；张洪龙等 2014）"
SINGLE_CASE = [
    "plague",
    "cholera",
    "sars",
    "polio",
    "novel_influenza",  # human highly pathogenic avian influenza
    "pulmonary_anthrax",
    "unknown_pneumonia",
]
P90 = [
    "dysentery",
    "bacillary_dysentery",
    "amoebic_dysentery",
    "dengue",
    "hepatitis_a",
    "typhoid_paratyphoid",
    "meningococcal_meningitis",
    "japanese_encephalitis",
    "scarlet_fever",
    "leptospirosis",
    "hepatitis_e",
    "hepatitis_unspecified",
    "typhus",
]
P80 = ["other_infectious_diarrhoea", "influenza", "ahc", "mumps", "rubella", "hfrs"]
# Chronic infections are not watched for outbreaks by the temporal model (CIDARS): a rule
# naming them, switched off, keeps them out of the catch-all rule.
NOT_WATCHED = [
    "tuberculosis",
    "hiv_aids",
    "hepatitis_b",
    "hepatitis_c",
    "hepatitis_d",
    "syphilis",
    "gonorrhoea",
    "schistosomiasis",
    "echinococcosis",
    "leprosy",
    "filariasis",
    "kala_azar",
]
# min_sigma 1: on counts of a few a day the baseline's SD can be near 0, and EARS would
# alarm on 2 after a week of 1s.
EARS = {"alpha": 0.001, "baseline": 7, "min_sigma": 1.0}
SYNDROMIC = "症候群监测：EARS C2（基线7天、间隔2天，σ≥1），无需历史年份数据"

DEADLINES = [
    ("verify_signal", False, 24, "预警信号24小时内完成初步核实（CIDARS）"),
    ("verify_signal", True, 2, "单病例预警信号2小时内完成初步核实（CIDARS）"),
    ("report_sales", False, 2, "农村药店发现购买退烧药、抗感染等药物的患者后2小时内报告（001）"),
    ("follow_up_buyer", False, 12, "发热购药人员由所在网格跟进，引导至发热门诊就诊"),
]

SERIAL_INTERVALS = [
    ("covid19", 3.5, 2.4, "奥密克戎变异株代际间隔估计（均值约3–3.5天），可按流行株调整"),
    ("influenza", 3.6, 1.6, "Cowling et al., Epidemiology 2009;20(3):344-7"),
]


def seed(apps, schema_editor):
    Rule = apps.get_model("surveillance", "DetectorRule")
    DeadlineRule = apps.get_model("core", "DeadlineRule")
    Disease = apps.get_model("diseases", "Disease")
    SerialInterval = apps.get_model("surveillance", "SerialInterval")

    def rule(source, topic, level, method, params, basis, **extra):
        Rule.objects.get_or_create(
            source=source,
            topic=topic,
            level=level,
            method=method,
            defaults={"params": params, "basis": basis, **extra},
        )

    for code in SINGLE_CASE:
        rule(
            "cases",
            code,
            "county",
            "fixed_threshold",
            {"threshold": 1},
            CIDARS + " 单病例预警",
            single_case=True,
            merge_days=0,
        )
    for code in P90:
        rule("cases", code, "county", "moving_percentile", {"percentile": 90}, CIDARS + " P90")
    for code in P80:
        rule("cases", code, "county", "moving_percentile", {"percentile": 80}, CIDARS + " P80")
    rule("cases", "", "county", "moving_percentile", {"percentile": 80}, CIDARS + " 其他病种 P80")
    for code in NOT_WATCHED:
        rule(
            "cases",
            code,
            "county",
            "moving_percentile",
            {"percentile": 80},
            "慢性传染病，不纳入暴发预警（CIDARS）",
            is_active=False,
        )
    for source in ("pharmacy", "fever_clinic", "school_absence", "monitoring"):
        rule(source, "", "township", "ears_c2", EARS, SYNDROMIC)
        rule(source, "", "county", "ears_c2", EARS, SYNDROMIC)
    rule(
        "environment",
        "positive",
        "county",
        "fixed_threshold",
        {"threshold": 1},
        "环境样本核酸阳性即预警（001：人、物、环境同查）",
    )
    rule(
        "lab",
        "positive",
        "county",
        "cusum",
        {"k": 1.04, "h": 2.26, "baseline_days": 28},
        "核酸阳性数 CUSUM（Rossi 1999），基线为前28天均值",
    )
    for duty, urgent, hours, basis in DEADLINES:
        DeadlineRule.objects.update_or_create(
            duty=duty, urgent=urgent, defaults={"hours": hours, "basis": basis}
        )
    for code, mean, sd, basis in SERIAL_INTERVALS:
        disease = Disease.objects.filter(code=code).first()
        if disease is not None:
            SerialInterval.objects.get_or_create(
                disease=disease, defaults={"mean_days": mean, "sd_days": sd, "basis": basis}
            )


class Migration(migrations.Migration):
    dependencies = [
        ("surveillance", "0001_initial"),
        ("core", "0008_surveillance_duties"),
        ("diseases", "0002_load_catalogue"),
    ]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
