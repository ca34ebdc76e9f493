"""Printable documents of a measure, the daily tables of a community and the dashboard."""

from datetime import date
from urllib.parse import urlencode

from django import forms
from django.http import Http404
from django.shortcuts import render
from django.urls import path, reverse
from django.utils import timezone, translation
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from fangyi.accounts.roles import Capability
from fangyi.core.access import get_visible_or_404, require_capability
from fangyi.core.audit import log_export
from fangyi.core.excel import xlsx_response
from fangyi.core.pdf import pdf_response
from fangyi.geo.models import Region
from fangyi.measures import dashboard, documents, tables
from fangyi.measures.models import Measure, MeasureType
from fangyi.travel.tables import screening_table

# Documents --------------------------------------------------------------------------------


def _visible_measure(request, pk: int) -> Measure:
    require_capability(request.user, Capability.VIEW_MEASURES)
    return get_visible_or_404(Measure, request.user, pk=pk)


def _document(request, measure: Measure, *, kind, template: str, build, filename: str):
    reveal = request.user.can(Capability.REVEAL_PERSONAL_DATA)
    documents.log_download(request.user, measure, kind, revealed=reveal, request=request)
    # An official document handed to the person: always in Chinese, whatever the UI language.
    with translation.override("zh-hans"):
        context = build(measure, request.user, reveal=reveal)
        return pdf_response(template, context, filename=filename, request=request)


def measure_notice_pdf(request, pk: int):
    return _document(
        request,
        _visible_measure(request, pk),
        kind=documents.NOTICE,
        template="measures/doc_notice.html",
        build=documents.notice,
        filename=f"notice-{pk}.pdf",
    )


def measure_release_pdf(request, pk: int):
    measure = _visible_measure(request, pk)
    if measure.status != Measure.Status.RELEASED:
        context = {
            "title": documents.RELEASE_CERTIFICATE,
            "message": _("该管控措施尚未解除（当前状态：%(status)s），不能开具解除隔离证明。")
            % {"status": measure.get_status_display()},
        }
        return render(request, "measures/doc_unavailable.html", context, status=404)
    return _document(
        request,
        measure,
        kind=documents.RELEASE_CERTIFICATE,
        template="measures/doc_release.html",
        build=documents.release_certificate,
        filename=f"release-{pk}.pdf",
    )


# Daily tables -----------------------------------------------------------------------------


class DailyTableForm(forms.Form):
    community = forms.ModelChoiceField(
        label=gettext_lazy("社区（村）"), queryset=Region.objects.none()
    )
    day = forms.DateField(
        label=gettext_lazy("日期"),
        required=False,
        widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["community"]
        field.queryset = tables.communities_for(user)
        field.label_from_instance = lambda region: region.full_name

    def clean_day(self) -> date:
        return self.cleaned_data["day"] or timezone.localdate()


def _requested_day(request) -> date:
    try:
        return parse_date(request.GET.get("day") or "") or timezone.localdate()
    except ValueError:
        return timezone.localdate()


def _index(request, form: DailyTableForm, day: date):
    context = {
        "form": form,
        "day": day,
        "communities": tables.communities_for(request.user),
        "can_export": request.user.can(Capability.EXPORT_DATA),
        "can_view_arrivals": request.user.can(Capability.VIEW_ARRIVALS),
    }
    return render(request, "measures/table_index.html", context)


def measure_tables(request):
    """Pick a community and a day; a link per community for that day."""
    require_capability(request.user, Capability.VIEW_MEASURES)
    day = _requested_day(request)
    return _index(request, DailyTableForm(user=request.user, initial={"day": day}), day)


def _table_page(request, build, export_url_name: str):
    require_capability(request.user, Capability.VIEW_MEASURES)
    form = DailyTableForm(request.GET, user=request.user)
    if not form.is_valid():
        return _index(request, form, _requested_day(request))
    community, day = form.cleaned_data["community"], form.cleaned_data["day"]
    query = urlencode({"community": community.pk, "day": day.isoformat()})
    context = {
        "form": form,
        "table": build(request.user, community, day),
        "export_url": f"{reverse(export_url_name)}?{query}",
        "can_export": request.user.can(Capability.EXPORT_DATA),
    }
    return render(request, "measures/table_daily.html", context)


def _table_xlsx(request, build, filename: str):
    require_capability(request.user, Capability.VIEW_MEASURES)
    require_capability(request.user, Capability.EXPORT_DATA)
    form = DailyTableForm(request.GET, user=request.user)
    if not form.is_valid():
        raise Http404
    community, day = form.cleaned_data["community"], form.cleaned_data["day"]
    table = build(request.user, community, day)
    log_export(
        request.user,
        label=f"{table.title} {day.isoformat()}",
        rows=len(table.rows),
        filters={"community": community.pk, "day": day.isoformat()},
        request=request,
    )
    heading, lines = table.sheet_rows()
    return xlsx_response(
        table.sheet, heading, lines, filename=f"{filename}-{community.code}-{day:%Y%m%d}.xlsx"
    )


def measure_monitoring_table(request):
    return _table_page(request, tables.monitoring_table, "measure_monitoring_table_xlsx")


def measure_monitoring_table_xlsx(request):
    return _table_xlsx(request, tables.monitoring_table, "monitoring")


def measure_release_table(request):
    return _table_page(request, tables.release_table, "measure_release_table_xlsx")


def measure_release_table_xlsx(request):
    return _table_xlsx(request, tables.release_table, "release")


def measure_screening_table(request):
    """The arrivals screening table (排查表) of the travel module, beside the other two."""
    require_capability(request.user, Capability.VIEW_ARRIVALS)
    return _table_page(request, screening_table, "measure_screening_table_xlsx")


def measure_screening_table_xlsx(request):
    require_capability(request.user, Capability.VIEW_ARRIVALS)
    return _table_xlsx(request, screening_table, "screening")


# Dashboard --------------------------------------------------------------------------------


def measure_dashboard(request):
    require_capability(request.user, Capability.VIEW_MEASURES)
    figures = dashboard.figures(request.user, timezone.localdate())
    selected = request.GET.get("type")
    selected = selected if selected in MeasureType.values else None
    context = {
        "figures": figures,
        "labels": dashboard.FIGURE_LABELS,
        "types": MeasureType.choices,
        "selected": selected,
        "by_region": figures.by_region(selected),
        "region_total": figures.counts(measure_type=selected),
        "chart": figures.chart(),
    }
    return render(request, "measures/dashboard.html", context)


urlpatterns = [
    path("<int:pk>/notice.pdf", measure_notice_pdf, name="measure_notice_pdf"),
    path("<int:pk>/release.pdf", measure_release_pdf, name="measure_release_pdf"),
    path("tables/", measure_tables, name="measure_tables"),
    path("tables/monitoring/", measure_monitoring_table, name="measure_monitoring_table"),
    path(
        "tables/monitoring.xlsx",
        measure_monitoring_table_xlsx,
        name="measure_monitoring_table_xlsx",
    ),
    path("tables/release/", measure_release_table, name="measure_release_table"),
    path("tables/release.xlsx", measure_release_table_xlsx, name="measure_release_table_xlsx"),
    path("tables/screening/", measure_screening_table, name="measure_screening_table"),
    path(
        "tables/screening.xlsx",
        measure_screening_table_xlsx,
        name="measure_screening_table_xlsx",
    ),
    path("dashboard/", measure_dashboard, name="measure_dashboard"),
]
