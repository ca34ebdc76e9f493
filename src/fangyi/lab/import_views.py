"""Pages of result files and turnaround: importing a lab's file (its columns mapped once and
remembered), an import's outcome with its rejected rows and their report, the turnaround of
results per lab and purpose, and the tubes waiting too long for theirs.

A file whose columns need mapping is kept between the two steps under `VAR_DIR/uploads`
with a random name held in the session, and deleted once imported (or replaced by the next
upload). Rejection reasons are stored in Chinese, the language of the record, and shown in
the reader's language when the catalogue has them."""

import re
import secrets
import time
from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.core.files import File
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from fangyi.accounts.roles import Capability
from fangyi.core.access import get_visible_or_404, require_capability
from fangyi.core.excel import logged_xlsx_response, refuse_oversized_export
from fangyi.core.import_pages import csv_template, problems_workbook
from fangyi.core.paging import paginate
from fangyi.core.tabular import ImportFileError
from fangyi.core.timefmt import local_minute
from fangyi.geo.models import Organisation
from fangyi.lab import imports, tat
from fangyi.lab.import_forms import (
    ColumnMappingForm,
    ResultFileForm,
    TurnaroundFilterForm,
    WaitingFilterForm,
    lab_of,
)
from fangyi.lab.models import ColumnMapping, ResultImport
from fangyi.lab.services import problem_reason

HISTORY_SIZE = 20
# Rejected rows shown on the page; the report holds all of them.
PROBLEMS_SHOWN = 500
WAITING_PAGE_SIZE = 100
PENDING_KEY = "lab_import_pending"
# A file left waiting for its columns longer than this is deleted with the next upload.
PENDING_LIFETIME_SECONDS = 24 * 3600


# Import -----------------------------------------------------------------------------------


def result_import(request):
    """Step 1: the file. With the lab's remembered columns it is imported at once; else the
    columns are asked for (step 2)."""
    require_capability(request.user, Capability.RECORD_RESULTS)
    lab = lab_of(request.user)
    form = ResultFileForm(request.POST or None, request.FILES or None)
    if lab is not None and request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            headings = imports.headings_of(upload)
            mapping = imports.mapping_for(lab, headings)
            if mapping and mapping == remembered_mapping(lab):
                return import_and_show(request, lab, upload, mapping)
        except ImportFileError as refused:
            form.add_error("file", refused.message)
        else:
            keep_upload(request, upload, headings)
            return redirect("lab_import_mapping")
    context = {
        "lab": lab,
        "form": form,
        "remembered": describe_mapping(remembered_mapping(lab)) if lab else [],
        "history": ResultImport.objects.visible_to(request.user).select_related(
            "lab", "uploaded_by"
        )[:HISTORY_SIZE],
        "headings": template_headings(),
    }
    return render(request, "lab/import.html", context)


def result_import_mapping(request):
    """Step 2: which column holds what, proposed from the lab's last file or the headings."""
    require_capability(request.user, Capability.RECORD_RESULTS)
    lab = lab_of(request.user)
    if lab is None:
        return redirect("lab_import")  # which says why
    pending = request.session.get(PENDING_KEY) or {}
    kept = pending_path(pending)
    if kept is None:
        messages.error(request, _("没有待导入的文件（可能已过期），请重新上传。"))
        return redirect("lab_import")
    headings = pending["headings"]
    form = ColumnMappingForm(
        request.POST or None, headings=headings, mapping=imports.mapping_for(lab, headings)
    )
    if request.method == "POST" and form.is_valid():
        try:
            with kept.open("rb") as handle:
                response = import_and_show(
                    request, lab, File(handle, name=pending["name"]), form.mapping()
                )
        except ImportFileError as refused:
            form.add_error(None, refused.message)
        else:
            discard_upload(request)
            return response
    context = {"form": form, "file_name": pending["name"], "lab": lab}
    return render(request, "lab/import_mapping.html", context)


def import_and_show(request, lab: Organisation, upload, mapping: dict):
    # The rejection reasons are the import's record: kept in the language of the records.
    with translation.override(settings.LANGUAGE_CODE):
        log = imports.import_file(request.user, lab, upload, mapping)
    return redirect("lab_import_detail", pk=log.pk)


