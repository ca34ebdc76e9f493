"""The page side of every file import: read the upload (every row checked, nothing
stored), store all rows only if none was refused, keep every problem for a downloadable
report, and hand out the file's template. The reading and storing are the module's own.

Problems are dicts {line, column, reason}; reasons are written in the language of the
records (settings.LANGUAGE_CODE), whoever uploads, since the report goes back to the
people who keep the file.
"""

from collections.abc import Callable

from django.conf import settings
from django.http import Http404, HttpResponse
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from fangyi.core.excel import xlsx_response
from fangyi.core.tabular import ImportFileError

PROBLEMS_SHOWN = 500  # on the page
PROBLEMS_KEPT = 5000  # in the session, for the report
REPORT_COLUMNS = [gettext_lazy("行号"), gettext_lazy("列"), gettext_lazy("原因")]


class RowsRefused(Exception):
    """Raised by a store function when the service refused the batch after reading."""

    def __init__(self, problems: list[dict]):
        super().__init__(f"{len(problems)} problems")
        self.problems = problems


def run_import(request, key: str, read: Callable, store: Callable) -> dict:
    """The page context of an upload: `file_error`, or `summary` (what `store(rows)`
    returned), or the problems. `read(upload)` returns an object with `rows` and
    `problems`; `key` names the session slot of the report."""
    upload = request.FILES.get("file")
    if upload is None:
        return {"file_error": _("请选择要导入的文件。")}
    context = {"file_name": upload.name}
    with translation.override(settings.LANGUAGE_CODE):
        try:
            reading = read(upload)
        except ImportFileError as refused:
            return {"file_error": str(refused.message)}
        problems = reading.problems
        if not problems:
            if not reading.rows:
                return {"file_error": _("文件中没有数据行。")}
            try:
                summary = store(reading.rows)
            except RowsRefused as refused:
                problems = refused.problems
    if not problems:
        request.session.pop(key, None)
        return context | {"summary": summary}
    request.session[key] = problems[:PROBLEMS_KEPT]
    return context | {
        "problems": problems[:PROBLEMS_SHOWN],
        "problem_rows": len({p["line"] for p in problems}),
        "more_problems": max(len(problems) - PROBLEMS_SHOWN, 0),
    }


def csv_template(headings: list[str], filename: str) -> HttpResponse:
    # With a byte-order mark: Excel in China opens a UTF-8 file without one as GBK.
    response = HttpResponse("\ufeff" + ",".join(str(h) for h in headings) + "\r\n")
    response["Content-Type"] = "text/csv; charset=utf-8"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def problems_report(request, key: str, filename: str) -> HttpResponse:
    """The rejected rows of the user's last refused file, to correct it."""
    problems = request.session.get(key)
    if not problems:
        raise Http404
    return problems_workbook(problems, filename)


def problems_workbook(problems: list[dict], filename: str) -> HttpResponse:
    """Rejected rows (line, column, reason) as an Excel file."""
    rows = [[p["line"], p["column"], p["reason"]] for p in problems]
    return xlsx_response(_("拒收行"), REPORT_COLUMNS, rows, filename=filename)
