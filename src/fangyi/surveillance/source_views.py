"""Pages of the signal sources entered here: a pharmacy's real-name sales (entry, its list,
import), the grid's follow-up of fever buyers, fever-clinic visits, school absences, the
CDC's lists of each, and the import of the daily counts from before the system.

Every channel validates with `source_forms` and writes through `surveillance.sources` (or
`counts.import_history`): a batch lands whole or not at all, and sending it again changes
nothing."""

from datetime import timedelta

from django.contrib import messages
from django.contrib.contenttypes.models import ContentType
from django.db.models import Exists, OuterRef
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from fangyi.accounts.roles import Capability
from fangyi.core.access import require_capability
from fangyi.core.excel import logged_xlsx_response, refuse_oversized_export
from fangyi.core.import_pages import csv_template, problems_report, run_import
from fangyi.core.masking import mask_name
from fangyi.core.models import ChangeLog, Duty, Task
from fangyi.core.paging import paginate
from fangyi.core.rules import RuleError
from fangyi.core.tabular import parse_date
from fangyi.core.timefmt import local_minute
from fangyi.measures.models import symptom_labels
from fangyi.surveillance import counts, sources
from fangyi.surveillance.models import PharmacySale, SchoolAbsence, Syndrome
from fangyi.surveillance.source_forms import (
    HISTORY_TABLE,
    SALE_TABLE,
    AbsenceFilterForm,
    FollowUpForm,
    SaleFilterForm,
    SaleForm,
    SchoolDayForm,
    UnitForm,
    UnitSaleFilterForm,
    VisitFilterForm,
    VisitForm,
    fever_buyers,
    grids_of,
    read_history,
    read_sales,
    recent_days,
    register_visits,
    reporting_units,
    units_of,
    with_defaults,
)

PAGE_SIZE = 50
RECENT_SHOWN = 10
SCHOOL_DAYS_SHOWN = 30
SALES_PROBLEMS = "surveillance_sales_import_problems"
HISTORY_PROBLEMS = "surveillance_history_import_problems"


def wants_export(request) -> bool:
    return request.GET.get("format") == "xlsx"


# Pharmacy: entry ----------------------------------------------------------------------------


def sale_new(request):
    """A pharmacy enters a buyer at the till; the page is then ready for the next one."""
    require_capability(request.user, Capability.REPORT_SALES)
    own, choices = reporting_units(request.user, sources.PHARMACY_TYPES)
    form = SaleForm(request.POST or None, units=choices)
    if request.method == "POST" and form.is_valid():
        pharmacy = form.chosen_unit or own
        row = form.sale_row()
        outcome = sources.record_sales(request.user, pharmacy, [row])
        sale_message(request, pharmacy, row, outcome)
        return redirect("surveillance_sale_new")
    recent = (
        PharmacySale.objects.visible_to(request.user)
        .filter(pharmacy__in=[own] if own else choices, day=timezone.localdate())
        .select_related("pharmacy")[:RECENT_SHOWN]
    )
    return render(
        request,
        "surveillance/sources/sale_form.html",
        {"form": form, "pharmacy": own, "recent": recent},
    )


def sale_message(request, pharmacy, row: sources.SaleRow, outcome: sources.BatchOutcome) -> None:
    if not outcome.created:
        messages.warning(
            request, _("销售单号 %(receipt)s 已登记过，未重复登记。") % {"receipt": row.receipt}
        )
        return
    sale = PharmacySale.objects.select_related("follow_up_region").get(
        pharmacy=pharmacy, receipt=row.receipt
    )
    saved = _("已登记：%(name)s，%(drug)s，单号 %(receipt)s。") % {
        "name": sale.buyer_name_masked,
        "drug": sale.get_drug_category_display(),
        "receipt": sale.receipt,
    }
    if sale.has_fever:
        where = sale.follow_up_region.full_name or sale.follow_up_region.name
        messages.warning(
            request, saved + _("购药人发热，已推送至 %(region)s 网格跟进。") % {"region": where}
        )
    else:
        messages.success(request, saved + _("未发热，无需网格跟进。"))


