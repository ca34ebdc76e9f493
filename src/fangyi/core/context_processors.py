from django.utils.functional import SimpleLazyObject

from fangyi.core.timeliness import alerts_for


def open_alerts(request) -> dict:
    """`open_alerts`: the number of unread alerts for the navigation bar.

    Lazy, so htmx fragments that never show it cost nothing; one query on a page that
    shows it (the user's roles are looked up inside it)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"open_alerts": 0}
    return {
        "open_alerts": SimpleLazyObject(
            lambda: alerts_for(user).filter(read_at__isnull=True).count()
        )
    }
