"""Deadline tasks: every time limit is a DeadlineRule row; services open a task when a duty
starts and close it when the duty is done. A periodic job (core.tasks.mark_overdue) alerts
the responsible unit of what is overdue."""

from datetime import datetime, timedelta

from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone

from fangyi.core.models import Alert, DeadlineRule, Duty, Task


def rule_hours(duty: str, *, urgent: bool = False) -> int:
    """Hours allowed for a duty; an urgent rule falls back to the general one."""
    rules = dict(DeadlineRule.objects.filter(duty=duty).values_list("urgent", "hours"))
    if urgent and True in rules:
        return rules[True]
    return rules[False]


def new_task(
    duty: str,
    subject: models.Model,
    *,
    region,
    started_at: datetime,
    hours: int | None = None,
    urgent: bool = False,
    organisation=None,
    user=None,
    label: str = "",
) -> Task:
    """An unsaved task (for bulk creation); `open_task` saves one."""
    hours = hours if hours is not None else rule_hours(duty, urgent=urgent)
    return Task(
        duty=duty,
        content_type=ContentType.objects.get_for_model(subject),
        object_id=subject.pk,
        subject_label=(label or str(subject))[:200],
        region=region,
        responsible_organisation=organisation,
        responsible_user=user,
        started_at=started_at,
        due_at=started_at + timedelta(hours=hours),
    )


def open_committee_tasks(
    duty: str,
    items: list[tuple[models.Model, object, str]],
    *,
    started_at: datetime,
    hours: float | None = None,
) -> list[Task]:
    """One task per (subject, region, label), each for the village (community) committee
    of its region, in one insert: the duties a list, a round or a day hands to every grid
    or community concerned."""
    from fangyi.geo.models import Organisation

    committees = Organisation.objects.nearest_each(
        Organisation.Type.VILLAGE_COMMITTEE, {region.pk for _, region, _ in items}
    )
    return Task.objects.bulk_create(
        new_task(
            duty,
            subject,
            region=region,
            started_at=started_at,
            hours=hours,
            organisation=committees[region.pk],
            label=label,
        )
        for subject, region, label in items
    )


def open_task(duty: str, subject: models.Model, **details) -> Task:
    """Start the clock on a duty (hours from the rules unless given, e.g. a disease's limit)."""
    task = new_task(duty, subject, **details)
    task.save()
    return task


def tasks_of(subject: models.Model, duty: str | None = None):
    tasks = Task.objects.filter(
        content_type=ContentType.objects.get_for_model(subject), object_id=subject.pk
    )
    return tasks.filter(duty=duty) if duty else tasks


def close_task(subject: models.Model, duty: str, *, done_at: datetime | None = None) -> int:
    """Mark the open task(s) of that duty on that record done; returns how many."""
    return (
        tasks_of(subject, duty)
        .filter(status=Task.Status.OPEN)
        .update(status=Task.Status.DONE, done_at=done_at or timezone.now())
    )


def cancel_tasks(subject: models.Model) -> int:
    return (
        tasks_of(subject)
        .filter(status=Task.Status.OPEN)
        .update(status=Task.Status.CANCELLED, done_at=timezone.now())
    )


def alert_overdue(now: datetime | None = None) -> int:
    """One alert per newly overdue task, for its responsible unit. Set-based."""
    now = now or timezone.now()
    fresh = list(Task.objects.overdue(now).filter(overdue_alerted_at__isnull=True))
    Alert.objects.bulk_create(
        Alert(
            region_id=task.region_id,
            organisation_id=task.responsible_organisation_id,
            user_id=task.responsible_user_id,
            task=task,
            message=f"{Duty(task.duty).label}超时：{task.subject_label}",
        )
        for task in fresh
    )
    Task.objects.filter(pk__in=[t.pk for t in fresh]).update(overdue_alerted_at=now)
    return len(fresh)