# Pharmacy: its list -------------------------------------------------------------------------

SALE_COLUMNS = [
    gettext_lazy("销售时间"),
    gettext_lazy("上报时间"),
    gettext_lazy("迟报"),
    gettext_lazy("药店"),
    gettext_lazy("销售单号"),
    gettext_lazy("购药人"),
    gettext_lazy("证件号码"),
    gettext_lazy("联系电话"),
    gettext_lazy("药品类别"),
    gettext_lazy("药品名称"),
    gettext_lazy("数量"),
    gettext_lazy("症状"),
    gettext_lazy("发热"),
]


def sale_export(request, sales, filters, list_url: str):
    if refused := refuse_oversized_export(request, sales, list_url):
        return refused
    rows = [
        [
            local_minute(s.sold_at),
            local_minute(s.reported_at),
            _("是") if s.late else "",
            s.pharmacy.name,
            s.receipt,
            s.buyer_name_masked,
            s.buyer_id_masked,
            s.buyer_phone_masked,
            s.get_drug_category_display(),
            s.drug_name,
            s.quantity,
            "、".join(symptom_labels(s.symptoms)),
            _("是") if s.has_fever else "",
        ]
        for s in sales
    ]
    return logged_xlsx_response(
        request,
        _("药店购药登记"),
        SALE_COLUMNS,
        rows,
        filename="pharmacy-sales.xlsx",
        filters=filters.applied(),
    )


def sale_list(request):
    """A pharmacy's sales of a day (today unless chosen), buyers masked, late reports marked.
    Its own records: the pharmacy may export them (masked, logged)."""
    require_capability(request.user, Capability.REPORT_SALES)
    own, choices = reporting_units(request.user, sources.PHARMACY_TYPES)
    filters = UnitSaleFilterForm(
        request.GET,
        user=request.user,
        units=[own] if own else choices,
        several=own is None,
    )
    sales = filters.sales()
    if wants_export(request):
        if own is None:
            require_capability(request.user, Capability.EXPORT_DATA)
        return sale_export(request, sales, filters, reverse("surveillance_sale_list"))
    page, query = paginate(request, sales, PAGE_SIZE)
    context = {"filters": filters, "page": page, "query": query, "pharmacy": own}
    return render(request, "surveillance/sources/sale_list.html", context)


def sale_overview(request):
    """The CDC's view of every sale in the jurisdiction (the last 7 days unless chosen)."""
    require_capability(request.user, Capability.VIEW_SURVEILLANCE)
    filters = SaleFilterForm(with_defaults(request.GET, **recent_days()), user=request.user)
    sales = filters.sales()
    can_export = request.user.can(Capability.EXPORT_DATA)
    if wants_export(request):
        require_capability(request.user, Capability.EXPORT_DATA)
        return sale_export(request, sales, filters, reverse("surveillance_sale_overview"))
    page, query = paginate(request, sales, PAGE_SIZE)
    context = {"filters": filters, "page": page, "query": query, "can_export": can_export}
    return render(request, "surveillance/sources/sale_overview.html", context)


# Pharmacy: import ---------------------------------------------------------------------------


