"""Pages of the signals (预警信号): the list (the module's home) and its export, a signal with
its series and its response (verify → investigate → conclude, through
`surveillance.signals`), the detector runs and the "run now" button, the duty roster, the
rules (read-only; edited in the admin) and the response timeliness of the jurisdiction."""

import statistics
from collections import defaultdict
from datetime import date, timedelta

from django.contrib import messages
from django.contrib.contenttypes.models import ContentType
from django.db.models import Sum
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from fangyi.accounts.roles import Capability
from fangyi.core.access import get_visible_or_404, require_capability
from fangyi.core.audit import history_of
from fangyi.core.deadlines import tasks_of
from fangyi.core.excel import logged_xlsx_response, refuse_oversized_export
from fangyi.core.models import Duty, Task
from fangyi.core.paging import paginate
from fangyi.core.rules import add_rule_error
from fangyi.core.timefmt import local_minute
from fangyi.diseases.models import Disease
from fangyi.surveillance import signals
from fangyi.surveillance.models import (
    DailyCount,
    DetectorRule,
    DetectorRun,
    DutyRoster,
    Method,
    Signal,
    Source,
)
from fangyi.surveillance.signal_forms import (
    OPEN_STATUSES,
    ConcludeForm,
    InvestigateForm,
    RangeForm,
    RosterForm,
    RunForm,
    SignalFilterForm,
    VerifyForm,
)

PAGE_SIZE = 50
CHART_DAYS = 60
HISTORY_SHOWN = 100


# List -------------------------------------------------------------------------------------


def summary(user) -> dict[str, int]:
    """Open, overdue (verification past due) and raised today, over the jurisdiction."""
    mine = Signal.objects.visible_to(user).primary()
    now = timezone.now()
    midnight = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    overdue = (
        Task.objects.visible_to(user)
        .filter(
            content_type=ContentType.objects.get_for_model(Signal),
            duty=Duty.VERIFY_SIGNAL,
            status=Task.Status.OPEN,
            due_at__lt=now,
            object_id__in=mine.values("pk"),
        )
        .count()
    )
    return {
        "open": mine.filter(status__in=OPEN_STATUSES).count(),
        "overdue": overdue,
        "today": mine.filter(raised_at__gte=midnight).count(),
    }


def signal_list(request):
    require_capability(request.user, Capability.VIEW_SURVEILLANCE)
    filters = SignalFilterForm(request.GET, user=request.user)
    page, query = paginate(request, filters.signals(), PAGE_SIZE)
    context = {
        "filters": filters,
        "page": page,
        "query": query,
        "now": timezone.now(),
        "summary": summary(request.user),
        "can_export": request.user.can(Capability.EXPORT_DATA),
    }
    return render(request, "surveillance/signals/list.html", context)


EXPORT_COLUMNS = [
    gettext_lazy("编号"),
    gettext_lazy("预警日期"),
    gettext_lazy("区划"),
    gettext_lazy("来源"),
    gettext_lazy("类别"),
    gettext_lazy("观察值"),
    gettext_lazy("阈值"),
    gettext_lazy("方法"),
    gettext_lazy("状态"),
    gettext_lazy("核实时限"),
    gettext_lazy("重复次数"),
    gettext_lazy("值班人员"),
    gettext_lazy("发出时间"),
    gettext_lazy("核实时间"),
]


def signal_export(request):
    require_capability(request.user, Capability.EXPORT_DATA)
    require_capability(request.user, Capability.VIEW_SURVEILLANCE)
    filters = SignalFilterForm(request.GET, user=request.user)
    found = filters.signals()
    if refused := refuse_oversized_export(request, found, reverse("surveillance_signals")):
        return refused
    rows = [
        [
            s.pk,
            s.day,
            s.region.full_name or s.region.name,
            s.get_source_display(),
            s.topic_label,
            s.observed,
            s.threshold,
            s.get_method_display(),
            s.get_status_display(),
            local_minute(s.verify_due_at),
            s.repeat_count,
            str(s.assigned_to or ""),
            local_minute(s.raised_at),
            local_minute(s.verified_at),
        ]
        for s in found
    ]
    return logged_xlsx_response(
        request,
        _("预警信号"),
        EXPORT_COLUMNS,
        rows,
        filename="signals.xlsx",
        filters=filters.applied(),
    )


# A signal ---------------------------------------------------------------------------------


def visible_signal(request, pk: int) -> Signal:
    return get_visible_or_404(Signal, request.user, pk=pk)


def chart_data(signal: Signal) -> dict:
    """Daily counts of the signal's series over the 60 days before its day (a county
    series summed over the county and its townships), with the day's threshold."""
    start = signal.day - timedelta(days=CHART_DAYS)
    totals = dict(
        DailyCount.objects.filter(
            source=signal.source,
            topic=signal.topic,
            region__path__startswith=signal.region.path,
            day__gte=start,
            day__lte=signal.day,
        )
        .values_list("day")
        .annotate(n=Sum("count"))
        .order_by()
    )
    days = [start + timedelta(days=n) for n in range(CHART_DAYS + 1)]
    return {
        "days": [d.isoformat() for d in days],
        "counts": [totals.get(d, 0) for d in days],
        "day": signal.day.isoformat(),
        "observed": signal.observed,
        "threshold": signal.threshold,
        "labels": {
            "counts": _("日计数"),
            "threshold": _("阈值"),
            "observed": _("观察值"),
        },
    }


