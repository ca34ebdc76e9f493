"""Bulk import of a contact list (a spreadsheet from the investigation team, a telecom
big-data screening, or an assistance list from another jurisdiction) for one case.

A file is all or nothing: every row is checked first and each rejected row is reported
with its line number and the reason; only a file without a rejected row is saved, in one
transaction. Known persons are matched by document number (or, without one, by name and
phone), new ones are registered through the people service. Importing the same list again
registers nobody twice: rows already registered for the case are reported as "已存在".

Lookups are set-based: persons by hash, grids by code and existing contacts each take one
query for the whole file."""

from dataclasses import dataclass, field
from functools import cache

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpResponse
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _
from openpyxl import Workbook

from fangyi.cases.models import CaseReport
from fangyi.core import crypto
from fangyi.core.access import user_scope_path
from fangyi.core.excel import XLSX_CONTENT_TYPE
from fangyi.core.tabular import (
    ImportFileError,
    choices_by_label,
    clean_cell,
    heading,
    parse_date,
    parse_moment,
    spreadsheet_lines,
)
from fangyi.geo.models import Region
from fangyi.people.models import ID_NUMBER, PHONE, Person
from fangyi.people.services import create_person
from fangyi.people.validation import (
    resident_id_facts,
    validate_passport,
    validate_phone,
    validate_resident_id,
)
from fangyi.tracing import services
from fangyi.tracing.models import Contact

MAX_ROWS = 5000
MAX_BYTES = 10 * 1024 * 1024

# Column headings (the template's names) → keys.
COLUMNS = {
    "姓名": "name",
    "证件类型": "id_type",
    "证件号码": "id_number",
    "联系电话": "phone",
    "所属网格代码": "grid_code",
    "住址": "address",
    "关系": "relation",
    "接触场景": "setting",
    "末次接触时间": "last_exposure_at",
    "外地（需协查）地址": "assistance_address",
    "性别": "sex",
    "出生日期": "birth_date",
}
REQUIRED_COLUMNS = ["姓名", "证件号码", "所属网格代码", "接触场景", "末次接触时间"]
TEMPLATE_COLUMNS = [
    "姓名",
    "证件类型",
    "证件号码",
    "联系电话",
    "所属网格代码",
    "住址",
    "关系",
    "接触场景",
    "末次接触时间",
    "外地（需协查）地址",
    "性别",
    "出生日期",
]


@dataclass
class RowProblem:
    line: int
    name: str
    reasons: list[str]

    @property
    def reason(self) -> str:
        return "；".join(self.reasons)


@dataclass
class ImportResult:
    rejected: list[RowProblem] = field(default_factory=list)
    existing: list[RowProblem] = field(default_factory=list)  # already registered: skipped
    created: list[Contact] = field(default_factory=list)
    new_persons: int = 0

    @property
    def saved(self) -> bool:
        return not self.rejected


@dataclass
class Row:
    line: int
    values: dict
    reasons: list[str] = field(default_factory=list)
    person: Person | None = None
    person_data: dict | None = None
    contact: Contact | None = None
    key: str = ""  # identity within the file, for repeated rows
    number_known: bool = False  # someone is registered with this document number

    @property
    def name(self) -> str:
        return self.values.get("name", "")

    def refuse(self, message, **params) -> None:
        self.reasons.append(str(message) % params if params else str(message))


# Reading ----------------------------------------------------------------------------------


def read_rows(upload) -> list[Row]:
    """The data rows of an uploaded .xlsx or .csv, numbered as the user sees them."""
    lines = spreadsheet_lines(upload, max_bytes=MAX_BYTES)
    try:
        header = next(lines)[1]
    except StopIteration:
        raise ImportFileError(_("文件是空的。")) from None
    keys = [COLUMNS.get(heading(cell)) for cell in header]
    missing = [name for name in REQUIRED_COLUMNS if COLUMNS[name] not in keys]
    if missing:
        raise ImportFileError(
            _("缺少必需的列：%(columns)s。请使用导入模板的列名。") % {"columns": "、".join(missing)}
        )
    rows = []
    for line, cells in lines:
        values = {key: cell for key, cell in zip(keys, cells, strict=False) if key}
        if not any(str(v).strip() for v in values.values() if v is not None):
            continue
        rows.append(Row(line, {k: clean_cell(v) for k, v in values.items()}))
        if len(rows) > MAX_ROWS:
            raise ImportFileError(
                _("一次最多导入 %(limit)d 行，请分批导入。") % {"limit": MAX_ROWS}
            )
    if not rows:
        raise ImportFileError(_("文件中没有数据行。"))
    return rows


