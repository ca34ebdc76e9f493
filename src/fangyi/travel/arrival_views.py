"""Pages of arrivals (来返人员): the list and its export, an arrival, entry by a grid or street
worker and by a hotel or employer, the arrivals waiting for a quarantine room, and import.

Every channel registers through `services.register_arrival`. A hotel or employer account
(unit) registers into the grids of its township and sees only what it registered itself."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from fangyi.accounts.roles import Capability
from fangyi.core.access import get_visible_or_404, require_capability
from fangyi.core.audit import history_of
from fangyi.core.excel import logged_xlsx_response, refuse_oversized_export
from fangyi.core.import_pages import RowsRefused, csv_template, problems_report, run_import
from fangyi.core.masking import mask_name
from fangyi.core.paging import paginate
from fangyi.core.rules import RuleError, add_rule_error
from fangyi.geo.models import inside_or_above
from fangyi.measures.models import Facility, Symptom
from fangyi.people.models import Person
from fangyi.travel import services
from fangyi.travel.arrival_forms import (
    ArrivalFilterForm,
    ArrivalForm,
    BatchRefused,
    entry_party,
    import_headings,
    read_import,
    register_all,
    unit_of,
)
from fangyi.travel.models import Arrival, Stay

ARRIVAL_PAGE_SIZE = 50
LOOKUP_LIMIT = 10
UNIT_RECENT = 30
PROBLEMS_KEY = "travel_import_problems"


# List -------------------------------------------------------------------------------------


def arrival_list(request):
    require_capability(request.user, Capability.VIEW_ARRIVALS)
    filters = ArrivalFilterForm(request.GET, user=request.user)
    page, query = paginate(request, filters.arrivals(), ARRIVAL_PAGE_SIZE)
    user = request.user
    context = {
        "filters": filters,
        "page": page,
        "query": query,
        "can_export": user.can(Capability.EXPORT_DATA),
        "can_register": user.can(Capability.REGISTER_ARRIVALS),
        "can_place": user.can(Capability.MANAGE_MEASURES),
    }
    partial = request.headers.get("HX-Target") == "arrival-table"
    template = "travel/arrival_table.html" if partial else "travel/arrival_list.html"
    return render(request, template, context)


EXPORT_COLUMNS = [
    gettext_lazy("编号"),
    gettext_lazy("姓名"),
    gettext_lazy("证件号码"),
    gettext_lazy("联系电话"),
    gettext_lazy("来源地"),
    gettext_lazy("在来源地起始日期"),
    gettext_lazy("出发日期"),
    gettext_lazy("抵达日期"),
    gettext_lazy("交通方式"),
    gettext_lazy("车次/航班/车牌"),
    gettext_lazy("目的地详细地址"),
    gettext_lazy("所属网格"),
    gettext_lazy("旅居地最高风险等级"),
    gettext_lazy("核酸证明采样时间"),
    gettext_lazy("缺少核酸证明"),
    gettext_lazy("体温（℃）"),
    gettext_lazy("落实情况"),
    gettext_lazy("管控措施"),
    gettext_lazy("报备途径"),
    gettext_lazy("报备次数"),
    gettext_lazy("登记时间"),
]


def arrival_export(request):
    require_capability(request.user, Capability.EXPORT_DATA)
    require_capability(request.user, Capability.VIEW_ARRIVALS)
    filters = ArrivalFilterForm(request.GET, user=request.user)
    arrivals = filters.arrivals()
    if refused := refuse_oversized_export(request, arrivals, reverse("travel_arrival_list")):
        return refused
    rows = [
        [
            a.pk,
            a.person.name,
            a.person.id_number_masked,
            a.person.phone_masked,
            a.origin,
            a.stay_from,
            a.departure_date,
            a.arrival_date,
            a.get_transport_display(),
            a.transport_number,
            a.destination,
            a.grid.full_name,
            a.get_origin_level_display() or _("非风险地区"),
            timezone.localtime(a.certificate_sampled_at).strftime("%Y-%m-%d %H:%M")
            if a.certificate_sampled_at
            else "",
            _("是") if a.certificate_missing else "",
            a.temperature,
            a.get_status_display(),
            a.measure.get_type_display() if a.measure_id else "",
            "、".join(str(Arrival.Channel(c).label) for c in a.channels),
            a.reports,
            timezone.localtime(a.created_at).strftime("%Y-%m-%d %H:%M"),
        ]
        for a in arrivals
    ]
    return logged_xlsx_response(
        request,
        _("来返人员名单"),
        EXPORT_COLUMNS,
        rows,
        filename="arrivals.xlsx",
        filters=filters.applied(),
    )


# An arrival -------------------------------------------------------------------------------


def arrival_detail(request, pk: int):
    require_capability(request.user, Capability.VIEW_ARRIVALS)
    user = request.user
    arrival = get_visible_or_404(Arrival, user, pk=pk)
    # The person may be registered in another grid: linked (and revealable) only when theirs.
    person_visible = Person.objects.visible_to(user).filter(pk=arrival.person_id).exists()
    context = {
        "arrival": arrival,
        "person": arrival.person,
        "person_visible": person_visible,
        "can_reveal": person_visible and user.can(Capability.REVEAL_PERSONAL_DATA),
        "stays": Stay.objects.filter(arrival=arrival).order_by("from_date"),
        "channels": [Arrival.Channel(c).label for c in arrival.channels],
        "outcome": services.outcome_text(arrival),
        "symptoms": [Symptom(s).label for s in arrival.symptoms if s in Symptom.values],
        "history": _history(arrival),
        "can_place": arrival.status == Arrival.Status.PENDING
        and user.can(Capability.MANAGE_MEASURES),
    }
    return render(request, "travel/arrival_detail.html", context)


def _history(arrival: Arrival) -> list[tuple]:
    """Change entries with each change as (label, before, after)."""
    labels = {field.name: field.verbose_name for field in Arrival._meta.fields}
    labels["certificate"] = Arrival._meta.get_field("has_certificate").verbose_name
    return [
        (entry, [(labels.get(name, name), *values) for name, values in entry.changes.items()])
        for entry in history_of(arrival)[:100]
    ]


# Entry ------------------------------------------------------------------------------------


def arrival_new(request):
    """A grid or street worker registers an arrival: of a person already registered
    (`?person=`, found by the search on the page) or of someone new."""
    require_capability(request.user, Capability.REGISTER_ARRIVALS)
    user = request.user
    if unit_of(user) is not None:
        return redirect("travel_arrival_unit")
    require_capability(user, Capability.VIEW_PERSONS)
    person = None
    if person_id := request.GET.get("person"):
        person = get_visible_or_404(Person, user, pk=person_id)
    channel, organisation, grids = entry_party(user, Arrival.Channel.GRID)
    initial = {"arrival_date": timezone.localdate()}
    if person is not None:
        initial |= {"grid": person.grid_id, "destination": person.address}
    form = ArrivalForm(request.POST or None, grids=grids, person=person, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            arrival, created = services.register_arrival(
                user, form.arrival_data(), channel=channel, organisation=organisation
            )
        except RuleError as refused:
            add_rule_error(form, refused)
        else:
            saved_message(request, arrival, created)
            return redirect("travel_arrival_detail", pk=arrival.pk)
    query = request.GET.get("q", "").strip()
    found = (
        Person.objects.visible_to(user).search(query).select_related("grid")[:LOOKUP_LIMIT]
        if len(query) >= 2
        else []
    )
    context = {"form": form, "person": person, "q": query, "found": found}
    return render(request, "travel/arrival_form.html", context)


def saved_message(request, arrival: Arrival, created: bool) -> None:
    outcome = services.outcome_text(arrival)
    if created:
        text = _("已登记：%(name)s，%(outcome)s。回执码 %(code)s")
    else:
        text = _("与此前的报备合并：%(name)s，%(outcome)s。回执码 %(code)s")
    name = mask_name(arrival.person.name)
    messages.success(
        request, text % {"name": name, "outcome": outcome, "code": arrival.receipt_code}
    )


def arrival_unit(request):
    """A hotel or employer registers a guest or worker who arrived, into a grid of its
    township; below the form, only what this unit registered (masked)."""
    require_capability(request.user, Capability.REGISTER_ARRIVALS)
    unit = unit_of(request.user)
    if unit is None:
        raise Http404
    channel, organisation, grids = entry_party(request.user, Arrival.Channel.GRID)
    form = ArrivalForm(
        request.POST or None, grids=grids, initial={"arrival_date": timezone.localdate()}
    )
    if request.method == "POST" and form.is_valid():
        try:
            arrival, created = services.register_arrival(
                request.user, form.arrival_data(), channel=channel, organisation=organisation
            )
        except RuleError as refused:
            add_rule_error(form, refused)
        else:
            if created:
                saved_message(request, arrival, created)
            else:
                # Merged into a report the unit did not make: nothing of it is shown.
                messages.success(request, _("已登记。该人员此前已报备，已合并。"))
            return redirect("travel_arrival_unit")
    registered = (
        Arrival.objects.filter(reporting_organisation=unit)
        .select_related("person", "grid", "measure")
        .order_by("-created_at")[:UNIT_RECENT]
    )
    rows = [
        {
            "name": mask_name(a.person.name),
            "arrival_date": a.arrival_date,
            "origin": a.origin,
            "grid": a.grid.name,
            "status": a.get_status_display(),
            "receipt_code": a.receipt_code,
            "created_at": a.created_at,
        }
        for a in registered
    ]
    context = {"form": form, "unit": unit, "rows": rows}
    return render(request, "travel/arrival_unit.html", context)


# Waiting for a room -----------------------------------------------------------------------


def facilities_with_rooms(user):
    """Active facilities serving the user's jurisdiction, with their free rooms counted."""
    return inside_or_above(Facility.objects.with_free_rooms(), user).order_by("-free", "name")


