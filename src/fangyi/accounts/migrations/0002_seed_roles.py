from django.db import migrations

ROLE_CODES = [
    "commander",
    "cdc_epidemiologist",
    "cdc_reviewer",
    "clinician",
    "lab_staff",
    "street_worker",
    "grid_worker",
    "facility_staff",
    "school_doctor",
    "pharmacy_clerk",
    "supplies_officer",
    "admin",
]


def seed_roles(apps, schema_editor):
    Role = apps.get_model("accounts", "Role")
    Role.objects.bulk_create([Role(code=code) for code in ROLE_CODES], ignore_conflicts=True)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]
    operations = [migrations.RunPython(seed_roles, migrations.RunPython.noop)]
