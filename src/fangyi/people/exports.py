from django.utils.translation import gettext_lazy as _

PERSON_EXPORT_COLUMNS = [
    _("编号"),
    _("姓名"),
    _("证件类型"),
    _("证件号码"),
    _("性别"),
    _("出生日期"),
    _("联系电话"),
    _("所属网格"),
    _("现住址"),
    _("人口类别"),
    _("重点人群"),
    _("工作单位"),
]


def person_export_rows(persons) -> list[list]:
    """Rows for the person list export; personal data stays masked in files."""
    return [
        [
            p.pk,
            p.name,
            p.get_id_type_display(),
            p.id_number_masked,
            p.get_sex_display(),
            p.birth_date,
            p.phone_masked,
            p.grid.full_name,
            p.address,
            p.get_category_display(),
            "、".join(g.name for g in p.key_groups.all()),
            p.workplace,
        ]
        for p in persons
    ]