def arrival_pending(request):
    """Arrivals not yet under their measure, e.g. no free room was found: the street picks
    a facility and places them."""
    require_capability(request.user, Capability.VIEW_ARRIVALS)
    arrivals = (
        Arrival.objects.visible_to(request.user)
        .filter(status=Arrival.Status.PENDING)
        .select_related("person", "grid", "rule")
        .order_by("arrival_date", "id")
    )
    page, query = paginate(request, arrivals, ARRIVAL_PAGE_SIZE)
    can_place = request.user.can(Capability.MANAGE_MEASURES)
    context = {
        "page": page,
        "query": query,
        "today": timezone.localdate(),
        "facilities": list(facilities_with_rooms(request.user)) if can_place else [],
        "can_place": can_place,
    }
    return render(request, "travel/arrival_pending.html", context)


@require_POST
def arrival_place(request, pk: int):
    require_capability(request.user, Capability.MANAGE_MEASURES)
    arrival = get_visible_or_404(Arrival, request.user, pk=pk, status=Arrival.Status.PENDING)
    facility = None
    if facility_id := request.POST.get("facility"):
        facility = facilities_with_rooms(request.user).filter(pk=facility_id).first()
        if facility is None:
            messages.error(request, _("所选隔离场所不存在、已无空房或不在您的管辖范围内。"))
            return redirect("travel_arrival_pending")
    if arrival.arrival_date > timezone.localdate():
        messages.error(request, _("尚未抵达，抵达当日再落实管控。"))
        return redirect("travel_arrival_pending")
    services.apply_measure(request.user, arrival, facility=facility)
    if arrival.status == Arrival.Status.PENDING:
        messages.error(request, _("未能落实：%(reason)s") % {"reason": arrival.pending_reason})
    else:
        messages.success(
            request,
            _("已落实管控：%(name)s，%(outcome)s")
            % {"name": arrival.person.name, "outcome": services.outcome_text(arrival)},
        )
    return redirect("travel_arrival_pending")


