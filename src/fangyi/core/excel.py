"""Excel exports: one helper so every list exports the same way."""

from collections.abc import Iterable, Sequence

from django.http import HttpResponse
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
