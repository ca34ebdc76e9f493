"""Result files from labs' systems (CSV or Excel) and the labs' JSON batches.

Each lab's file layout is mapped once (which heading holds the barcode, the result, the
result time, the Ct value of each gene…) and remembered in `ColumnMapping`; a new file with
known headings is read without asking. Every line is read into a `ResultRow` or refused with
the column and the reason; the rows then go to `services.store_results`, which checks them
against the samples and stores all of them or none.

Reading is a single pass over the text with the csv module and `datetime.fromisoformat`,
so a file of a million lines reads in seconds."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fangyi.core.tabular import (
    ImportFileError,
    choices_by_label,
    clean_cell,
    collection_paused,
    heading,
    parse_moment,
    spreadsheet_lines,
)
from fangyi.geo.models import Organisation
from fangyi.lab.models import ColumnMapping, Method, Result, ResultImport
from fangyi.lab.services import CT_RANGE, Problem, ResultRow, normalise_barcode, store_results

MAX_BYTES = 256 * 1024 * 1024
# Fields of a result line; "ct:<gene>" fields hold a gene's Ct value.
FIELDS = {
    "barcode": _("样本条码"),
    "result": _("检测结果"),
    "result_at": _("结果时间"),
    "method": _("检测方法"),
    "reviewer": _("审核人"),
}
REQUIRED = ("barcode", "result", "result_at")
# Headings labs commonly use, for a first guess of the mapping.
KNOWN_HEADINGS = {
    "barcode": ["样本条码", "条码", "条码号", "样本编号", "样本号", "采样管条码", "barcode"],
    "result": ["检测结果", "结果", "核酸结果", "result"],
    "result_at": ["结果时间", "报告时间", "检测时间", "出结果时间", "result_at", "resulttime"],
    "method": ["检测方法", "方法", "method"],
    "reviewer": ["审核人", "审核者", "reviewer"],
}
GENES = ("ORF1ab", "N", "E")
# Clocks of labs' machines run a little ahead of ours.
_CLOCK_SLACK = timedelta(minutes=5)


@cache
def result_values() -> dict[str, str]:
    return {
        **choices_by_label(Result.choices),
        "阴": Result.NEGATIVE,
        "阳": Result.POSITIVE,
        "无效": Result.INVALID,
        "neg": Result.NEGATIVE,
        "pos": Result.POSITIVE,
        "-": Result.NEGATIVE,
        "+": Result.POSITIVE,
        "阴性(-)": Result.NEGATIVE,
        "阳性(+)": Result.POSITIVE,
    }


@cache
def method_values() -> dict[str, str]:
    return {**choices_by_label(Method.choices), "pcr": Method.RT_PCR, "": ""}


def guess_mapping(headings: list[str]) -> dict:
    """Field → heading for the headings we recognise (genes' Ct columns included)."""
    present = {heading(h).lower(): heading(h) for h in headings if h}
    mapping: dict = {}
    for key, names in KNOWN_HEADINGS.items():
        for name in names:
            if name.lower() in present:
                mapping[key] = present[name.lower()]
                break
    for gene in GENES:
        for text_lower, text in present.items():
            if text_lower.startswith(gene.lower()) and "ct" in text_lower:
                mapping[f"ct:{gene}"] = text
    return mapping


@dataclass
class ParsedFile:
    rows: list[ResultRow] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    headings: list[str] = field(default_factory=list)
    sha256: str = ""


def read_lines(upload) -> tuple[str, object]:
    """The file's digest (to recognise a file imported before) and its lines; the size and
    the type are checked before anything is read."""
    lines = spreadsheet_lines(upload, max_bytes=MAX_BYTES)
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    return digest.hexdigest(), lines


def headings_of(upload) -> list[str]:
    lines = spreadsheet_lines(upload, max_bytes=MAX_BYTES)
    try:
        return [heading(cell) for cell in next(lines)[1] if heading(cell)]
    except StopIteration:
        raise ImportFileError(_("文件是空的。")) from None
    finally:
        upload.seek(0)


def parse_file(upload, mapping: dict) -> ParsedFile:
    """Every line of the file as a result row, or a problem naming its column."""
    missing = [FIELDS[key] for key in REQUIRED if not mapping.get(key)]
    if missing:
        raise ImportFileError(
            _("请先指定以下字段对应的列：%(fields)s。") % {"fields": "、".join(map(str, missing))}
        )
    digest, lines = read_lines(upload)
    try:
        headings = [heading(cell) for cell in next(lines)[1]]
    except StopIteration:
        raise ImportFileError(_("文件是空的。")) from None
    index = {text: i for i, text in enumerate(headings) if text}
    absent = [text for text in _mapped_headings(mapping) if text not in index]
    if absent:
        raise ImportFileError(
            _("文件中找不到列：%(columns)s。请检查列对应设置。") % {"columns": "、".join(absent)}
        )
    columns = {key: index[text] for key, text in mapping.items() if text}
    parsed = ParsedFile(headings=[h for h in headings if h], sha256=digest)
    reader = RowReader(columns)
    with collection_paused():
        for line, cells in lines:
            row = reader.read(line, cells)
            if row is None:
                continue
            if isinstance(row, ResultRow):
                parsed.rows.append(row)
            else:
                parsed.problems.extend(row)
    if not parsed.rows and not parsed.problems:
        raise ImportFileError(_("文件中没有数据行。"))
    return parsed


def _mapped_headings(mapping: dict) -> list[str]:
    return [text for text in mapping.values() if text]


class RowReader:
    """Reads result lines fast: the columns, the value tables, the time zone and the clock
    are looked up once per file, the usual cell (a plain barcode, a known word, an ISO time)
    takes the shortest path, and each distinct time text is converted once (a lab's machine
    gives a plate's results the same time). Problems name the field key; the caller names
    the columns."""

    def __init__(self, columns: dict[str, int]):
        self.barcode = columns["barcode"]
        self.result = columns["result"]
        self.result_at = columns["result_at"]
        self.method = columns.get("method")
        self.reviewer = columns.get("reviewer")
        self.genes = [(key, key[3:], i) for key, i in columns.items() if key.startswith("ct:")]
        self.width = max(columns.values()) + 1
        self.results = result_values()
        self.methods = method_values()
        self.zone = timezone.get_current_timezone()
        self.latest = timezone.now() + _CLOCK_SLACK
        self.moments: dict[str, datetime | None] = {}

    def read(self, line: int, cells: list) -> ResultRow | list[Problem] | None:
        """A row, its problems, or None for a blank line."""
        if len(cells) < self.width:
            cells = list(cells) + [""] * (self.width - len(cells))
        barcode = cells[self.barcode]
        if barcode in ("", None) and all(cell in ("", None) for cell in cells):
            return None
        problems = []
        if isinstance(barcode, str) and barcode.isalnum():
            barcode = barcode.upper()  # as scanned: nothing to take out
        else:
            barcode = normalise_barcode(barcode)
            if not barcode:
                problems.append(Problem(line, "barcode", _("缺少样本条码")))
        result = _word(self.results, cells[self.result])
        if result is None:
            problems.append(Problem(line, "result", _("结果应为阴性、阳性或无效")))
        result_at = self.moment(cells[self.result_at])
        if result_at is None:
            problems.append(
                Problem(line, "result_at", _("结果时间格式不正确（如 2022-04-01 08:30）"))
            )
        elif result_at > self.latest:
            problems.append(Problem(line, "result_at", _("结果时间晚于当前时间")))
        method = ""
        if self.method is not None:
            method = _word(self.methods, cells[self.method])
            if method is None:
                problems.append(Problem(line, "method", _("无法识别的检测方法")))
        ct_values = {}
        for key, gene, i in self.genes:
            value = cells[i]
            if value == "" or value is None:
                continue
            try:
                number = float(value)
            except (TypeError, ValueError):
                number = -1.0
            if not CT_RANGE[0] <= number <= CT_RANGE[1]:
                problems.append(Problem(line, key, _("Ct 值应为 0–50 之间的数字")))
            else:
                ct_values[gene] = number
        if problems:
            return problems
        reviewer = _text(cells[self.reviewer])[:64] if self.reviewer is not None else ""
        return ResultRow(line, barcode, result, result_at, ct_values, method, reviewer)

    def moment(self, value) -> datetime | None:
        if not isinstance(value, str):
            return None if value is None else parse_moment(value)
        try:
            return self.moments[value]
        except KeyError:
            moment = self.moments[value] = self._moment_of_text(value)
            return moment

    def _moment_of_text(self, value: str) -> datetime | None:
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            return parse_moment(value) if value.strip() else None
        return moment if moment.tzinfo else moment.replace(tzinfo=self.zone)


def _word(values: dict[str, str], cell) -> str | None:
    """The code a cell's word stands for (the cell as it is first: the usual case)."""
    code = values.get(cell) if isinstance(cell, str) else None
    return code if code is not None else values.get(_text(cell).lower())


def _text(value) -> str:
    if isinstance(value, str):
        return value.strip()
    cleaned = clean_cell(value)
    return cleaned if isinstance(cleaned, str) else str(cleaned)


def import_file(actor, lab: Organisation, upload, mapping: dict) -> ResultImport:
    """Read a lab's file with its mapping and store it (all or nothing); the mapping is
    remembered for the lab's next file."""
    parsed = parse_file(upload, mapping)
    ColumnMapping.objects.update_or_create(lab=lab, defaults={"columns": mapping})
    names = {key: text for key, text in mapping.items() if text}
    return store_results(
        actor,
        lab,
        parsed.rows,
        problems=parsed.problems,
        source="file",
        file_name=upload.name,
        sha256=parsed.sha256,
        column_names=names,
    )


def import_batch(actor, lab: Organisation, items: list[dict]) -> ResultImport:
    """A JSON batch from a lab's system: items numbered from 1 as lines."""
    keys = ["barcode", "result", "result_at", "method", "reviewer"]
    genes = sorted({gene for item in items for gene in (item.get("ct_values") or {})})
    keys += [f"ct:{gene}" for gene in genes]
    reader = RowReader({key: i for i, key in enumerate(keys)})
    rows, problems = [], []
    for number, item in enumerate(items, start=1):
        ct_values = item.get("ct_values") or {}
        cells = [item.get(key, "") for key in keys[:5]] + [ct_values.get(g, "") for g in genes]
        row = reader.read(number, cells)
        if isinstance(row, ResultRow):
            rows.append(row)
        elif row is None:
            problems.append(Problem(number, "barcode", _("缺少样本条码")))
        else:
            problems.extend(row)
    return store_results(actor, lab, rows, problems=problems, source="api")


def mapping_for(lab: Organisation, headings: list[str]) -> dict:
    """The lab's remembered mapping if the file has its headings, else a fresh guess."""
    saved = ColumnMapping.objects.filter(lab=lab).values_list("columns", flat=True).first()
    if saved and all(text in headings for text in _mapped_headings(saved)):
        return saved
    return guess_mapping(headings)