# Checking ---------------------------------------------------------------------------------


@cache
def id_types() -> dict[str, str]:
    return {
        **choices_by_label(Person.IdType.choices),
        "身份证": Person.IdType.RESIDENT_ID,
        "": "",
    }


@cache
def sexes() -> dict[str, str]:
    return {**choices_by_label(Person.Sex.choices), "": Person.Sex.UNKNOWN}


@cache
def contact_settings() -> dict[str, str]:
    return choices_by_label(Contact.Setting.choices)


def _check_values(row: Row) -> None:
    """Everything that needs no database: formats, choices, dates."""
    values = row.values
    if not values.get("name"):
        row.refuse(_("姓名为空"))
    id_type = id_types().get(str(values.get("id_type", "")).lower())
    number = values.get("id_number", "")
    if id_type is None:
        row.refuse(_("证件类型无法识别：%(value)s"), value=values["id_type"])
    elif not id_type:
        id_type = Person.IdType.RESIDENT_ID if number else Person.IdType.NONE
    values["id_type"] = id_type
    try:
        if id_type == Person.IdType.RESIDENT_ID:
            values["id_number"] = validate_resident_id(number)
            values["sex"], values["birth_date"] = resident_id_facts(values["id_number"])
        elif id_type in (Person.IdType.PASSPORT, Person.IdType.OTHER):
            values["id_number"] = validate_passport(number)
        elif id_type == Person.IdType.NONE:
            values["id_number"] = ""
    except ValidationError as error:
        row.refuse(error.messages[0])
    try:
        values["phone"] = validate_phone(str(values.get("phone", "")))
    except ValidationError as error:
        row.refuse(error.messages[0])
    if id_type != Person.IdType.RESIDENT_ID:
        sex = sexes().get(str(values.get("sex", "")).lower())
        if sex is None:
            row.refuse(_("性别无法识别：%(value)s"), value=values["sex"])
        values["sex"] = sex or Person.Sex.UNKNOWN
        values["birth_date"] = parse_date(values.get("birth_date", ""))
    setting = contact_settings().get(str(values.get("setting", "")).lower())
    if setting is None:
        row.refuse(_("接触场景无法识别：%(value)s"), value=values.get("setting") or "（空）")
    values["setting"] = setting
    moment = parse_moment(values.get("last_exposure_at", ""))
    if moment is None:
        row.refuse(_("末次接触时间为空或格式不正确（应为 2026-01-05 14:30）"))
    values["last_exposure_at"] = moment
    if values.get("id_number"):
        row.key = f"id:{values['id_number']}"
    elif values.get("phone") and values.get("name"):
        row.key = f"name-phone:{values['name']}:{values['phone']}"


def _check_repeats(rows: list[Row]) -> None:
    first_line: dict[str, int] = {}
    for row in rows:
        if not row.key:
            continue
        if row.key in first_line:
            row.refuse(_("与第 %(line)d 行是同一人"), line=first_line[row.key])
        else:
            first_line[row.key] = row.line


def _match_persons(user, rows: list[Row]) -> None:
    """Known persons: by document number (in any jurisdiction: someone registered
    elsewhere is refused, not registered twice), else by name and phone in scope."""
    by_hash: dict[str, Row] = {}
    for row in rows:
        if row.values.get("id_number"):
            by_hash.setdefault(crypto.keyed_hash(row.values["id_number"], ID_NUMBER), row)
    found = Person.objects.filter(id_number_hash__in=by_hash).select_related("grid")
    scope = user_scope_path(user)
    for person in found:
        row = by_hash[person.id_number_hash]
        row.number_known = True
        if scope is None or not person.grid.path.startswith(scope):
            row.refuse(_("该证件号码已在其他辖区登记，请联系上级单位核实"))
        elif person.name != row.name:
            row.refuse(_("姓名与已登记的同证件号码人员（%(name)s）不一致"), name=person.name)
        else:
            row.person = person
    # Without a number: the same name at the same phone (children often share a parent's).
    without_number: dict[tuple[str, str], Row] = {}
    for row in rows:
        if not row.values.get("id_number") and row.values.get("phone"):
            phone_hash = crypto.keyed_hash(row.values["phone"], PHONE)
            without_number.setdefault((phone_hash, row.name), row)
    by_phone = Person.objects.visible_to(user).filter(
        phone_hash__in={phone_hash for phone_hash, _name in without_number},
        id_number_hash__isnull=True,
    )
    for person in by_phone.select_related("grid"):
        row = without_number.get((person.phone_hash, person.name))
        if row is not None and row.person is None:
            row.person = person


