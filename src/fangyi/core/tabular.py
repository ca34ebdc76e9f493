"""Reading spreadsheets people upload (.xlsx or .csv as Excel saves it in China) and the
values in them: headings, dates and times, choice labels in either language."""

import csv
import gc
import io
import re
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime

from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _
from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException

DATETIME_FORMATS = ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d", "%Y%m%d%H%M", "%Y%m%d"]


class ImportFileError(Exception):
    """The file as a whole cannot be read (format, headings, size)."""

    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


@contextmanager
def collection_paused():
    """Reading a large file keeps a million small objects alive; the garbage collector would
    walk them again and again while they pile up (a third of a million-line read). Reading
    makes no reference cycles, so it is paused until the reading ends."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def heading(value) -> str:
    """A column heading without spaces and with full-width brackets, for matching."""
    text = re.sub(r"\s", "", str(value or ""))
    return text.replace("(", "（").replace(")", "）")


def spreadsheet_lines(upload, *, max_bytes: int) -> Iterator[tuple[int, list]]:
    """(line number as the user sees it, cells) of an uploaded .xlsx or .csv."""
    if upload.size > max_bytes:
        raise ImportFileError(
            _("文件超过 %(mb)d MB，请分批导入。") % {"mb": max_bytes // (1024 * 1024)}
        )
    filename = upload.name.lower()
    if filename.endswith(".xlsx"):
        return xlsx_lines(upload)
    if filename.endswith(".csv"):
        return csv_lines(upload.read())
    raise ImportFileError(_("只支持 .xlsx 或 .csv 文件。"))


def clean_cell(value):
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return value
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def xlsx_lines(upload) -> Iterator[tuple[int, list]]:
    try:
        workbook = load_workbook(upload, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError) as error:
        raise ImportFileError(_("无法读取该 Excel 文件，请另存为 .xlsx 后重试。")) from error
    try:
        sheet = workbook.worksheets[0]
        for line, cells in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield line, list(cells)
    finally:
        workbook.close()


def decode(raw: bytes) -> str:
    # Excel in China saves CSV as GBK unless told otherwise.
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ImportFileError(_("无法识别文件编码，请保存为 UTF-8 编码的 CSV。"))


def csv_lines(raw: bytes) -> Iterator[tuple[int, list]]:
    reader = csv.reader(io.StringIO(decode(raw), newline=""))
    start = 1
    for cells in reader:
        yield start, cells
        start = reader.line_num + 1


def choices_by_label(choices) -> dict[str, str]:
    """Codes by code, Chinese label and English label (lower case)."""
    mapping = {}
    for code, label in choices:
        mapping[code.lower()] = code
        for language in ("zh-hans", "en"):
            with translation.override(language):
                mapping[str(label).lower()] = code
    return mapping


def parse_moment(value) -> datetime | None:
    """A date and time as people write it (2022-03-01 08:30, 2022/3/1 8:30, 202203010830),
    or an Excel date cell; local time unless it says otherwise."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    else:
        text = re.sub(r"\s+", " ", str(value).replace("/", "-").replace("T", " ")).strip()
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            for pattern in DATETIME_FORMATS:
                try:
                    moment = datetime.strptime(text, pattern)
                    break
                except ValueError:
                    continue
            else:
                return None
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment


def parse_date(value) -> date | None:
    moment = parse_moment(value) if value else None
    return timezone.localtime(moment).date() if moment else None


# Import files: columns by heading, rows as {field: cell} -------------------------------------

IMPORT_MAX_BYTES = 5 * 1024 * 1024


@dataclass
class TableSpec:
    """The columns of an import file: heading (as in the template) → field, the required
    headings, other spellings of headings, and the row limit."""

    columns: dict[str, str]
    required: list[str]
    aliases: dict[str, str] = field(default_factory=dict)
    max_rows: int = 2000

    def field_of(self, cell) -> str | None:
        name = heading(cell)
        return self.columns.get(self.aliases.get(name, name))

    def label_of(self, name: str) -> str:
        return next((text for text, f in self.columns.items() if f == name), "")


def table_rows(upload, spec: TableSpec) -> Iterator[tuple[int, dict]]:
    """(line, {field: cell}) of each non-empty row of an uploaded file; the file as a whole
    refused (ImportFileError) when it cannot be read, lacks a column or is too long."""
    columns = None
    rows = 0
    for line, cells in spreadsheet_lines(upload, max_bytes=IMPORT_MAX_BYTES):
        cells = [clean_cell(cell) for cell in cells]
        if not any(cell != "" for cell in cells):
            continue
        if columns is None:
            columns = [spec.field_of(cell) for cell in cells]
            missing = [h for h in spec.required if spec.columns[h] not in columns]
            if missing:
                raise ImportFileError(
                    _("缺少必填列：%(columns)s。请使用导入模板。") % {"columns": "、".join(missing)}
                )
            continue
        rows += 1
        if rows > spec.max_rows:
            raise ImportFileError(
                _("每次最多导入 %(rows)d 行，请分批导入。") % {"rows": spec.max_rows}
            )
        yield line, {name: cell for name, cell in zip(columns, cells, strict=False) if name}
    if columns is None:
        raise ImportFileError(_("文件是空的。"))


@dataclass
class ImportReading:
    """A file read, nothing stored: the rows ready to store, or every problem (line, column
    heading, reason)."""

    rows: list = field(default_factory=list)
    problems: list[dict] = field(default_factory=list)

    def refuse(self, line: int, column: str, reason) -> None:
        self.problems.append({"line": line, "column": column, "reason": str(reason)})

    def refuse_form(self, line: int, form, spec: TableSpec) -> None:
        for name, errors in form.errors.items():
            for error in errors:
                self.refuse(line, spec.label_of(name), error)
