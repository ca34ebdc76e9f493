"""Excel exports: one helper so every list exports the same way."""

from collections.abc import Iterable, Sequence

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def xlsx_response(
    title: str, columns: Sequence[str], rows: Iterable[Sequence], *, filename: str
) -> HttpResponse:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title[:31])
    sheet.append([str(c) for c in columns])
    for row in rows:
        sheet.append(list(row))
    sheet.append([])
    sheet.append([f"{_('导出时间')} {timezone.localtime():%Y-%m-%d %H:%M}"])
    response = HttpResponse(content_type=XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    workbook.save(response)
    return response


def logged_xlsx_response(
    request, title: str, columns: Sequence[str], rows: list[Sequence], *, filename: str, filters
) -> HttpResponse:
    """A list export, recorded in the access log (who, which list, rows, filters) as the law
    requires of every export of personal data."""
    from fangyi.core.audit import log_export

    log_export(request.user, label=title, rows=len(rows), filters=filters, request=request)
    return xlsx_response(title, columns, rows, filename=filename)


def refuse_oversized_export(request, queryset, list_url: str) -> HttpResponse | None:
    """Back to the list with a message when the export would exceed the limit (a partial
    file would pass for the whole list); None when it may go ahead."""
    if (count := queryset.count()) <= settings.EXPORT_MAX_ROWS:
        return None
    messages.error(
        request,
        _("共 %(count)d 条，超过单次导出上限 %(limit)d 条，请缩小筛选范围后再导出。")
        % {"count": count, "limit": settings.EXPORT_MAX_ROWS},
    )
    query = request.GET.copy()
    query.pop("format", None)  # a list that exports itself with ?format=xlsx
    return redirect(f"{list_url}?{query.urlencode()}")