def _new_person_data(user, rows: list[Row]) -> None:
    codes = {row.values.get("grid_code", "") for row in rows if row.person is None}
    grids = {
        grid.code: grid
        for grid in Region.objects.visible_to(user).filter(
            code__in=codes - {""}, level=Region.Level.GRID
        )
    }
    for row in rows:
        if row.person is not None:
            continue
        values = row.values
        grid = grids.get(values.get("grid_code", ""))
        if grid is None:
            row.refuse(
                _("所属网格代码“%(code)s”不存在或不在您的管辖范围内"),
                code=values.get("grid_code") or "（空）",
            )
        if values["id_type"] != Person.IdType.RESIDENT_ID and not values.get("birth_date"):
            row.refuse(_("没有身份证号码时，请填写出生日期"))
        row.person_data = {
            "name": " ".join(values.get("name", "").split()),
            "id_type": values["id_type"],
            "id_number": values.get("id_number", ""),
            "phone": values.get("phone", ""),
            "sex": values.get("sex") or Person.Sex.UNKNOWN,
            "birth_date": values.get("birth_date"),
            "grid": grid,
            "address": values.get("address", "")[:255],
            "category": Person.Category.RESIDENT,
        }


def _build_contacts(actor, case: CaseReport, rows: list[Row], found_by, source_note) -> None:
    now = timezone.now()
    for row in rows:
        values = row.values
        # A person not yet registered stands in with their grid for the rules.
        person = row.person or Person(name=row.name, grid=row.person_data["grid"])
        address = str(values.get("assistance_address", "")).strip()
        try:
            row.contact = services.new_contact(
                actor,
                person=person,
                case=case,
                relation=str(values.get("relation", ""))[:64],
                setting=values["setting"],
                last_exposure_at=values["last_exposure_at"],
                found_by=found_by,
                source_note=(address or source_note)[:255],
                needs_assistance=bool(address),
                now=now,
            )
        except services.TracingRuleError as refused:
            row.refuse(refused.message)


def _checkable(row: Row) -> bool:
    values = row.values
    has_person = row.person is not None or (row.person_data or {}).get("grid") is not None
    return has_person and bool(values["setting"]) and values["last_exposure_at"] is not None


def import_contacts(
    actor, case: CaseReport, upload, *, found_by: str, source_note: str = ""
) -> ImportResult:
    """Check the whole file; save it only if no row is rejected (see the module doc)."""
    rows = read_rows(upload)
    result = ImportResult()
    for row in rows:
        _check_values(row)
    _check_repeats(rows)
    _match_persons(actor, rows)
    _new_person_data(actor, [row for row in rows if row.person is None and not row.number_known])
    registered = set(
        Contact.objects.filter(
            case=case, person__in=[row.person.pk for row in rows if row.person]
        ).values_list("person_id", flat=True)
    )
    pending = []
    for row in rows:
        if row.person is not None and row.person.pk in registered:
            # Registered for this case already: skipped, whatever the rest of the row says.
            result.existing.append(RowProblem(row.line, row.name, [str(_("已存在"))]))
        else:
            pending.append(row)
    # Every row is checked against the contact rules too, so one pass reports everything.
    _build_contacts(actor, case, [row for row in pending if _checkable(row)], found_by, source_note)
    result.rejected = [RowProblem(r.line, r.name, r.reasons) for r in pending if r.reasons]
    if result.rejected:
        return result
    with transaction.atomic():
        for row in pending:
            if row.person is None:
                row.contact.person = create_person(actor, row.person_data)
                result.new_persons += 1
        result.created = services.create_contacts(actor, [row.contact for row in pending])
    return result


def template_response() -> HttpResponse:
    """An empty list with the headings, and the accepted values on a second sheet."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "密接名单"
    sheet.append(TEMPLATE_COLUMNS)
    for column in ("B", "C", "D", "E"):
        sheet.column_dimensions[column].number_format = "@"  # numbers kept as text
    help_sheet = workbook.create_sheet("填写说明")
    with translation.override("zh-hans"):
        help_sheet.append(
            ["证件类型", "、".join(str(label) for _code, label in Person.IdType.choices)]
        )
        help_sheet.append(
            ["接触场景", "、".join(str(label) for _code, label in Contact.Setting.choices)]
        )
    help_sheet.append(["末次接触时间", "2026-01-05 14:30"])
    help_sheet.append(["出生日期", "无身份证号码时必填，如 2020-03-01"])
    response = HttpResponse(content_type=XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = 'attachment; filename="contact-import-template.xlsx"'
    workbook.save(response)
    return response