# Import -----------------------------------------------------------------------------------


def arrival_import(request):
    """A file of arrivals: every row checked first; one bad row and nothing is stored, with
    every bad row reported; else all are registered in one transaction."""
    require_capability(request.user, Capability.REGISTER_ARRIVALS)
    channel, organisation, grids = entry_party(request.user, Arrival.Channel.IMPORT)
    context = {"headings": import_headings(), "unit": organisation}
    if request.method == "POST":

        def store(rows):
            try:
                results = register_all(
                    request.user,
                    [row.data for row in rows],
                    channel=channel,
                    organisation=organisation,
                )
            except BatchRefused as refused:
                line = rows[refused.index].line
                reason = str(refused.error.message)
                raise RowsRefused([{"line": line, "column": "", "reason": reason}]) from refused
            return import_summary(results)

        context |= run_import(
            request, PROBLEMS_KEY, lambda upload: read_import(upload, grids), store
        )
    return render(request, "travel/arrival_import.html", context)


def import_summary(results) -> dict:
    arrivals = [arrival for arrival, _created in results]
    return {
        "rows": len(results),
        "created": sum(1 for _arrival, created in results if created),
        "merged": sum(1 for _arrival, created in results if not created),
        "measure": sum(1 for a in arrivals if a.status == Arrival.Status.MEASURE),
        "check_only": sum(1 for a in arrivals if a.status == Arrival.Status.CHECK_ONLY),
        "pending": sum(1 for a in arrivals if a.status == Arrival.Status.PENDING),
    }


def arrival_import_template(request):
    require_capability(request.user, Capability.REGISTER_ARRIVALS)
    return csv_template(import_headings(), "arrival-import-template.csv")


def arrival_import_report(request):
    """The rejected rows of the user's last refused file, to correct it."""
    require_capability(request.user, Capability.REGISTER_ARRIVALS)
    return problems_report(request, PROBLEMS_KEY, "arrival-import-rejected.xlsx")


urlpatterns = [
    path("arrivals/", arrival_list, name="travel_arrival_list"),
    path("arrivals/export.xlsx", arrival_export, name="travel_arrival_export"),
    path("arrivals/new/", arrival_new, name="travel_arrival_new"),
    path("arrivals/unit/", arrival_unit, name="travel_arrival_unit"),
    path("arrivals/pending/", arrival_pending, name="travel_arrival_pending"),
    path("arrivals/import/", arrival_import, name="travel_arrival_import"),
    path(
        "arrivals/import/template.csv",
        arrival_import_template,
        name="travel_arrival_import_template",
    ),
    path("arrivals/import/report.xlsx", arrival_import_report, name="travel_arrival_import_report"),
    path("arrivals/<int:pk>/", arrival_detail, name="travel_arrival_detail"),
    path("arrivals/<int:pk>/place/", arrival_place, name="travel_arrival_place"),
]
