from datetime import timedelta

from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import db_periodic_task


@db_periodic_task(crontab(hour="0", minute="10"))
def follow_up_missed_checks() -> None:
    """Just after midnight: a follow-up duty for every measure with too few checks
    yesterday (idempotent, so a rerun after an outage is harmless)."""
    from fangyi.measures.services import open_missed_check_tasks

    open_missed_check_tasks(timezone.localdate() - timedelta(days=1))