def remembered_mapping(lab: Organisation) -> dict:
    return ColumnMapping.objects.filter(lab=lab).values_list("columns", flat=True).first() or {}


def describe_mapping(mapping: dict) -> list[tuple[str, str]]:
    """(field label, heading) of a mapping, in the order of the fields."""
    return [(column_label(key), mapping[key]) for key in mapping]


def column_label(column: str) -> str:
    """A rejected row's column as the reader knows it: a field's name, or the heading."""
    if column in imports.FIELDS:
        return str(imports.FIELDS[column])
    if column.startswith("ct:"):
        return _("%(gene)s 基因 Ct 值") % {"gene": column[3:]}
    return column


# The file kept between the two steps --------------------------------------------------------


def upload_dir() -> Path:
    directory = Path(settings.VAR_DIR) / "uploads"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def keep_upload(request, upload, headings: list[str]) -> None:
    discard_upload(request)
    remove_stale_uploads()
    token, suffix = secrets.token_hex(16), Path(upload.name).suffix.lower()
    with (upload_dir() / f"{token}{suffix}").open("wb") as out:
        for chunk in upload.chunks():
            out.write(chunk)
    request.session[PENDING_KEY] = {
        "token": token,
        "suffix": suffix,
        "name": Path(upload.name).name,
        "headings": headings,
    }


def pending_path(pending: dict) -> Path | None:
    token, suffix = pending.get("token", ""), pending.get("suffix", "")
    if not re.fullmatch(r"[0-9a-f]{32}", token) or suffix not in (".csv", ".xlsx"):
        return None
    kept = upload_dir() / f"{token}{suffix}"
    return kept if kept.exists() else None


def discard_upload(request) -> None:
    kept = pending_path(request.session.pop(PENDING_KEY, None) or {})
    if kept is not None:
        kept.unlink(missing_ok=True)


def remove_stale_uploads() -> None:
    """Files of users who never finished step 2."""
    cutoff = time.time() - PENDING_LIFETIME_SECONDS
    for kept in upload_dir().glob("*"):
        if kept.suffix in (".csv", ".xlsx") and kept.stat().st_mtime < cutoff:
            kept.unlink(missing_ok=True)


# Template and outcome -----------------------------------------------------------------------


def template_headings() -> list[str]:
    with translation.override(settings.LANGUAGE_CODE):
        return [str(label) for label in imports.FIELDS.values()] + [
            f"{gene} Ct值" for gene in imports.GENES
        ]


def result_import_template(request):
    """An empty result file with the headings the import recognises without asking."""
    require_capability(request.user, Capability.RECORD_RESULTS)
    return csv_template(template_headings(), "result-import-template.csv")


def problem_rows(log: ResultImport, limit: int | None = None) -> list[dict]:
    return [
        {"line": p["line"], "column": column_label(p["column"]), "reason": problem_reason(p)}
        for p in log.problems[:limit]
    ]


def result_import_detail(request, pk: int):
    require_capability(request.user, Capability.VIEW_LAB)
    log = get_visible_or_404(ResultImport, request.user, pk=pk)
    context = {
        "log": log,
        "problems": problem_rows(log, PROBLEMS_SHOWN),
        "more_problems": max(len(log.problems) - PROBLEMS_SHOWN, 0),
        "can_import": request.user.can(Capability.RECORD_RESULTS),
    }
    return render(request, "lab/import_detail.html", context)


def result_import_report(request, pk: int):
    """The rejected rows (line, column, reason) for the lab to correct its file."""
    require_capability(request.user, Capability.VIEW_LAB)
    log = get_visible_or_404(ResultImport, request.user, pk=pk)
    return problems_workbook(problem_rows(log), f"result-import-{log.pk}-rejected.xlsx")


# Turnaround -------------------------------------------------------------------------------


def turnaround_page(request):
    require_capability(request.user, Capability.VIEW_LAB)
    filters = TurnaroundFilterForm(request.GET)
    context = {
        "filters": filters,
        "report": tat.turnaround(request.user, *filters.period()),
        "can_export": request.user.can(Capability.EXPORT_DATA),
        "query": request.GET.urlencode(),
    }
    return render(request, "lab/tat.html", context)