def sale_import(request):
    require_capability(request.user, Capability.REPORT_SALES)
    own, choices = reporting_units(request.user, sources.PHARMACY_TYPES)
    unit_form = UnitForm(request.POST or None, units=choices, label=_("药店"))
    context = {
        "title": _("导入购药登记"),
        "unit_form": unit_form,
        "headings": list(SALE_TABLE.columns),
        "template_url": reverse("surveillance_sale_import_template"),
        "report_url": reverse("surveillance_sale_import_report"),
        "notes": [
            _("必填列：销售单号、销售时间、购药人姓名、证件号码、药品类别。"),
            _("药品类别填 退热药、止咳药、止泻药 或 抗菌药物；症状用顿号分隔，如 发热、干咳。"),
            _("任何一行有误，整个文件都不会导入，可下载拒收报告修改后重新导入。"),
            _("已登记的销售单号不会重复登记，同一文件可以放心重新导入。"),
        ],
    }
    if request.method == "POST":
        pharmacy = own or unit_form.chosen_unit
        if pharmacy is None:
            unit_form.is_valid()
        else:

            def store(rows):
                outcome = sources.record_sales(request.user, pharmacy, rows)
                text = _("已导入 %(rows)d 行：新登记 %(created)d 条，已登记过 %(unchanged)d 条。")
                return text % {
                    "rows": len(rows),
                    "created": outcome.created,
                    "unchanged": outcome.unchanged,
                }

            context |= run_import(request, SALES_PROBLEMS, read_sales, store)
    return render(request, "surveillance/sources/import.html", context)


def sale_import_template(request):
    require_capability(request.user, Capability.REPORT_SALES)
    return csv_template(list(SALE_TABLE.columns), "pharmacy-sales-template.csv")


def sale_import_report(request):
    require_capability(request.user, Capability.REPORT_SALES)
    return problems_report(request, SALES_PROBLEMS, "pharmacy-sales-rejected.xlsx")


# Grid: fever buyers to follow up --------------------------------------------------------------


def buyer_list(request):
    """Fever buyers handed to the user's grid or street: pending first unless all are
    asked for; the buyer masked, the phone revealed on demand (logged)."""
    require_capability(request.user, Capability.FOLLOW_UP_BUYERS)
    show_all = request.GET.get("show") == "all"
    open_tasks = Task.objects.filter(
        content_type=ContentType.objects.get_for_model(PharmacySale),
        object_id=OuterRef("pk"),
        duty=Duty.FOLLOW_UP_BUYER,
        status=Task.Status.OPEN,
    )
    buyers = fever_buyers(request.user).annotate(pending=Exists(open_tasks))
    if not show_all:
        buyers = buyers.filter(pending=True)
    page, query = paginate(request, buyers, PAGE_SIZE)
    notes = follow_up_notes([sale.pk for sale in page])
    for sale in page:
        sale.follow_up_note = notes.get(sale.pk, "")
    context = {
        "page": page,
        "query": query,
        "show_all": show_all,
        "can_reveal": request.user.can(Capability.REVEAL_PERSONAL_DATA),
        "follow_up_form": FollowUpForm(),
    }
    return render(request, "surveillance/sources/buyer_list.html", context)


def follow_up_notes(sale_ids: list[int]) -> dict[int, str]:
    """The latest follow-up note of each sale (kept in the change log)."""
    entries = ChangeLog.objects.filter(
        content_type=ContentType.objects.get_for_model(PharmacySale),
        object_id__in=[str(pk) for pk in sale_ids],
        changes__has_key="follow_up",
    ).order_by("at")
    return {int(e.object_id): e.changes["follow_up"][1] for e in entries}


def buyer_of(request, pk: int) -> PharmacySale:
    sale = fever_buyers(request.user).filter(pk=pk).first()
    if sale is None:
        raise Http404
    return sale


@require_POST
def buyer_reveal(request, pk: int):
    require_capability(request.user, Capability.FOLLOW_UP_BUYERS)
    require_capability(request.user, Capability.REVEAL_PERSONAL_DATA)
    sale = buyer_of(request, pk)
    revealed = sources.reveal_buyer(request.user, sale, request=request)
    context = {"sale": sale, "phone": revealed["phone"]}
    return render(request, "surveillance/sources/_buyer_phone.html", context)


