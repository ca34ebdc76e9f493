"""Reading spreadsheets people upload (.xlsx or .csv as Excel saves it in China) and the
values in them: headings, dates and times, choice labels in either language."""

import csv
import io
import re
import zipfile
from collections.abc import Iterator
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
