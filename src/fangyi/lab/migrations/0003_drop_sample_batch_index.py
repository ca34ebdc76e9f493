from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("lab", "0002_seed_rules"),
    ]

    operations = [
        # Written again for every tube a result batch fills; the batch finds its own tubes
        # from its scratch table instead (services._notable_tubes).
        migrations.RemoveIndex(model_name="sample", name="sample_batch_result"),
    ]