@require_POST
def buyer_follow_up(request, pk: int):
    require_capability(request.user, Capability.FOLLOW_UP_BUYERS)
    sale = buyer_of(request, pk)
    form = FollowUpForm(request.POST)
    if not form.is_valid():
        messages.error(request, form.errors["note"][0])
    else:
        try:
            sources.follow_up(request.user, sale, form.cleaned_data["note"])
        except RuleError as refused:
            messages.error(request, refused.message)
        else:
            messages.success(
                request, _("已记录跟进：%(name)s。") % {"name": sale.buyer_name_masked}
            )
    return redirect("surveillance_buyer_list")


# Fever clinics ------------------------------------------------------------------------------


def visit_new(request):
    """A fever clinic enters a visit: the patient by document number, or registered anew."""
    require_capability(request.user, Capability.REPORT_FEVER_VISITS)
    user = request.user
    own, choices = reporting_units(user, sources.CLINIC_TYPES)
    form = VisitForm(request.POST or None, grids=grids_of(user), units=choices)
    if request.method == "POST" and form.is_valid():
        clinic = form.chosen_unit or own
        entry = form.visit_entry()
        outcome = register_visits(user, clinic, [entry])
        name = mask_name(entry.row.person.name)
        if not outcome.created:
            messages.warning(
                request,
                _("就诊流水号 %(number)s 已登记过，未重复登记。")
                % {"number": entry.row.external_id},
            )
        elif entry.person_data:
            messages.success(request, _("已登记就诊：%(name)s（新登记人员）。") % {"name": name})
        else:
            messages.success(request, _("已登记就诊：%(name)s。") % {"name": name})
        return redirect("surveillance_visit_new")
    return render(request, "surveillance/sources/visit_form.html", {"form": form, "clinic": own})


VISIT_COLUMNS = [
    gettext_lazy("就诊时间"),
    gettext_lazy("接诊机构"),
    gettext_lazy("就诊流水号"),
    gettext_lazy("患者"),
    gettext_lazy("证件号码"),
    gettext_lazy("乡镇（街道）"),
    gettext_lazy("体温（℃）"),
    gettext_lazy("症状"),
    gettext_lazy("症候群"),
    gettext_lazy("已询问流行病学史"),
    gettext_lazy("流行病学史"),
    gettext_lazy("样本条码"),
    gettext_lazy("处置"),
]


def syndrome_labels(codes: list[str]) -> str:
    return "、".join(str(Syndrome(c).label) for c in codes if c in Syndrome.values)


def visit_list(request):
    """Visits of the user's clinic, or of the jurisdiction for the CDC; patients masked."""
    user = request.user
    sees_all = user.can(Capability.VIEW_SURVEILLANCE)
    if not sees_all:
        require_capability(user, Capability.REPORT_FEVER_VISITS)
    clinics = units_of(user, sources.CLINIC_TYPES)
    filters = VisitFilterForm(
        with_defaults(request.GET, **recent_days()), user=user, clinics=clinics
    )
    visits = filters.visits(own_clinics_only=not sees_all)
    if wants_export(request):
        require_capability(user, Capability.EXPORT_DATA)
        if refused := refuse_oversized_export(request, visits, reverse("surveillance_visit_list")):
            return refused
        rows = [
            [
                local_minute(v.visited_at),
                v.clinic.name,
                v.external_id,
                mask_name(v.person.name),
                v.person.id_number_masked,
                v.region.name,
                v.temperature,
                "、".join(symptom_labels(v.symptoms)),
                syndrome_labels(v.syndromes),
                _("是") if v.history_asked else _("否"),
                v.history,
                v.sample_barcode if v.sample_taken else "",
                v.get_disposition_display(),
            ]
            for v in visits
        ]
        return logged_xlsx_response(
            request,
            _("发热门诊就诊"),
            VISIT_COLUMNS,
            rows,
            filename="fever-clinic-visits.xlsx",
            filters=filters.applied(),
        )
    page, query = paginate(request, visits, PAGE_SIZE)
    for visit in page:
        visit.patient_masked = mask_name(visit.person.name)
        visit.syndrome_text = syndrome_labels(visit.syndromes)
    context = {
        "filters": filters,
        "page": page,
        "query": query,
        "can_export": user.can(Capability.EXPORT_DATA),
        "can_enter": user.can(Capability.REPORT_FEVER_VISITS),
    }
    return render(request, "surveillance/sources/visit_list.html", context)


