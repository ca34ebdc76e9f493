from datetime import timedelta

from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.db import connection
from django.db.models import Count, Q
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone

from fangyi.accounts.roles import Capability
from fangyi.cases.models import CaseReport
from fangyi.core.access import public, require_capability
from fangyi.core.models import AccessLog, JobHeartbeat, Task
from fangyi.core.paging import paginate
from fangyi.core.tasks import HEARTBEAT
from fangyi.geo.models import Organisation, Region
from fangyi.people.models import Person


def home(request):
    user = request.user
    persons = Person.objects.visible_to(user).aggregate(
        total=Count("id"),
        resident=Count("id", filter=Q(category=Person.Category.RESIDENT)),
        floating=Count("id", filter=Q(category=Person.Category.FLOATING)),
        key=Count("id", filter=Q(category=Person.Category.KEY)),
    )
    regions = Region.objects.visible_to(user).aggregate(
        villages=Count("id", filter=Q(level=Region.Level.VILLAGE)),
        grids=Count("id", filter=Q(level=Region.Level.GRID)),
    )
    key_group_persons = (
        Person.objects.visible_to(user).filter(key_groups__isnull=False).distinct().count()
    )
    week_ago = timezone.now() - timedelta(days=7)
    cases = (
        CaseReport.objects.visible_to(user)
        .alive()
        .aggregate(
            last_week=Count("id", filter=Q(diagnosed_at__gte=week_ago)),
            to_review=Count("id", filter=Q(status=CaseReport.Status.SUBMITTED)),
        )
    )
    context = {
        "cases": cases,
        "overdue_tasks": Task.objects.visible_to(user).overdue().count(),
        "persons": persons,
        "regions": regions,
        "key_group_persons": key_group_persons,
        "organisations": Organisation.objects.visible_to(user).count(),
    }
    return render(request, "core/home.html", context)


def access_log(request):
    require_capability(request.user, Capability.VIEW_AUDIT)
    entries = AccessLog.objects.visible_to(request.user).select_related("actor")
    if action := request.GET.get("action"):
        entries = entries.filter(action=action)
    page, query = paginate(request, entries, 50)
    context = {"page": page, "query": query, "actions": AccessLog.Action.choices, "action": action}
    return render(request, "core/access_log.html", context)


@staff_member_required
def status(request):
    context = {
        "heartbeat": JobHeartbeat.objects.filter(name=HEARTBEAT).first(),
        "job_backend": "Redis" if settings.REDIS_URL else "SQLite",
        "database": connection.vendor,
    }
    return render(request, "core/status.html", context)


@public
def healthz(request):
    return HttpResponse("ok", content_type="text/plain")