TURNAROUND_COLUMNS = [
    gettext_lazy("实验室"),
    gettext_lazy("检测目的"),
    gettext_lazy("样本数"),
    gettext_lazy("中位时长（小时）"),
    gettext_lazy("90%分位时长（小时）"),
    gettext_lazy("按时出结果"),
    gettext_lazy("按时率"),
    gettext_lazy("时限（小时）"),
]


def turnaround_export(request):
    require_capability(request.user, Capability.EXPORT_DATA)
    require_capability(request.user, Capability.VIEW_LAB)
    filters = TurnaroundFilterForm(request.GET)
    report = tat.turnaround(request.user, *filters.period())
    every = _("全部")
    groups = [*report.by_lab_purpose, *report.by_lab, *report.by_purpose]
    rows = [
        [
            row.lab_name or every,
            row.purpose_label or every,
            row.count,
            row.median_hours,
            row.p90_hours,
            row.on_time,
            round(row.on_time_rate, 3),
            row.limit_hours,
        ]
        for row in [*groups, *([report.total] if report.total else [])]
    ]
    return logged_xlsx_response(
        request,
        _("检测时效统计"),
        TURNAROUND_COLUMNS,
        rows,
        filename="lab-tat.xlsx",
        filters=filters.applied(),
    )


def late_page(request):
    """Tubes without a result past their due time, and those due within the hour."""
    require_capability(request.user, Capability.VIEW_LAB)
    now = timezone.now()
    filters = WaitingFilterForm(request.GET)
    tubes = tat.waiting(request.user, now, **filters.filters())
    page, query = paginate(
        request,
        tubes.select_related("lab", "collecting_organisation", "site"),
        WAITING_PAGE_SIZE,
    )
    for tube in page:
        tube.hours_overdue = tat.overdue_hours(tube.due_at, now)
    context = {
        "filters": filters,
        "groups": tat.waiting_by_lab_and_purpose(tubes, now),
        "page": page,
        "query": query,
        "now": now,
        "can_export": request.user.can(Capability.EXPORT_DATA),
    }
    return render(request, "lab/late.html", context)


LATE_COLUMNS = [
    gettext_lazy("条码"),
    gettext_lazy("检测目的"),
    gettext_lazy("混采人数"),
    gettext_lazy("送样单位"),
    gettext_lazy("采样点"),
    gettext_lazy("检测实验室"),
    gettext_lazy("采样时间"),
    gettext_lazy("接收时间"),
    gettext_lazy("结果时限"),
    gettext_lazy("超时（小时）"),
]


def late_export(request):
    require_capability(request.user, Capability.EXPORT_DATA)
    require_capability(request.user, Capability.VIEW_LAB)
    now = timezone.now()
    filters = WaitingFilterForm(request.GET)
    tubes = tat.waiting(request.user, now, **filters.filters())
    if refused := refuse_oversized_export(request, tubes, reverse("lab_late")):
        return refused
    rows = [
        [
            tube.barcode,
            tube.get_purpose_display(),
            tube.pool_size,
            tube.collecting_organisation.name if tube.collecting_organisation_id else "",
            tube.site.name if tube.site_id else "",
            tube.lab.name if tube.lab_id else "",
            local_minute(tube.collected_at),
            local_minute(tube.received_at),
            local_minute(tube.due_at),
            tat.overdue_hours(tube.due_at, now),
        ]
        for tube in tubes.select_related("lab", "collecting_organisation", "site")
    ]
    return logged_xlsx_response(
        request,
        _("超时未出结果样本"),
        LATE_COLUMNS,
        rows,
        filename="lab-late.xlsx",
        filters=filters.applied(),
    )


urlpatterns = [
    path("import/", result_import, name="lab_import"),
    path("import/columns/", result_import_mapping, name="lab_import_mapping"),
    path("import/template.csv", result_import_template, name="lab_import_template"),
    path("import/<int:pk>/", result_import_detail, name="lab_import_detail"),
    path("import/<int:pk>/report.xlsx", result_import_report, name="lab_import_report"),
    path("tat/", turnaround_page, name="lab_tat"),
    path("tat/export.xlsx", turnaround_export, name="lab_tat_export"),
    path("late/", late_page, name="lab_late"),
    path("late/export.xlsx", late_export, name="lab_late_export"),
]