# Schools ------------------------------------------------------------------------------------


def absence_day(request):
    """A school's day: a row per syndrome; saving replaces the day's counts. Below, the
    school's last 30 days."""
    require_capability(request.user, Capability.REPORT_ABSENCES)
    user = request.user
    own, choices = reporting_units(user, sources.SCHOOL_TYPES)
    day = parse_date(request.GET.get("day", "")) or timezone.localdate()
    school = own or UnitForm(request.GET, units=choices, label=_("学校")).chosen_unit
    if request.method == "POST":
        form = SchoolDayForm(request.POST, units=choices)
        if form.is_valid():
            school = form.chosen_unit or own
            sources.record_absences(user, school, form.absence_rows())
            messages.success(
                request,
                _("已保存 %(school)s %(day)s 的因病缺勤情况。")
                % {"school": school.name, "day": form.cleaned_data["day"]},
            )
            query = f"?day={form.cleaned_data['day']:%Y-%m-%d}"
            if own is None:
                query += f"&unit={school.pk}"
            return redirect(reverse("surveillance_absence_day") + query)
    else:
        form = SchoolDayForm(units=choices, initial=day_initial(school, day))
    context = {"form": form, "school": school, "own": own, "days": school_days(user, school)}
    return render(request, "surveillance/sources/absence_day.html", context)


def day_initial(school, day) -> dict:
    initial = {"day": day, "unit": school}
    if school is None:
        return initial
    for absence in SchoolAbsence.objects.filter(school=school, day=day):
        initial[f"absent_{absence.syndrome}"] = absence.absent
        if absence.enrolled is not None:
            initial["enrolled"] = absence.enrolled
    return initial


def school_days(user, school) -> list[dict]:
    """The school's last 30 days that have counts: per day, the count of each syndrome."""
    if school is None:
        return []
    since = timezone.localdate() - timedelta(days=SCHOOL_DAYS_SHOWN - 1)
    absences = SchoolAbsence.objects.visible_to(user).filter(school=school, day__gte=since)
    days: dict = {}
    for absence in absences:
        row = days.setdefault(absence.day, {"day": absence.day, "enrolled": None, "counts": {}})
        row["counts"][absence.syndrome] = absence.absent
        row["enrolled"] = row["enrolled"] or absence.enrolled
    for row in days.values():
        row["cells"] = [(label, row["counts"].get(code, "")) for code, label in Syndrome.choices]
        row["total"] = sum(row["counts"].values())
    return sorted(days.values(), key=lambda row: row["day"], reverse=True)


ABSENCE_COLUMNS = [
    gettext_lazy("日期"),
    gettext_lazy("学校"),
    gettext_lazy("乡镇（街道）"),
    gettext_lazy("症状"),
    gettext_lazy("因病缺勤人数"),
    gettext_lazy("在校人数"),
    gettext_lazy("录入时间"),
]


def absence_list(request):
    """Absences of every school of the jurisdiction (the last 7 days unless chosen)."""
    require_capability(request.user, Capability.VIEW_SURVEILLANCE)
    filters = AbsenceFilterForm(with_defaults(request.GET, **recent_days()), user=request.user)
    absences = filters.absences()
    if wants_export(request):
        require_capability(request.user, Capability.EXPORT_DATA)
        url = reverse("surveillance_absence_list")
        if refused := refuse_oversized_export(request, absences, url):
            return refused
        rows = [
            [
                a.day,
                a.school.name,
                a.region.name,
                a.get_syndrome_display(),
                a.absent,
                a.enrolled,
                local_minute(a.recorded_at),
            ]
            for a in absences
        ]
        return logged_xlsx_response(
            request,
            _("学校因病缺勤"),
            ABSENCE_COLUMNS,
            rows,
            filename="school-absences.xlsx",
            filters=filters.applied(),
        )
    page, query = paginate(request, absences, PAGE_SIZE)
    context = {
        "filters": filters,
        "page": page,
        "query": query,
        "can_export": request.user.can(Capability.EXPORT_DATA),
    }
    return render(request, "surveillance/sources/absence_list.html", context)


