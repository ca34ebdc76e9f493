"""Forms of the signal pages and API: the list's filters (shared by the page, its export and
the API), the three response steps, the detector run, the duty roster and the timeliness
range. They only validate input; `surveillance.signals` and `detection` decide."""

from datetime import date, timedelta

from django import forms
from django.contrib.contenttypes.models import ContentType
from django.db.models import OuterRef, Subquery
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fangyi.accounts.models import User
from fangyi.accounts.roles import RoleCode
from fangyi.core.forms import EVERYTHING, date_field
from fangyi.core.models import Duty, Task
from fangyi.geo.forms import RegionChoiceField
from fangyi.geo.models import Region
from fangyi.surveillance import detection
from fangyi.surveillance.models import DetectorRun, Method, Signal, Source
from fangyi.surveillance.signals import ROSTER_LEVELS
from fangyi.tracing.models import Cluster

OPEN = "open"
OPEN_STATUSES = (Signal.Status.RAISED, Signal.Status.SUSPECTED, Signal.Status.INVESTIGATING)


def verify_due_at():
    """The due time of a signal's open verification task (none once verified)."""
    tasks = Task.objects.filter(
        content_type=ContentType.objects.get_for_model(Signal),
        object_id=OuterRef("pk"),
        duty=Duty.VERIFY_SIGNAL,
        status=Task.Status.OPEN,
    )
    return Subquery(tasks.order_by("due_at").values("due_at")[:1])


class SignalFilterForm(forms.Form):
    """Filters of the signal list; the page, its export and the API share them."""

    status = forms.ChoiceField(
        label=_("状态"),
        choices=[*EVERYTHING, (OPEN, _("未办结（待核实、疑似、调查中）")), *Signal.Status.choices],
        required=False,
    )
    source = forms.ChoiceField(
        label=_("来源"), choices=[*EVERYTHING, *Source.choices], required=False
    )
    region = RegionChoiceField(
        label=_("区划"), queryset=Region.objects.none(), required=False, empty_label=_("全部")
    )
    day_from = date_field(_("预警日期自"), required=False)
    day_to = date_field(_("预警日期至"), required=False)
    method = forms.ChoiceField(
        label=_("方法"), choices=[*EVERYTHING, *Method.choices], required=False
    )

    def __init__(self, data=None, *, user, **kwargs):
        super().__init__(data, **kwargs)
        self.user = user
        region = self.fields["region"]
        region.queryset = Region.objects.visible_to(user).filter(level__in=ROSTER_LEVELS)

    def signals(self):
        """Primary signals the user may see, newest first, narrowed by the valid filters."""
        signals = (
            Signal.objects.visible_to(self.user)
            .primary()
            .select_related("region", "assigned_to")
            .annotate(verify_due_at=verify_due_at())
            .order_by("-day", "-id")
        )
        data = self.cleaned_data if self.is_valid() else {}
        if status := data.get("status"):
            statuses = OPEN_STATUSES if status == OPEN else (status,)
            signals = signals.filter(status__in=statuses)
        for name in ("source", "method"):
            if value := data.get(name):
                signals = signals.filter(**{name: value})
        if region := data.get("region"):
            signals = signals.filter(region__path__startswith=region.path)
        if day := data.get("day_from"):
            signals = signals.filter(day__gte=day)
        if day := data.get("day_to"):
            signals = signals.filter(day__lte=day)
        return signals

    def applied(self) -> dict[str, str]:
        if not self.is_valid():
            return {}
        return {k: str(v) for k, v in self.cleaned_data.items() if v}


# The response -----------------------------------------------------------------------------

SUSPECTED, DISMISS, CONFIRMED = "suspected", "dismiss", "confirmed"
NOTES_WIDGET = forms.Textarea(attrs={"rows": 3})


class VerifyForm(forms.Form):
    outcome = forms.ChoiceField(
        label=_("核实结果"),
        choices=[(SUSPECTED, _("疑似事件（开展现场调查）")), (DISMISS, _("排除"))],
        widget=forms.RadioSelect,
        error_messages={"required": _("请选择核实结果。")},
    )
    notes = forms.CharField(
        label=_("初步核实情况"),
        required=False,
        widget=NOTES_WIDGET,
        help_text=_("查阅原始记录、比对其他来源、电话联系报告单位等情况"),
    )
    reason = forms.CharField(label=_("排除原因"), required=False, widget=NOTES_WIDGET)

    def arguments(self) -> dict:
        data = self.cleaned_data
        return {
            "suspected": data["outcome"] == SUSPECTED,
            "notes": data["notes"],
            "reason": data["reason"],
        }


