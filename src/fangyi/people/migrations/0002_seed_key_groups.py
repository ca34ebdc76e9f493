from django.db import migrations

# Groups that the plans require to be tested regularly ("应检尽检"); admins can add more.
KEY_GROUPS = [
    ("medical_staff", "医务人员"),
    ("cold_chain", "冷链从业人员"),
    ("port_worker", "口岸工作人员"),
    ("teacher", "教职员工"),
    ("delivery", "快递外卖人员"),
    ("public_transport", "公共交通从业人员"),
    ("market_vendor", "农贸市场从业人员"),
    ("quarantine_staff", "隔离场所工作人员"),
]


def seed_key_groups(apps, schema_editor):
    KeyGroup = apps.get_model("people", "KeyGroup")
    KeyGroup.objects.bulk_create(
        [KeyGroup(code=code, name=name) for code, name in KEY_GROUPS], ignore_conflicts=True
    )


class Migration(migrations.Migration):
    dependencies = [("people", "0001_initial")]
    operations = [migrations.RunPython(seed_key_groups, migrations.RunPython.noop)]
