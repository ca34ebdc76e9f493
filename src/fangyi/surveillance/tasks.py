from huey import crontab
from huey.contrib.djhuey import db_periodic_task


@db_periodic_task(crontab(minute="15"))
def surveillance_hourly() -> None:
    """Every hour: the counts of the trailing days are brought up to date from the other
    modules' records; from the run hour on (local time, settings.SURVEILLANCE_RUN_HOUR) the
    day's detector run happens once if it has not. Checking each hour instead of a cron hour
    keeps the run on local time whatever the job server's clock, and catches up after an
    outage."""
    from fangyi.surveillance.detection import run_if_due

    run_if_due()
