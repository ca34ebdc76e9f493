from django.db import migrations

from fangyi.core.postgres import postgresql_only

# The coverage dashboard counts a round's targets per site and hour
# (`coverage.throughput_by_site`). Without statistics on the hour expression PostgreSQL
# expects tens of thousands of groups and aggregates a million rows in one process; with
# them it expects the real thousand and splits the count over parallel workers (322 → 168 ms
# for a million targets, bench/README.md lab_import). The expression is the one Django writes
# for TruncHour("tested_at", tzinfo=UTC), as a statistic is only used for the same expression.
SITE_HOUR_STATISTICS = """
CREATE STATISTICS target_site_hour (ndistinct)
ON site_id, (date_trunc('hour', tested_at AT TIME ZONE 'UTC')) FROM lab_screeningtarget
"""


class Migration(migrations.Migration):
    dependencies = [
        ("lab", "0003_drop_sample_batch_index"),
    ]

    operations = [
        postgresql_only(SITE_HOUR_STATISTICS, "DROP STATISTICS IF EXISTS target_site_hour"),
    ]