class InvestigateForm(forms.Form):
    notes = forms.CharField(
        label=_("现场调查安排"),
        required=False,
        widget=NOTES_WIDGET,
        help_text=_("调查人员、出发时间、调查重点等"),
    )


class ConcludeForm(forms.Form):
    outcome = forms.ChoiceField(
        label=_("调查结论"),
        choices=[(CONFIRMED, _("确认事件")), (DISMISS, _("排除"))],
        widget=forms.RadioSelect,
        error_messages={"required": _("请选择调查结论。")},
    )
    notes = forms.CharField(label=_("现场调查结论"), required=False, widget=NOTES_WIDGET)
    cluster = forms.ModelChoiceField(
        label=_("关联聚集性疫情"),
        queryset=Cluster.objects.none(),
        required=False,
        empty_label=_("（无）"),
        error_messages={"invalid_choice": _("所选聚集性疫情不存在或不在您的管辖范围内。")},
    )
    reason = forms.CharField(label=_("排除原因"), required=False, widget=NOTES_WIDGET)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["cluster"].queryset = Cluster.objects.visible_to(user).order_by("-id")

    def clean(self):
        data = super().clean()
        if data.get("outcome") == DISMISS and data.get("cluster"):
            self.add_error("cluster", _("排除的信号不关联聚集性疫情。"))
        return data

    def arguments(self) -> dict:
        data = self.cleaned_data
        confirmed = data["outcome"] == CONFIRMED
        return {
            "confirmed": confirmed,
            "notes": data["notes"],
            "cluster": data["cluster"] if confirmed else None,
            "reason": data["reason"],
        }


# Runs, roster, timeliness -----------------------------------------------------------------


class RunForm(forms.Form):
    day = date_field(_("监测日期"))

    def clean_day(self) -> date:
        day = self.cleaned_data["day"]
        if day > timezone.localdate():
            raise forms.ValidationError(_("不能运行未来日期的预警。"), code="future")
        return day

    def run(self, user) -> tuple[DetectorRun, int, int]:
        """Run the day's detectors; (the run, new signals, merged repeats) of this run."""
        day = self.cleaned_data["day"]
        before = DetectorRun.objects.filter(day=day).values_list("new_signals", "merged").first()
        new_before, merged_before = before or (0, 0)
        run = detection.run_day(day, user=user)
        return run, run.new_signals - new_before, run.merged - merged_before


class RosterForm(forms.Form):
    region = RegionChoiceField(
        label=_("区划"),
        queryset=Region.objects.none(),
        error_messages={
            "required": _("请选择区划。"),
            "invalid_choice": _("所选区划不存在或不在您的管辖范围内。"),
        },
    )
    user = forms.ModelChoiceField(
        label=_("值班人员"),
        queryset=User.objects.none(),
        error_messages={
            "required": _("请选择值班人员。"),
            "invalid_choice": _("所选人员不是本辖区的疾控流调人员。"),
        },
    )
    start_date = date_field(_("开始日期"))
    end_date = date_field(_("结束日期"))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        region = self.fields["region"]
        region.queryset = Region.objects.visible_to(user).filter(level__in=ROSTER_LEVELS)
        people = self.fields["user"]
        people.queryset = (
            User.objects.visible_to(user)
            .filter(is_active=True, roles__code=RoleCode.CDC_EPIDEMIOLOGIST)
            .select_related("region")
            .order_by("username")
        )
        people.label_from_instance = lambda u: f"{u} （{u.username}）"


TIMELINESS_WEEKS = 8


class RangeForm(forms.Form):
    """A date range of signal days; by default the last eight weeks, Monday to today."""

    start = date_field(_("起始日期"), required=False)
    end = date_field(_("截止日期"), required=False)

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["start"] > data["end"]:
            self.add_error("end", _("截止日期不能早于起始日期。"))
        return data

    def range(self) -> tuple[date, date]:
        today = timezone.localdate()
        data = self.cleaned_data if self.is_valid() else {}
        end = data.get("end") or today
        monday = end - timedelta(days=end.weekday())
        start = data.get("start") or monday - timedelta(weeks=TIMELINESS_WEEKS - 1)
        return start, end