def _history(signal: Signal) -> list[tuple]:
    labels = {field.name: field.verbose_name for field in Signal._meta.fields}
    return [
        (entry, [(labels.get(name, name), *values) for name, values in entry.changes.items()])
        for entry in history_of(signal)[:HISTORY_SHOWN]
    ]


def response_form(request, signal: Signal, data=None):
    """The form of the step the signal waits for, if the user may take it."""
    if signal.merged_into_id is not None or not request.user.can(Capability.RESPOND_SIGNALS):
        return None
    match signal.status:
        case Signal.Status.RAISED:
            return VerifyForm(data)
        case Signal.Status.SUSPECTED:
            return InvestigateForm(data)
        case Signal.Status.INVESTIGATING:
            return ConcludeForm(data, user=request.user)
    return None


ACTIONS = {
    VerifyForm: "surveillance_signal_verify",
    InvestigateForm: "surveillance_signal_investigate",
    ConcludeForm: "surveillance_signal_conclude",
}


def render_detail(request, signal: Signal, form=None, status: int = 200):
    form = form or response_form(request, signal)
    context = {
        "signal": signal,
        "task": tasks_of(signal, Duty.VERIFY_SIGNAL).order_by("-started_at").first(),
        "chart": chart_data(signal),
        "window": {
            Method.MOVING_PERCENTILE: _("观察值为最近7天合计"),
            Method.FARRINGTON: _("观察值为最近一周合计"),
        }.get(signal.method, ""),
        "repeats": signal.repeats.select_related("region").order_by("day", "id"),
        "history": _history(signal),
        "form": form,
        "action": reverse(ACTIONS[type(form)], args=[signal.pk]) if form else "",
        "now": timezone.now(),
    }
    return render(request, "surveillance/signals/detail.html", context, status=status)


def signal_detail(request, pk: int):
    require_capability(request.user, Capability.VIEW_SURVEILLANCE)
    return render_detail(request, visible_signal(request, pk))


def respond(request, pk: int, form_class, step, done_message):
    """Validate the step's form and call the service; on a refusal show it by its field."""
    require_capability(request.user, Capability.VIEW_SURVEILLANCE)
    require_capability(request.user, Capability.RESPOND_SIGNALS)
    signal = visible_signal(request, pk)
    form = response_form(request, signal, request.POST)
    if not isinstance(form, form_class):
        if signal.merged_into_id is not None:
            messages.error(request, _("该信号已合并到前一条信号，请在那条信号上处理。"))
        else:
            messages.error(
                request,
                _("信号当前状态为“%(status)s”，不能进行此操作。")
                % {"status": signal.get_status_display()},
            )
        return redirect(signal)
    if form.is_valid():
        try:
            step(request.user, signal, form)
        except signals.SignalRuleError as refused:
            add_rule_error(form, refused)
        else:
            messages.success(request, done_message)
            return redirect(signal)
    return render_detail(request, signal, form)


@require_POST
def signal_verify(request, pk: int):
    return respond(
        request,
        pk,
        VerifyForm,
        lambda user, signal, form: signals.verify(user, signal, **form.arguments()),
        _("已完成初步核实。"),
    )


@require_POST
def signal_investigate(request, pk: int):
    return respond(
        request,
        pk,
        InvestigateForm,
        lambda user, signal, form: signals.start_investigation(
            user, signal, notes=form.cleaned_data["notes"]
        ),
        _("已开始现场调查。"),
    )


@require_POST
def signal_conclude(request, pk: int):
    return respond(
        request,
        pk,
        ConcludeForm,
        lambda user, signal, form: signals.conclude(user, signal, **form.arguments()),
        _("已提交现场调查结论。"),
    )


# Runs -------------------------------------------------------------------------------------


def run_list(request):
    require_capability(request.user, Capability.VIEW_SURVEILLANCE)
    runs = DetectorRun.objects.select_related("triggered_by").order_by("-day")
    page, query = paginate(request, runs, PAGE_SIZE)
    can_run = request.user.can(Capability.MANAGE_SURVEILLANCE)
    form = RunForm(initial={"day": timezone.localdate()}) if can_run else None
    return render(
        request,
        "surveillance/signals/runs.html",
        {"page": page, "query": query, "form": form},
    )


@require_POST
def run_now(request):
    require_capability(request.user, Capability.MANAGE_SURVEILLANCE)
    form = RunForm(request.POST)
    if not form.is_valid():
        for error in form.errors.get("day", []):
            messages.error(request, error)
        return redirect("surveillance_runs")
    run, new, merged = form.run(request.user)
    messages.success(
        request,
        _(
            "已运行 %(day)s 的预警：监测序列 %(series)d 个，报警 %(alarms)d 次，"
            "新信号 %(new)d 条，合并 %(merged)d 条，用时 %(seconds)s 秒。"
        )
        % {
            "day": run.day.isoformat(),
            "series": run.series,
            "alarms": run.alarms,
            "new": new,
            "merged": merged,
            "seconds": run.seconds,
        },
    )
    return redirect("surveillance_runs")


