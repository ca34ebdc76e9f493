from huey import crontab
from huey.contrib.djhuey import db_periodic_task


@db_periodic_task(crontab(minute="5"))
def open_daily_report_tasks() -> None:
    """Every hour: each community's daily report duty of the day (idempotent, so the first
    run after midnight opens them and later runs catch new communities or an outage);
    core.tasks.mark_overdue then alerts the communities that miss the deadline."""
    from fangyi.travel.reports import open_report_tasks

    open_report_tasks()


@db_periodic_task(crontab(hour="0", minute="20"))
def apply_due_arrivals() -> None:
    """Just after midnight: arrivals reported ahead whose day has come are placed under
    their measure."""
    from fangyi.travel.services import apply_due_arrivals as apply_due

    apply_due()
