"""Pages of the communities' daily report (日报告/零报告): the community's page (the system's
figures, confirm and sign, or a zero report; past reports), the street's board of the day
(on time, late, missing, not yet due) and the county's (per street, with completeness and
timeliness over a range of days), both exported to Excel. Thin: rules in `travel.reports`."""

from datetime import date, timedelta

from django import forms
from django.contrib import messages
from django.core import signing
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from fangyi.accounts.roles import Capability
from fangyi.core.access import get_visible_or_404, require_capability
from fangyi.core.excel import logged_xlsx_response
from fangyi.core.rules import RuleError, add_rule_error
from fangyi.core.timefmt import local_minute
from fangyi.geo.models import Region
from fangyi.travel import reports
from fangyi.travel.models import DailyReport, ReportRule

FIGURES_SALT = "travel.daily-report.figures"
# The figures shown must be confirmed within this time, or looked at again.
FIGURES_MAX_AGE = 2 * 3600
PAST_REPORTS = 14
RATE_DAYS = 14


def _day(request, name: str = "day", default: date | None = None) -> date:
    try:
        value = parse_date(request.GET.get(name) or "")
    except ValueError:
        value = None
    return value or default or timezone.localdate()


# The community's page ---------------------------------------------------------------------


class ReportForm(forms.Form):
    signed_by = forms.CharField(
        label=gettext_lazy("报告人签名（姓名）"), max_length=32, required=False
    )
    note = forms.CharField(
        label=gettext_lazy("情况说明"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    figures = forms.CharField(widget=forms.HiddenInput)

    def clean_figures(self) -> reports.Figures:
        """The figures exactly as the page showed them (signed, so they are the system's)."""
        try:
            data = signing.loads(
                self.cleaned_data["figures"], salt=FIGURES_SALT, max_age=FIGURES_MAX_AGE
            )
        except signing.BadSignature as error:
            raise forms.ValidationError(
                _("页面数据已过期，请刷新页面重新核对数据后再上报。"), code="stale"
            ) from error
        return reports.Figures.from_json(data)


def _signed(figures: reports.Figures) -> str:
    return signing.dumps(figures.as_json(), salt=FIGURES_SALT)


def report_community(request):
    """A community's figures of the day, the form to confirm them or file a zero report,
    and its past reports."""
    require_capability(request.user, Capability.SUBMIT_DAILY_REPORTS)
    communities = reports.communities_visible_to(request.user)
    chosen = request.GET.get("community") or (communities[0].pk if communities else None)
    community = None
    if chosen:
        community = get_visible_or_404(Region, request.user, pk=chosen, level=Region.Level.VILLAGE)
    day = _day(request)
    form = None
    if community is not None:
        form = ReportForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                reports.submit_report(
                    request.user,
                    community,
                    day,
                    is_zero=request.POST.get("action") == "zero",
                    signed_by=form.cleaned_data["signed_by"],
                    note=form.cleaned_data["note"],
                    figures=form.cleaned_data["figures"],
                )
            except RuleError as refused:
                add_rule_error(form, refused)
            else:
                messages.success(request, _("已上报 %(day)s 日报告。") % {"day": day.isoformat()})
                query = f"?community={community.pk}&day={day.isoformat()}"
                return redirect(reverse("travel_report_community") + query)
    context = {"communities": communities, "community": community, "day": day, "form": form}
    if community is not None:
        figures = reports.community_figures([community], day)[community.pk]
        form.initial["figures"] = _signed(figures)
        if form.is_bound:  # re-shown after a refusal: with the figures now
            form.data = form.data.copy()
            form.data["figures"] = _signed(figures)
        context |= {
            "figures": figures,
            "labels": reports.FIGURE_LABELS,
            "due_at": ReportRule.deadline_on(day),
            "report": DailyReport.objects.filter(community=community, day=day).first(),
            "past": DailyReport.objects.filter(community=community)
            .select_related("reporter")
            .order_by("-day")[:PAST_REPORTS],
        }
    return render(request, "travel/report_community.html", context)


# The street's board -----------------------------------------------------------------------

STREET_COLUMNS = [
    gettext_lazy("社区（村）"),
    gettext_lazy("上报情况"),
    gettext_lazy("上报时间"),
    gettext_lazy("报告人"),
    gettext_lazy("零报告"),
    *(reports.FIGURE_LABELS[name] for name in reports.FIGURE_LABELS),
]


def report_street(request):
    """Each community of the user's jurisdiction and its report of the day."""
    require_capability(request.user, Capability.VIEW_ARRIVALS)
    day = _day(request)
    board = reports.day_board(request.user, day)
    if request.GET.get("format") == "xlsx":
        require_capability(request.user, Capability.EXPORT_DATA)
        rows = [_street_row(entry) for entry in board]
        return logged_xlsx_response(
            request,
            _("%(day)s 社区日报告上报情况") % {"day": day.isoformat()},
            STREET_COLUMNS,
            rows,
            filename=f"daily-reports-{day:%Y%m%d}.xlsx",
            filters={"day": day.isoformat()},
        )
    context = {
        "day": day,
        "board": board,
        "counts": [
            (key, reports.Standing.LABELS[key], n)
            for key, n in reports.standing_counts(board).items()
        ],
        "totals": reports.board_totals(board),
        "labels": reports.FIGURE_LABELS,
        "due_at": ReportRule.deadline_on(day),
        "can_export": request.user.can(Capability.EXPORT_DATA),
    }
    return render(request, "travel/report_street.html", context)


def _street_row(entry: reports.CommunityDay) -> list:
    report, figures = entry.report, entry.figures
    values = [getattr(figures, name) if figures else "" for name in reports.FIGURE_LABELS]
    return [
        entry.community.full_name,
        entry.standing_label,
        local_minute(report.submitted_at) if report else "",
        report.signed_by if report else "",
        (_("是") if report.is_zero else _("否")) if report else "",
        *values,
    ]


# The county's board -----------------------------------------------------------------------

COUNTY_COLUMNS = [
    gettext_lazy("街道（乡镇）"),
    gettext_lazy("社区（村）"),
    gettext_lazy("社区数"),
    *(reports.Standing.LABELS[key] for key in reports.Standing.LABELS),
    gettext_lazy("应报（社区·天）"),
    gettext_lazy("已报"),
    gettext_lazy("按时"),
    gettext_lazy("完整率（%）"),
    gettext_lazy("及时率（%）"),
]


def report_county(request):
    """Per street: its communities' standing on the day, and completeness and timeliness
    from `start` to `end` (the last 14 days by default), with each community's rates."""
    require_capability(request.user, Capability.VIEW_ARRIVALS)
    day = _day(request)
    end = _day(request, "end", day)
    start = min(_day(request, "start", end - timedelta(days=RATE_DAYS - 1)), end)
    streets, per_street = reports.county_board(request.user, day, start, end)
    if request.GET.get("format") == "xlsx":
        require_capability(request.user, Capability.EXPORT_DATA)
        rows = []
        for street in streets:
            rows.append(_county_row(street.region.name, "", street))
            rows += [
                _county_row(street.region.name, entry.region.name, entry)
                for entry in per_street[street.region.pk]
            ]
        return logged_xlsx_response(
            request,
            _("社区日报告完整率和及时率 %(start)s 至 %(end)s")
            % {"start": start.isoformat(), "end": end.isoformat()},
            COUNTY_COLUMNS,
            rows,
            filename=f"daily-report-rates-{start:%Y%m%d}-{end:%Y%m%d}.xlsx",
            filters={"day": day.isoformat(), "start": start.isoformat(), "end": end.isoformat()},
        )
    context = {
        "day": day,
        "start": start,
        "end": end,
        "streets": [(street, per_street[street.region.pk]) for street in streets],
        "standings": reports.Standing.LABELS,
        "can_export": request.user.can(Capability.EXPORT_DATA),
    }
    return render(request, "travel/report_county.html", context)


def _county_row(street: str, community: str, rates: reports.Rates) -> list:
    return [
        street,
        community,
        rates.communities,
        *(rates.today[key] for key in reports.Standing.LABELS),
        rates.due,
        rates.submitted,
        rates.on_time,
        rates.completeness if rates.completeness is not None else "",
        rates.timeliness if rates.timeliness is not None else "",
    ]


urlpatterns = [
    path("reports/", report_community, name="travel_report_community"),
    path("reports/street/", report_street, name="travel_report_street"),
    path("reports/county/", report_county, name="travel_report_county"),
]