# Duty roster ------------------------------------------------------------------------------


def roster(request):
    require_capability(request.user, Capability.VIEW_SURVEILLANCE)
    can_edit = request.user.can(Capability.MANAGE_SURVEILLANCE)
    form = None
    if can_edit:
        today = timezone.localdate()
        form = RosterForm(
            request.POST or None,
            user=request.user,
            initial={"start_date": today, "end_date": today},
        )
    if request.method == "POST":
        require_capability(request.user, Capability.MANAGE_SURVEILLANCE)
        if form.is_valid():
            data = form.cleaned_data
            try:
                signals.assign_duty(
                    request.user,
                    data["region"],
                    data["user"],
                    data["start_date"],
                    data["end_date"],
                )
            except signals.SignalRuleError as refused:
                add_rule_error(form, refused)
            else:
                messages.success(request, _("已添加值班安排。"))
                return redirect("surveillance_roster")
    periods = (
        DutyRoster.objects.visible_to(request.user)
        .select_related("region", "user")
        .order_by("-start_date", "region__path")
    )
    page, query = paginate(request, periods, PAGE_SIZE)
    context = {"form": form, "page": page, "query": query, "today": timezone.localdate()}
    return render(request, "surveillance/signals/roster.html", context)


# Rules ------------------------------------------------------------------------------------


def rules(request):
    require_capability(request.user, Capability.VIEW_SURVEILLANCE)
    rows = list(DetectorRule.objects.all())
    codes = {rule.topic for rule in rows if rule.source == Source.CASES and rule.topic}
    diseases = dict(Disease.objects.filter(code__in=codes).values_list("code", "name"))
    for rule in rows:
        if not rule.topic:
            rule.label = _("其他类别（未单列的）")
        elif rule.source == Source.CASES:
            rule.label = diseases.get(rule.topic, rule.topic)
        else:
            rule.label = signals.topic_label(rule.source, rule.topic)
    return render(request, "surveillance/signals/rules.html", {"rules": rows})


# Response timeliness ----------------------------------------------------------------------


def percent(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def timeliness_rows(user, start: date, end: date) -> tuple[list[dict], dict]:
    """Per week (Monday) of signal days, and in total: signals raised, verified, verified
    within the limit, median minutes to verify and the share of each outcome."""
    found = Signal.objects.visible_to(user).primary().filter(day__gte=start, day__lte=end)
    answered = signals.responses(found)
    facts = list(found.values_list("pk", "day", "status"))
    weeks: dict[date, list] = defaultdict(list)
    for fact in facts:
        weeks[fact[1] - timedelta(days=fact[1].weekday())].append(fact)

    def figures(group: list) -> dict:
        done = [answered[pk] for pk, _day, _status in group if answered[pk].minutes is not None]
        on_time = sum(1 for response in done if response.on_time)
        statuses = [status for _pk, _day, status in group]
        raised = len(group)
        return {
            "raised": raised,
            "verified": len(done),
            "on_time": on_time,
            "median_minutes": (round(statistics.median(r.minutes for r in done)) if done else None),
            "dismissed": percent(statuses.count(Signal.Status.DISMISSED), raised),
            "suspected": percent(
                sum(s in (Signal.Status.SUSPECTED, Signal.Status.INVESTIGATING) for s in statuses),
                raised,
            ),
            "confirmed": percent(statuses.count(Signal.Status.CONFIRMED), raised),
            "on_time_rate": percent(on_time, len(done)),
        }

    rows = [{"week": week, **figures(weeks[week])} for week in sorted(weeks, reverse=True)]
    return rows, figures(facts)


def timeliness(request):
    require_capability(request.user, Capability.VIEW_SURVEILLANCE)
    form = RangeForm(request.GET or None)
    start, end = form.range()
    if not form.is_bound:
        form = RangeForm(initial={"start": start, "end": end})
    rows, total = timeliness_rows(request.user, start, end)
    context = {"form": form, "start": start, "end": end, "rows": rows, "total": total}
    return render(request, "surveillance/signals/timeliness.html", context)


urlpatterns = [
    path("", signal_list, name="surveillance_signals"),
    path("signals/export.xlsx", signal_export, name="surveillance_signal_export"),
    path("signals/<int:pk>/", signal_detail, name="surveillance_signal_detail"),
    path("signals/<int:pk>/verify/", signal_verify, name="surveillance_signal_verify"),
    path(
        "signals/<int:pk>/investigate/",
        signal_investigate,
        name="surveillance_signal_investigate",
    ),
    path("signals/<int:pk>/conclude/", signal_conclude, name="surveillance_signal_conclude"),
    path("runs/", run_list, name="surveillance_runs"),
    path("runs/run/", run_now, name="surveillance_run_now"),
    path("roster/", roster, name="surveillance_roster"),
    path("rules/", rules, name="surveillance_rules"),
    path("timeliness/", timeliness, name="surveillance_timeliness"),
]
