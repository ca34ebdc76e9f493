"""Pages of the surveillance dashboards: the epidemic curve with Rt, laboratory positivity,
each source's trends and the signals by township and day. Thin: the figures come from
`surveillance.dashboards`; the filter forms are shared with the API."""

from datetime import date, timedelta

from django import forms
from django.shortcuts import render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fangyi.accounts.roles import Capability
from fangyi.core.access import require_capability
from fangyi.diseases.models import Disease
from fangyi.surveillance import dashboards
from fangyi.surveillance.dashboards import By

MAX_RANGE_DAYS = 731


def _date_input():
    return forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"})


class FilterForm(forms.Form):
    """Filters whose blanks take defaults: the form then shows the values used."""

    def _post_clean(self):
        self.data = self.data.copy()
        for name, value in self.cleaned_data.items():
            if value is not None and not self.data.get(name):
                self.data[name] = self.fields[name].prepare_value(value)


class RegionForm(FilterForm):
    """A township of the jurisdiction (blank: all of it) and the last day shown."""

    region = forms.ModelChoiceField(
        label=_("乡镇（街道）"), queryset=None, required=False, empty_label=_("全辖区")
    )
    end = forms.DateField(label=_("截止日期"), required=False, widget=_date_input())

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["region"].queryset = dashboards.townships(user)

    def clean_end(self) -> date:
        return self.cleaned_data["end"] or timezone.localdate()


class RangeForm(RegionForm):
    """A township and a date range (the last 60 days by default)."""

    start = forms.DateField(label=_("开始日期"), required=False, widget=_date_input())

    field_order = ["region", "start", "end"]

    def clean(self):
        data = super().clean()
        end = data.get("end")
        if end is None:
            return data
        start = data.get("start") or end - timedelta(days=dashboards.DEFAULT_DAYS - 1)
        if start > end:
            self.add_error("start", _("开始日期不能晚于截止日期。"))
        elif (end - start).days >= MAX_RANGE_DAYS:
            self.add_error("start", _("日期范围不能超过两年。"))
        data["start"] = start
        return data


class CurveForm(RangeForm):
    disease = forms.ModelChoiceField(
        label=_("病种"),
        queryset=Disease.objects.order_by("code"),
        to_field_name="code",
        required=False,
    )
    by = forms.ChoiceField(label=_("日期口径"), choices=By.CHOICES, required=False)

    field_order = ["disease", "region", "by", "start", "end"]

    def clean_by(self) -> str:
        return self.cleaned_data["by"] or By.ONSET

    def clean_disease(self) -> Disease | None:
        chosen = self.cleaned_data["disease"]
        return chosen or dashboards.default_disease(self.user, timezone.localdate())


def epicurve(request):
    """Cases per day by classification, Rt with its credible interval, the doubling time."""
    require_capability(request.user, Capability.VIEW_SURVEILLANCE)
    form = CurveForm(request.GET, user=request.user)
    curve = None
    if form.is_valid() and form.cleaned_data["disease"]:
        data = form.cleaned_data
        curve = dashboards.epicurve(
            request.user,
            data["disease"],
            start=data["start"],
            end=data["end"],
            by=data["by"],
            region=data["region"],
        )
    context = {"form": form, "curve": curve, "chart": curve.chart() if curve else None}
    return render(request, "surveillance/dashboards/epicurve.html", context)


def positivity(request):
    require_capability(request.user, Capability.VIEW_SURVEILLANCE)
    form = RangeForm(request.GET, user=request.user)
    figures = None
    if form.is_valid():
        data = form.cleaned_data
        figures = dashboards.positivity(
            request.user, start=data["start"], end=data["end"], region=data["region"]
        )
    context = {"form": form, "figures": figures, "chart": figures.chart() if figures else None}
    return render(request, "surveillance/dashboards/positivity.html", context)


def trends(request):
    require_capability(request.user, Capability.VIEW_SURVEILLANCE)
    form = RegionForm(request.GET, user=request.user)
    figures = None
    if form.is_valid():
        data = form.cleaned_data
        figures = dashboards.trends(request.user, end=data["end"], region=data["region"])
    context = {
        "form": form,
        "figures": figures,
        "chart": figures.chart() if figures else None,
        "days": dashboards.TREND_DAYS,
    }
    return render(request, "surveillance/dashboards/trends.html", context)


class EndForm(FilterForm):
    end = forms.DateField(label=_("截止日期"), required=False, widget=_date_input())

    def clean_end(self) -> date:
        return self.cleaned_data["end"] or timezone.localdate()


def signal_map(request):
    require_capability(request.user, Capability.VIEW_SURVEILLANCE)
    form = EndForm(request.GET)
    figures = None
    if form.is_valid():
        figures = dashboards.signal_map(request.user, end=form.cleaned_data["end"])
    context = {
        "form": form,
        "figures": figures,
        "chart": figures.chart() if figures else None,
        "days": dashboards.MAP_DAYS,
    }
    return render(request, "surveillance/dashboards/signal_map.html", context)


urlpatterns = [
    path("epicurve/", epicurve, name="surveillance_epicurve"),
    path("positivity/", positivity, name="surveillance_positivity"),
    path("trends/", trends, name="surveillance_trends"),
    path("signal-map/", signal_map, name="surveillance_signal_map"),
]
