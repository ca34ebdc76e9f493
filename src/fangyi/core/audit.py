"""The audit trail: changes to records (ChangeLog) and access to personal data (AccessLog).

Services call these inside their transaction, with the acting user, so a change and its
record are committed together. Personal values enter the log masked, never in clear.
"""

from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import models

from fangyi.core.models import AccessLog, ChangeLog

Snapshot = dict[str, str]


def acting_user(actor):
    """The user to record as having acted, or None for the system (jobs, imports, the
    person's own phone link)."""
    return actor if getattr(actor, "pk", None) else None


def diff(before: Snapshot, after: Snapshot) -> dict[str, list[str]]:
    return {
        field: [before.get(field, ""), value]
        for field, value in after.items()
        if before.get(field, "") != value
    }


def record_change(
    actor,
    obj: models.Model,
    action: str,
    changes: dict[str, Any],
    *,
    region=None,
    reason: str = "",
) -> ChangeLog | None:
    if action == ChangeLog.Action.UPDATE and not changes:
        return None
    return ChangeLog.objects.create(
        actor=acting_user(actor),
        action=action,
        content_type=ContentType.objects.get_for_model(obj),
        object_id=str(obj.pk),
        object_repr=str(obj)[:200],
        region=region,
        changes=changes,
        reason=reason,
    )


def log_access(
    actor,
    action: str,
    *,
    obj: models.Model | None = None,
    label: str = "",
    region=None,
    detail: dict | None = None,
    request=None,
    via: str = "web",
) -> AccessLog:
    return AccessLog.objects.create(
        actor=actor,
        action=action,
        content_type=ContentType.objects.get_for_model(obj) if obj is not None else None,
        object_id=str(obj.pk) if obj is not None else "",
        object_repr=(label or str(obj))[:200],
        region=region,
        detail=detail or {},
        ip_address=request.META.get("REMOTE_ADDR") if request is not None else None,
        via=via,
    )


def log_export(actor, *, label: str, rows: int, filters: dict, request=None, via="web"):
    """An export of a list (masked or not): who, which list, how many rows, which filters."""
    return log_access(
        actor,
        AccessLog.Action.EXPORT,
        label=label,
        region=actor.region,
        detail={"rows": rows, "filters": filters},
        request=request,
        via=via,
    )


def history_of(obj: models.Model):
    return ChangeLog.objects.filter(
        content_type=ContentType.objects.get_for_model(obj), object_id=str(obj.pk)
    ).select_related("actor")
