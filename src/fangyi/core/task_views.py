"""Pages of the deadline tasks: my tasks, alerts, timeliness per unit (core.timeliness)."""

from datetime import timedelta

from django import forms
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from fangyi.core import timeliness
from fangyi.core.audit import log_export
from fangyi.core.excel import xlsx_response
from fangyi.core.models import Duty
from fangyi.core.paging import paginate

ALERT_PAGE_SIZE = 50
DEFAULT_DAYS = 30
MAX_DAYS = 366


def my_tasks(request):
    context = {"sections": timeliness.task_sections(request.user)}
    return render(request, "core/my_tasks.html", context)


def alert_list(request):
    alerts = timeliness.alerts_for(request.user).select_related("region", "task")
    unread_only = request.GET.get("show") != "all"
    if unread_only:
        alerts = alerts.filter(read_at__isnull=True)
    page, query = paginate(request, alerts, ALERT_PAGE_SIZE)
    urls = timeliness.subject_urls(alert.task for alert in page if alert.task_id)
    for alert in page:
        task = alert.task
        alert.subject_url = urls.get((task.content_type_id, task.object_id)) if task else None
    context = {"page": page, "query": query, "unread_only": unread_only}
    return render(request, "core/alerts.html", context)


def alert_badge(request):
    """The unread count in the navigation bar, polled so a positive result or an overdue
    duty shows on every open page within seconds."""
    return render(request, "partials/alert_badge.html")


@require_POST
def alert_read(request, pk: int):
    if not timeliness.mark_alerts_read(request.user, pk=pk):
        raise Http404
    return redirect("alert_list")


@require_POST
def alerts_read_all(request):
    timeliness.mark_alerts_read(request.user)
    return redirect("alert_list")


class TimelinessForm(forms.Form):
    start = forms.DateField(
        label=gettext_lazy("起始日期"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    end = forms.DateField(
        label=gettext_lazy("截止日期"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    duty = forms.ChoiceField(
        label=gettext_lazy("职责"),
        choices=[("", gettext_lazy("全部"))] + Duty.choices,
        required=False,
    )

    @classmethod
    def from_query(cls, params) -> "TimelinessForm":
        """The form on the query string; with no dates given, the last DEFAULT_DAYS days."""
        today = timezone.localdate()
        data = {
            "start": params.get("start") or (today - timedelta(days=DEFAULT_DAYS - 1)).isoformat(),
            "end": params.get("end") or today.isoformat(),
            "duty": params.get("duty", ""),
        }
        return cls(data)

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end:
            if start > end:
                raise forms.ValidationError(_("起始日期不能晚于截止日期。"))
            if (end - start).days >= MAX_DAYS:
                raise forms.ValidationError(
                    _("日期范围不能超过 %(days)d 天。") % {"days": MAX_DAYS}
                )
        return data

    def table(self, user) -> list[timeliness.Row]:
        data = self.cleaned_data
        return timeliness.timeliness_table(user, data["start"], data["end"], data["duty"] or None)

    def applied(self) -> dict[str, str]:
        return {k: str(v) for k, v in self.cleaned_data.items() if v}


def timeliness_page(request):
    form = TimelinessForm.from_query(request.GET)
    rows = form.table(request.user) if form.is_valid() else []
    context = {"form": form, "table": with_totals(rows), "query": request.GET.urlencode()}
    return render(request, "core/timeliness.html", context)


def with_totals(rows: list[timeliness.Row]) -> list[timeliness.Row]:
    """The rows, then a total per duty when there is more than one row."""
    return [*rows, *timeliness.duty_totals(rows)] if len(rows) > 1 else rows


TIMELINESS_COLUMNS = [
    gettext_lazy("责任单位"),
    gettext_lazy("职责"),
    gettext_lazy("任务数"),
    gettext_lazy("已完成"),
    gettext_lazy("按时完成"),
    gettext_lazy("超时（含超时未完成）"),
    gettext_lazy("超时未完成"),
    gettext_lazy("未到期"),
    gettext_lazy("及时率（%）"),
    gettext_lazy("超时时长中位数（小时）"),
]


def timeliness_export(request):
    form = TimelinessForm.from_query(request.GET)
    if not form.is_valid():
        return redirect(f"{reverse('timeliness')}?{request.GET.urlencode()}")
    rows = form.table(request.user)
    lines = [
        [
            row.unit,
            str(row.duty_label),
            row.total,
            row.done,
            row.on_time,
            row.late,
            row.overdue_open,
            row.pending,
            row.on_time_percent,
            None if row.median_delay_hours is None else round(row.median_delay_hours, 1),
        ]
        for row in with_totals(rows)
    ]
    title = _("时限任务完成情况")
    log_export(
        request.user,
        label=title,
        rows=len(rows),
        filters=form.applied(),
        request=request,
    )
    data = form.cleaned_data
    filename = f"timeliness-{data['start']:%Y%m%d}-{data['end']:%Y%m%d}.xlsx"
    return xlsx_response(title, TIMELINESS_COLUMNS, lines, filename=filename)
