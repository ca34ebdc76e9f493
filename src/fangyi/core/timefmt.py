from datetime import datetime

from django.utils import timezone


def local_minute(moment: datetime | None) -> str:
    """A time as shown in lists, exports and the audit trail: local, to the minute."""
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M") if moment else ""
