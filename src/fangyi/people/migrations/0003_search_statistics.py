from django.db import migrations

from fangyi.core.postgres import postgresql_only

# Prefix searches on pinyin keys are planned from the column histograms: with the default
# 100 buckets a rare prefix ("sunxia", 643 of a million) is estimated at ~10,000 rows and
# PostgreSQL walks the primary key instead of the pattern index (300 ms instead of 1 ms).
FINER = """
ALTER TABLE people_person ALTER COLUMN name_pinyin SET STATISTICS 2000;
ALTER TABLE people_person ALTER COLUMN name_initials SET STATISTICS 2000;
"""
DEFAULT = """
ALTER TABLE people_person ALTER COLUMN name_pinyin SET STATISTICS -1;
ALTER TABLE people_person ALTER COLUMN name_initials SET STATISTICS -1;
"""


class Migration(migrations.Migration):
    dependencies = [("people", "0002_seed_key_groups")]
    operations = [postgresql_only(FINER, DEFAULT)]
