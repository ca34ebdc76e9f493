from huey import crontab
from huey.contrib.djhuey import db_periodic_task


@db_periodic_task(crontab(minute="*/10"))
def open_late_result_tasks() -> None:
    """Every 10 minutes: a duty for the lab of each tube past its result time (idempotent;
    core.tasks.mark_overdue then alerts the lab)."""
    from fangyi.lab.services import open_late_result_tasks as open_tasks

    open_tasks()
