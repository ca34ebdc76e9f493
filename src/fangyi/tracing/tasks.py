from huey import crontab
from huey.contrib.djhuey import db_periodic_task


@db_periodic_task(crontab(hour="2", minute="30"))
def recompute_clusters() -> None:
    """Nightly: the full partition, which also splits clusters (the incremental updates
    during the day only merge)."""
    from fangyi.tracing.clusters import recompute_all

    recompute_all()
