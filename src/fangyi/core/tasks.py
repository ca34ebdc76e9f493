from django.db.models import F
from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from fangyi.core.models import JobHeartbeat

HEARTBEAT = "heartbeat"


@db_periodic_task(crontab(minute="*"))
def heartbeat() -> None:
    """Proves the job consumer runs; its last run shows on the status page."""
    updated = JobHeartbeat.objects.filter(name=HEARTBEAT).update(
        last_run_at=timezone.now(), runs=F("runs") + 1
    )
    if not updated:
        JobHeartbeat.objects.create(name=HEARTBEAT, last_run_at=timezone.now(), runs=1)


@db_periodic_task(crontab(minute="*/5"))
def mark_overdue() -> None:
    """Alert the responsible units of tasks that went past their due time."""
    from fangyi.core.deadlines import alert_overdue

    alert_overdue()