# History of daily counts ------------------------------------------------------------------


def history_import(request):
    """The daily counts from before the system (e.g. 3 years of a reporting system's
    exports): the baseline the detectors need from the first day."""
    require_capability(request.user, Capability.MANAGE_SURVEILLANCE)
    context = {
        "title": _("导入历史监测数据"),
        "headings": list(HISTORY_TABLE.columns),
        "template_url": reverse("surveillance_history_import_template"),
        "report_url": reverse("surveillance_history_import_report"),
        "notes": [
            _("每行一个来源、类别、乡镇（街道）和日期的数量。区划代码填乡镇（街道）或县区代码。"),
            _(
                "来源：药店购药登记、发热门诊（哨点）就诊、学校因病缺勤、传染病报告等；"
                "类别：药品类别、症状或病种代码（如 covid19）。"
            ),
            _("任何一行有误，整个文件都不会导入，可下载拒收报告修改后重新导入。"),
            _("已导入过的来源、类别、区划和日期，以本次文件的数量为准，重新导入不会重复计数。"),
        ],
    }
    if request.method == "POST":

        def store(rows):
            created, updated = counts.import_history(rows)
            return _("已导入 %(rows)d 行：新增 %(created)d 条，更新 %(updated)d 条。") % {
                "rows": len(rows),
                "created": created,
                "updated": updated,
            }

        context |= run_import(
            request, HISTORY_PROBLEMS, lambda upload: read_history(upload, request.user), store
        )
    return render(request, "surveillance/sources/import.html", context)


def history_import_template(request):
    require_capability(request.user, Capability.MANAGE_SURVEILLANCE)
    return csv_template(list(HISTORY_TABLE.columns), "surveillance-history-template.csv")


def history_import_report(request):
    require_capability(request.user, Capability.MANAGE_SURVEILLANCE)
    return problems_report(request, HISTORY_PROBLEMS, "surveillance-history-rejected.xlsx")


urlpatterns = [
    path("sales/new/", sale_new, name="surveillance_sale_new"),
    path("sales/", sale_list, name="surveillance_sale_list"),
    path("sales/all/", sale_overview, name="surveillance_sale_overview"),
    path("sales/import/", sale_import, name="surveillance_sale_import"),
    path(
        "sales/import/template.csv",
        sale_import_template,
        name="surveillance_sale_import_template",
    ),
    path("sales/import/report.xlsx", sale_import_report, name="surveillance_sale_import_report"),
    path("fever-buyers/", buyer_list, name="surveillance_buyer_list"),
    path("fever-buyers/<int:pk>/reveal/", buyer_reveal, name="surveillance_buyer_reveal"),
    path("fever-buyers/<int:pk>/follow-up/", buyer_follow_up, name="surveillance_buyer_follow_up"),
    path("fever-visits/new/", visit_new, name="surveillance_visit_new"),
    path("fever-visits/", visit_list, name="surveillance_visit_list"),
    path("absences/", absence_day, name="surveillance_absence_day"),
    path("absences/all/", absence_list, name="surveillance_absence_list"),
    path("history/import/", history_import, name="surveillance_history_import"),
    path(
        "history/import/template.csv",
        history_import_template,
        name="surveillance_history_import_template",
    ),
    path(
        "history/import/report.xlsx",
        history_import_report,
        name="surveillance_history_import_report",
    ),
]
