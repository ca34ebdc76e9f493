import json
from pathlib import Path

from django.db import migrations

CATALOGUE = Path(__file__).resolve().parent.parent / "data" / "notifiable_diseases.json"


def load(apps, schema_editor):
    Disease = apps.get_model("diseases", "Disease")
    rows = json.loads(CATALOGUE.read_text(encoding="utf-8"))["diseases"]
    by_code = {}
    for row in rows:  # parents come before their subtypes in the file
        fields = {k: v for k, v in row.items() if k != "parent"}
        fields["parent"] = by_code.get(row["parent"])
        by_code[row["code"]] = Disease.objects.create(**fields)


def unload(apps, schema_editor):
    apps.get_model("diseases", "Disease").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("diseases", "0001_initial")]
    operations = [migrations.RunPython(load, unload)]
