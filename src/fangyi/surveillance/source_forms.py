"""The one validation of what pharmacies, fever clinics and schools report, and of the
history of daily counts: forms that turn a page's, a file's or an API item's values into the
row types of `surveillance.sources` / `surveillance.counts`. Also the units a user reports
for, the list filters, and the reading of import files."""

import re
import secrets
from dataclasses import dataclass, field
from datetime import date, timedelta

from django import forms
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fangyi.core.access import user_scope_path
from fangyi.core.crypto import keyed_hash
from fangyi.core.forms import (
    CLOCK_SKEW,
    DATETIME_WIDGET,
    EVERYTHING,
    TEL_WIDGET,
    date_field,
)
from fangyi.core.tabular import (
    ImportReading,
    TableSpec,
    choices_by_label,
    parse_date,
    parse_moment,
    table_rows,
)
from fangyi.geo.forms import RegionChoiceField
from fangyi.geo.models import Organisation, Region
from fangyi.measures.forms import symptoms_field, temperature_field
from fangyi.measures.models import Symptom
from fangyi.people.models import ID_NUMBER, Person
from fangyi.people.services import create_person, find_duplicate
from fangyi.people.validation import (
    normalise_document_number,
    resident_id_facts,
    validate_passport,
    validate_phone,
    validate_resident_id,
)
from fangyi.surveillance import sources
from fangyi.surveillance.counts import HistoryRow
from fangyi.surveillance.models import (
    TOPIC_ABNORMAL,
    TOPIC_POSITIVE,
    TOPIC_TESTED,
    TOPIC_VISITS,
    DrugCategory,
    FeverClinicVisit,
    PharmacySale,
    SchoolAbsence,
    Source,
    Syndrome,
)
from fangyi.surveillance.signals import TOPIC_LABELS

TIME_ERRORS = {
    "required": _("请填写时间。"),
    "invalid": _("请输入有效的时间，如 2022-03-01 08:30。"),
}
COUNT_ERRORS = {
    "required": _("请填写人数。"),
    "invalid": _("请填写整数。"),
    "min_value": _("人数不能为负数。"),
    "max_value": _("人数不能超过 %(limit_value)s。"),
}
MAX_PUPILS = 100_000


def moment_field(label, required=True):
    return forms.DateTimeField(
        label=label, required=required, widget=DATETIME_WIDGET, error_messages=TIME_ERRORS
    )


def not_in_future(moment):
    if moment and moment > timezone.now() + CLOCK_SKEW:
        raise ValidationError(_("时间不能晚于当前时间。"), code="future")
    return moment


def document_number(value: str) -> tuple[str, str]:
    """(id type, normalised number): a number starting with a digit is a resident ID and is
    checked as one; anything else is a passport or other document."""
    number = normalise_document_number(value)
    if number[:1].isdigit():
        return Person.IdType.RESIDENT_ID, validate_resident_id(number)
    return Person.IdType.PASSPORT, validate_passport(number)


def new_number(prefix: str) -> str:
    """A unit's own number for an entry made without one: time plus randomness."""
    return f"{prefix}{timezone.localtime():%Y%m%d%H%M%S}{secrets.token_hex(2).upper()}"


# Units: the pharmacy, clinic or school a user reports for ------------------------------------


def units_of(user, types) -> QuerySet:
    """The units of those types a user reports for: their own organisation when it is one,
    else every such unit of their jurisdiction (a CDC or an administrator)."""
    organisation = user.organisation
    if organisation is not None and organisation.type in types:
        return Organisation.objects.filter(pk=organisation.pk).select_related("region")
    return (
        Organisation.objects.visible_to(user)
        .filter(type__in=types)
        .select_related("region")
        .order_by("region__path", "name")
    )


def reporting_units(user, types) -> tuple[Organisation | None, QuerySet | None]:
    """(the user's own unit, None) for a unit's staff; (None, the units to choose from) for
    users reporting for several."""
    organisation = user.organisation
    if organisation is not None and organisation.type in types:
        return organisation, None
    return None, units_of(user, types)


class UnitField(forms.ModelChoiceField):
    def label_from_instance(self, unit: Organisation) -> str:
        return f"{unit.name}（{unit.region.full_name or unit.region.name}）"


def add_unit_field(form: forms.Form, units: QuerySet | None, label, *, required=True) -> None:
    """A choice of unit, for users who report for several; none for a unit's own staff."""
    if units is None:
        return
    form.fields["unit"] = UnitField(
        label=label,
        queryset=units,
        required=required,
        empty_label=_("请选择") if required else _("全部"),
        error_messages={
            "required": _("请选择单位。"),
            "invalid_choice": _("所选单位不存在或不在您的管辖范围内。"),
        },
    )
    form.order_fields(["unit"])


class UnitForm(forms.Form):
    """The unit to act for, alone (an import, a day's page), for users reporting for several."""

    def __init__(self, data=None, *, units, label, **kwargs):
        super().__init__(data, **kwargs)
        add_unit_field(self, units, label)

    @property
    def chosen_unit(self) -> Organisation | None:
        return self.cleaned_data.get("unit") if self.is_valid() else None


def townships_of(user) -> QuerySet:
    return Region.objects.visible_to(user).filter(level=Region.Level.TOWNSHIP).order_by("path")


def grids_of(user) -> QuerySet:
    return Region.objects.visible_to(user).filter(level=Region.Level.GRID).order_by("path")


# Pharmacy sales -----------------------------------------------------------------------------


class SaleForm(forms.Form):
    """One real-name sale. On the page the receipt and time may be left blank (a number is
    made up, the time is now); a file or an API batch must give both, the receipt being
    what makes sending it again harmless."""

    buyer_name = forms.CharField(
        label=_("购药人姓名"),
        max_length=64,
        error_messages={"required": _("请填写购药人姓名。")},
    )
    buyer_id_number = forms.CharField(
        label=_("证件号码"),
        max_length=32,
        help_text=_("居民身份证18位；护照等其他证件以字母开头"),
        error_messages={"required": _("请填写购药人证件号码。")},
    )
    buyer_phone = forms.CharField(
        label=_("联系电话"), max_length=32, required=False, widget=TEL_WIDGET
    )
    drug_category = forms.ChoiceField(
        label=_("药品类别"),
        choices=DrugCategory.choices,
        error_messages={
            "required": _("请选择药品类别。"),
            "invalid_choice": _("药品类别无效：应为退热药、止咳药、止泻药或抗菌药物。"),
        },
    )
    drug_name = forms.CharField(label=_("药品名称"), max_length=128, required=False)
    quantity = forms.IntegerField(
        label=_("数量"),
        min_value=1,
        max_value=999,
        required=False,
        error_messages={
            "invalid": _("数量请填写整数。"),
            "min_value": _("数量至少为 1。"),
            "max_value": _("数量不能超过 999。"),
        },
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "min": 1}),
    )
    temperature = temperature_field(_("体温（℃）"), required=False)
    symptoms = symptoms_field(_("症状（没有则不选）"))
    sold_at = moment_field(_("销售时间"), required=False)
    receipt = forms.CharField(
        label=_("销售单号"),
        max_length=64,
        required=False,
        help_text=_("不填则自动生成"),
        error_messages={"required": _("请填写销售单号。")},
    )

    def __init__(self, *args, batch=False, units=None, **kwargs):
        super().__init__(*args, **kwargs)
        if batch:
            for name in ("receipt", "sold_at"):
                self.fields[name].required = True
                self.fields[name].help_text = ""
        else:
            self.fields["quantity"].initial = 1
            self.fields["sold_at"].help_text = _("不填为当前时间")
        add_unit_field(self, units, _("药店"))

    def clean_buyer_name(self):
        name = " ".join(self.cleaned_data["buyer_name"].split())
        if not name:
            raise ValidationError(_("请填写购药人姓名。"), code="required")
        return name

    def clean_buyer_id_number(self):
        return document_number(self.cleaned_data["buyer_id_number"])[1]

    def clean_buyer_phone(self):
        return validate_phone(self.cleaned_data.get("buyer_phone", ""))

    def clean_sold_at(self):
        return not_in_future(self.cleaned_data.get("sold_at"))

    def clean_receipt(self):
        return self.cleaned_data.get("receipt", "").strip()

    @property
    def chosen_unit(self) -> Organisation | None:
        return self.cleaned_data.get("unit")

    def sale_row(self) -> sources.SaleRow:
        data = self.cleaned_data
        return sources.SaleRow(
            receipt=data["receipt"] or new_number("W"),
            sold_at=data["sold_at"] or timezone.now(),
            buyer_name=data["buyer_name"],
            drug_category=data["drug_category"],
            buyer_id_number=data["buyer_id_number"],
            buyer_phone=data["buyer_phone"],
            drug_name=data.get("drug_name", "").strip(),
            quantity=data.get("quantity") or 1,
            symptoms=list(data.get("symptoms", [])),
            temperature=data.get("temperature"),
        )


def repeated(keys: list[str]) -> dict[int, int]:
    """Index → index of its first occurrence, for every key repeated in a batch."""
    first: dict[str, int] = {}
    again = {}
    for index, key in enumerate(keys):
        if not key:
            continue
        if key in first:
            again[index] = first[key]
        else:
            first[key] = index
    return again


# Fever-clinic visits ------------------------------------------------------------------------


@dataclass
class VisitEntry:
    """A validated visit: of a registered patient, or of one to register with `person_data`."""

    row: sources.VisitRow
    person_data: dict = field(default_factory=dict)


class VisitForm(forms.Form):
    """One fever-clinic visit. The patient is found by document number; someone not yet
    registered is registered with name, address and grid (of the user's jurisdiction)."""

    id_number = forms.CharField(
        label=_("证件号码"),
        max_length=32,
        help_text=_("已登记的人员只需填写证件号码；护照等其他证件以字母开头"),
        error_messages={"required": _("请填写患者证件号码。")},
    )
    name = forms.CharField(label=_("姓名"), max_length=64, required=False)
    phone = forms.CharField(label=_("联系电话"), max_length=32, required=False, widget=TEL_WIDGET)
    address = forms.CharField(label=_("现住址"), max_length=255, required=False)
    grid = RegionChoiceField(
        label=_("所属网格"),
        queryset=Region.objects.none(),
        required=False,
        error_messages={"invalid_choice": _("所选网格不存在或不在您的管辖范围内。")},
    )
    visited_at = moment_field(_("就诊时间"), required=False)
    temperature = temperature_field(_("体温（℃）"), required=False)
    symptoms = symptoms_field(_("症状（没有则不选）"))
    history_asked = forms.BooleanField(label=_("已询问流行病学史"), required=False)
    history = forms.CharField(
        label=_("流行病学史"),
        max_length=255,
        required=False,
        help_text=_("14天内旅居史、接触史、聚集性发病等；没有填“无”"),
    )
    sample_taken = forms.BooleanField(label=_("已采样"), required=False)
    sample_barcode = forms.CharField(label=_("样本条码"), max_length=32, required=False)
    disposition = forms.ChoiceField(
        label=_("处置"),
        choices=FeverClinicVisit.Disposition.choices,
        error_messages={"required": _("请选择处置。"), "invalid_choice": _("处置方式无效。")},
    )
    external_id = forms.CharField(
        label=_("就诊流水号"),
        max_length=64,
        required=False,
        help_text=_("不填则自动生成"),
        error_messages={"required": _("请填写就诊流水号。")},
    )

    def __init__(
        self, *args, grids, batch=False, units=None, persons=None, known_grids=None, **kwargs
    ):
        super().__init__(*args, **kwargs)
        self.fields["grid"].queryset = grids
        self.fields["grid"].known = known_grids
        # Persons of the batch by document hash, looked up once (else one query per form).
        self.persons = persons
        self.person: Person | None = None
        if batch:
            for name in ("external_id", "visited_at"):
                self.fields[name].required = True
                self.fields[name].help_text = ""
        else:
            self.fields["visited_at"].help_text = _("不填为当前时间")
        add_unit_field(self, units, _("接诊机构"))

    def clean_phone(self):
        return validate_phone(self.cleaned_data.get("phone", ""))

    def clean_visited_at(self):
        return not_in_future(self.cleaned_data.get("visited_at"))

    def clean(self):
        data = super().clean()
        if "id_number" in data:
            try:
                data["id_type"], data["id_number"] = document_number(data["id_number"])
            except ValidationError as error:
                self.add_error("id_number", error)
            else:
                self._find_patient(data)
        if data.get("sample_barcode", "").strip():
            data["sample_taken"] = True
        if data.get("history", "").strip():
            data["history_asked"] = True
        return data

    def _find_patient(self, data) -> None:
        number = data["id_number"]
        if self.persons is not None:
            self.person = self.persons.get(keyed_hash(number, ID_NUMBER))
        else:
            self.person = find_duplicate(number)
        name = " ".join(data.get("name", "").split())
        if self.person is not None:
            if name and name != self.person.name:
                self.add_error("name", _("姓名与该证件号码已登记的姓名不一致，请核对。"))
            return
        if not name:
            self.add_error("name", _("该证件号码尚未登记，请填写姓名。"))
        if not data.get("address", "").strip():
            self.add_error("address", _("新登记的患者请填写现住址。"))
        if not data.get("grid") and "grid" not in self.errors:
            self.add_error("grid", _("新登记的患者请选择所属网格。"))
        data["name"] = name

    @property
    def chosen_unit(self) -> Organisation | None:
        return self.cleaned_data.get("unit")

    def visit_entry(self) -> VisitEntry:
        data = self.cleaned_data
        person_data = {}
        if self.person is None:
            person_data = {
                "name": data["name"],
                "id_type": data["id_type"],
                "id_number": data["id_number"],
                "phone": data["phone"],
                "address": data["address"].strip(),
                "grid": data["grid"],
            }
            if data["id_type"] == Person.IdType.RESIDENT_ID:
                person_data["sex"], person_data["birth_date"] = resident_id_facts(data["id_number"])
        row = sources.VisitRow(
            external_id=data["external_id"].strip() or new_number("V"),
            person=self.person,
            visited_at=data["visited_at"] or timezone.now(),
            disposition=data["disposition"],
            temperature=data.get("temperature"),
            symptoms=list(data.get("symptoms", [])),
            history_asked=data["history_asked"],
            history=data.get("history", "").strip(),
            sample_taken=data["sample_taken"],
            sample_barcode=data.get("sample_barcode", "").strip(),
        )
        return VisitEntry(row, person_data)


def persons_by_hash(numbers) -> dict[str, Person]:
    """The registered persons holding any of these document numbers, by number hash."""
    hashes = {keyed_hash(normalise_document_number(n), ID_NUMBER) for n in numbers if n}
    return {
        p.id_number_hash: p
        for p in Person.objects.filter(id_number_hash__in=hashes).select_related("grid")
    }


@transaction.atomic
def register_visits(actor, clinic: Organisation, entries: list[VisitEntry]):
    """Register the new patients of a validated batch, then record every visit: one
    transaction. A patient appearing twice in the batch is registered once."""
    registered: dict[str, Person] = {}
    for entry in entries:
        if entry.row.person is None:
            number = entry.person_data["id_number"]
            if number not in registered:
                registered[number] = create_person(actor, entry.person_data)
            entry.row.person = registered[number]
    return sources.record_visits(actor, clinic, [entry.row for entry in entries])


# School absences ----------------------------------------------------------------------------


def count_field(label, required=True):
    return forms.IntegerField(
        label=label,
        min_value=0,
        max_value=MAX_PUPILS,
        required=required,
        error_messages=COUNT_ERRORS,
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "min": 0}),
    )


def check_absence_day(day: date | None) -> date | None:
    if day and day > timezone.localdate():
        raise ValidationError(_("日期不能晚于今天。"), code="future")
    return day


class SchoolDayForm(forms.Form):
    """A school's day on one page: pupils enrolled, and those absent for illness by
    syndrome (0 where none). Saving again replaces the day's figures."""

    day = date_field(_("日期"))
    enrolled = count_field(_("在校人数"), required=False)

    def __init__(self, *args, units=None, **kwargs):
        super().__init__(*args, **kwargs)
        add_unit_field(self, units, _("学校"))
        for code, label in Syndrome.choices:
            self.fields[f"absent_{code}"] = count_field(label, required=False)

    def syndrome_fields(self):
        return [self[f"absent_{code}"] for code in Syndrome.values]

    def clean_day(self):
        return check_absence_day(self.cleaned_data.get("day"))

    def clean(self):
        data = super().clean()
        enrolled = data.get("enrolled")
        absent = sum(data.get(f"absent_{code}") or 0 for code in Syndrome.values)
        if enrolled is not None and absent > enrolled:
            self.add_error("enrolled", _("因病缺勤人数合计不能超过在校人数。"))
        return data

    @property
    def chosen_unit(self) -> Organisation | None:
        return self.cleaned_data.get("unit")

    def absence_rows(self) -> list[sources.AbsenceRow]:
        data = self.cleaned_data
        return [
            sources.AbsenceRow(
                day=data["day"],
                syndrome=code,
                absent=data.get(f"absent_{code}") or 0,
                enrolled=data.get("enrolled"),
            )
            for code in Syndrome.values
        ]


class AbsenceRowForm(forms.Form):
    """One syndrome's count of a school's day, as the API sends it."""

    syndrome = forms.ChoiceField(
        label=_("症状"),
        choices=Syndrome.choices,
        error_messages={
            "required": _("请填写症状类别。"),
            "invalid_choice": _("症状类别无效：应为发热、呼吸道症状、腹泻、皮疹或其他。"),
        },
    )
    absent = count_field(_("因病缺勤人数"))
    enrolled = count_field(_("在校人数"), required=False)

    def clean(self):
        data = super().clean()
        absent, enrolled = data.get("absent"), data.get("enrolled")
        if absent is not None and enrolled is not None and absent > enrolled:
            self.add_error("absent", _("因病缺勤人数不能超过在校人数。"))
        return data


# History of daily counts ------------------------------------------------------------------

# The topics each source counts (cases: the disease codes, checked against the catalogue).
SOURCE_TOPICS = {
    Source.PHARMACY: DrugCategory.values,
    Source.FEVER_CLINIC: [*Syndrome.values, TOPIC_VISITS],
    Source.SCHOOL_ABSENCE: Syndrome.values,
    Source.MONITORING: [TOPIC_ABNORMAL],
    Source.ENVIRONMENT: [TOPIC_POSITIVE],
    Source.LAB: [TOPIC_TESTED, TOPIC_POSITIVE],
}


class HistoryVocabulary:
    """What a history file may name, loaded once per file: sources and topics by code or
    label, and the county and townships of the user's jurisdiction by code."""

    def __init__(self, user):
        from fangyi.diseases.models import Disease

        self.sources = choices_by_label(Source.choices)
        self.topics = {
            source: choices_by_label([(topic, TOPIC_LABELS[topic]) for topic in topics])
            for source, topics in SOURCE_TOPICS.items()
        }
        diseases = list(Disease.objects.values_list("code", "name"))
        self.topics[Source.CASES] = choices_by_label(diseases)
        self.regions = {
            region.code: region
            for region in Region.objects.visible_to(user).filter(
                level__in=(Region.Level.COUNTY, Region.Level.TOWNSHIP)
            )
        }


class HistoryRowForm(forms.Form):
    source = forms.CharField(label=_("来源"), error_messages={"required": _("请填写来源。")})
    topic = forms.CharField(label=_("类别"), error_messages={"required": _("请填写类别。")})
    region = forms.CharField(
        label=_("区划代码"), error_messages={"required": _("请填写乡镇（街道）或县区代码。")}
    )
    day = date_field(_("日期"))
    count = forms.IntegerField(
        label=_("数量"),
        min_value=0,
        error_messages={
            "required": _("请填写数量。"),
            "invalid": _("数量请填写整数。"),
            "min_value": _("数量不能为负数。"),
        },
    )

    def __init__(self, *args, vocabulary: HistoryVocabulary, **kwargs):
        super().__init__(*args, **kwargs)
        self.vocabulary = vocabulary

    def clean_source(self):
        text = self.cleaned_data["source"].strip().lower()
        if text not in self.vocabulary.sources:
            raise ValidationError(_("来源无效：应为药店购药登记、发热门诊、学校因病缺勤等。"))
        return self.vocabulary.sources[text]

    def clean_region(self):
        code = str(self.cleaned_data["region"]).strip()
        if code not in self.vocabulary.regions:
            raise ValidationError(_("区划代码不是您管辖范围内的乡镇（街道）或县区。"))
        return self.vocabulary.regions[code]

    def clean_day(self):
        return check_absence_day(self.cleaned_data.get("day"))

    def clean(self):
        data = super().clean()
        if "source" in data and "topic" in data:
            topics = self.vocabulary.topics[data["source"]]
            topic = data["topic"].strip().lower()
            if topic not in topics:
                self.add_error("topic", _("类别与来源不符（药品类别、症状或病种代码）。"))
            else:
                data["topic"] = topics[topic]
        return data

    def history_row(self) -> HistoryRow:
        data = self.cleaned_data
        return HistoryRow(
            data["source"], data["topic"], data["region"].pk, data["day"], data["count"]
        )


SALE_TABLE = TableSpec(
    columns={
        "销售单号": "receipt",
        "销售时间": "sold_at",
        "购药人姓名": "buyer_name",
        "证件号码": "buyer_id_number",
        "联系电话": "buyer_phone",
        "药品类别": "drug_category",
        "药品名称": "drug_name",
        "数量": "quantity",
        "体温": "temperature",
        "症状": "symptoms",
    },
    required=["销售单号", "销售时间", "购药人姓名", "证件号码", "药品类别"],
    aliases={
        "单号": "销售单号",
        "小票号": "销售单号",
        "姓名": "购药人姓名",
        "身份证号": "证件号码",
        "身份证号码": "证件号码",
        "手机号": "联系电话",
        "电话": "联系电话",
        "体温（℃）": "体温",
    },
)
LIST_SEPARATORS = re.compile(r"[、,，;；/\s]+")


def _moment_cell(value):
    moment = parse_moment(value) if value != "" else None
    return moment or value


def read_sales(upload) -> ImportReading:
    """Every row of a sales file checked, nothing stored: the sale rows, or every problem."""
    reading = ImportReading()
    categories = choices_by_label(DrugCategory.choices)
    symptoms = choices_by_label(Symptom.choices)
    receipts = {}
    for line, cells in table_rows(upload, SALE_TABLE):
        values = {name: str(cell) for name, cell in cells.items()}
        values["sold_at"] = _moment_cell(cells.get("sold_at", ""))
        category = values.get("drug_category", "").strip()
        values["drug_category"] = categories.get(category.lower(), category)
        values["symptoms"] = [
            symptoms.get(word.lower(), word)
            for word in LIST_SEPARATORS.split(values.get("symptoms", ""))
            if word and word not in ("无", "none")
        ]
        form = SaleForm(values, batch=True)
        if not form.is_valid():
            reading.refuse_form(line, form, SALE_TABLE)
            continue
        receipt = form.cleaned_data["receipt"]
        if receipt in receipts:
            reading.refuse(
                line,
                SALE_TABLE.label_of("receipt"),
                _("销售单号与第 %(line)d 行重复。") % {"line": receipts[receipt]},
            )
            continue
        receipts[receipt] = line
        reading.rows.append(form.sale_row())
    return reading


HISTORY_TABLE = TableSpec(
    columns={
        "来源": "source",
        "类别": "topic",
        "区划代码": "region",
        "日期": "day",
        "数量": "count",
    },
    required=["来源", "类别", "区划代码", "日期", "数量"],
    aliases={"乡镇代码": "区划代码", "街道代码": "区划代码", "计数": "数量", "病例数": "数量"},
    max_rows=50_000,
)


def read_history(upload, user) -> ImportReading:
    """Every row of a history file checked, nothing stored."""
    reading = ImportReading()
    vocabulary = HistoryVocabulary(user)
    seen: dict[tuple, int] = {}
    for line, cells in table_rows(upload, HISTORY_TABLE):
        values = {name: str(cell) for name, cell in cells.items()}
        if cells.get("day", "") != "":
            day = parse_date(cells["day"])
            values["day"] = day.isoformat() if day else values["day"]
        form = HistoryRowForm(values, vocabulary=vocabulary)
        if not form.is_valid():
            reading.refuse_form(line, form, HISTORY_TABLE)
            continue
        row = form.history_row()
        key = (row.source, row.topic, row.region_id, row.day)
        if key in seen:
            reading.refuse(
                line, "", _("与第 %(line)d 行的来源、类别、区划和日期重复。") % {"line": seen[key]}
            )
            continue
        seen[key] = line
        reading.rows.append(row)
    return reading


# List filters -------------------------------------------------------------------------------


def with_defaults(data, **defaults):
    """The query of a list with its defaults where the user gave none (e.g. today)."""
    query = data.copy()
    for name, value in defaults.items():
        if name not in query:
            query[name] = value
    return query


class RangeFilterForm(forms.Form):
    """Filters of the jurisdiction-wide lists: a day range and a township."""

    day_from = date_field(_("日期自"), required=False)
    day_to = date_field(_("日期至"), required=False)
    township = RegionChoiceField(
        label=_("乡镇（街道）"),
        queryset=Region.objects.none(),
        required=False,
        empty_label=_("全部"),
    )

    def __init__(self, data=None, *, user, **kwargs):
        super().__init__(data, **kwargs)
        self.user = user
        self.fields["township"].queryset = townships_of(user)

    def narrow(self, records):
        data = self.cleaned_data if self.is_valid() else {}
        if day := data.get("day_from"):
            records = records.filter(day__gte=day)
        if day := data.get("day_to"):
            records = records.filter(day__lte=day)
        if township := data.get("township"):
            records = records.filter(region=township)
        return records, data

    def applied(self) -> dict[str, str]:
        if not self.is_valid():
            return {}
        return {k: str(v) for k, v in self.cleaned_data.items() if v not in (None, "", False)}


def recent_days(days: int = 7) -> dict[str, str]:
    today = timezone.localdate()
    return {"day_from": (today - timedelta(days=days - 1)).isoformat(), "day_to": today.isoformat()}


class SaleFilterForm(RangeFilterForm):
    drug_category = forms.ChoiceField(
        label=_("药品类别"), choices=[*EVERYTHING, *DrugCategory.choices], required=False
    )
    fever_only = forms.BooleanField(label=_("仅发热购药人员"), required=False)

    def sales(self):
        sales = PharmacySale.objects.visible_to(self.user).select_related("pharmacy", "region")
        sales, data = self.narrow(sales)
        if category := data.get("drug_category"):
            sales = sales.filter(drug_category=category)
        if data.get("fever_only"):
            sales = sales.filter(has_fever=True)
        return sales


class UnitSaleFilterForm(forms.Form):
    """The pharmacy's own list: one day (today unless chosen), and the pharmacy for users
    entering for several."""

    day = date_field(_("销售日期"), required=False)

    def __init__(self, data=None, *, user, units, several: bool, **kwargs):
        super().__init__(data, **kwargs)
        self.user = user
        self.units = units
        add_unit_field(self, units if several else None, _("药店"), required=False)

    def sales(self):
        data = self.cleaned_data if self.is_valid() else {}
        unit = data.get("unit")
        sales = PharmacySale.objects.visible_to(self.user).filter(
            pharmacy__in=[unit] if unit else self.units
        )
        return sales.filter(day=data.get("day") or timezone.localdate()).select_related("pharmacy")

    def applied(self) -> dict[str, str]:
        if not self.is_valid():
            return {}
        return {k: str(v) for k, v in self.cleaned_data.items() if v}


class VisitFilterForm(RangeFilterForm):
    clinic = UnitField(
        label=_("接诊机构"),
        queryset=Organisation.objects.none(),
        required=False,
        empty_label=_("全部"),
    )
    syndrome = forms.ChoiceField(
        label=_("症候群"), choices=[*EVERYTHING, *Syndrome.choices], required=False
    )
    disposition = forms.ChoiceField(
        label=_("处置"),
        choices=[*EVERYTHING, *FeverClinicVisit.Disposition.choices],
        required=False,
    )

    def __init__(self, data=None, *, user, clinics, **kwargs):
        super().__init__(data, user=user, **kwargs)
        self.clinics = clinics
        self.fields["clinic"].queryset = clinics

    def visits(self, *, own_clinics_only: bool):
        visits = FeverClinicVisit.objects.visible_to(self.user).select_related(
            "clinic", "person", "region"
        )
        if own_clinics_only:
            visits = visits.filter(clinic__in=self.clinics)
        visits, data = self.narrow(visits)
        if clinic := data.get("clinic"):
            visits = visits.filter(clinic=clinic)
        if syndrome := data.get("syndrome"):
            visits = visits.filter(pk__in=_with_syndrome(visits, syndrome))
        if disposition := data.get("disposition"):
            visits = visits.filter(disposition=disposition)
        return visits


def _with_syndrome(visits, syndrome: str) -> list[int]:
    # A JSON list: portable containment checks differ between SQLite and PostgreSQL, so the
    # ids are picked in Python from the (already narrowed) visits.
    return [pk for pk, found in visits.values_list("pk", "syndromes") if syndrome in found]


class AbsenceFilterForm(RangeFilterForm):
    school = UnitField(
        label=_("学校"), queryset=Organisation.objects.none(), required=False, empty_label=_("全部")
    )
    syndrome = forms.ChoiceField(
        label=_("症状"), choices=[*EVERYTHING, *Syndrome.choices], required=False
    )
    with_absence = forms.BooleanField(label=_("仅有缺勤的记录"), required=False)

    def __init__(self, data=None, *, user, **kwargs):
        super().__init__(data, user=user, **kwargs)
        self.fields["school"].queryset = units_of(user, sources.SCHOOL_TYPES)

    def absences(self):
        absences = SchoolAbsence.objects.visible_to(self.user).select_related("school", "region")
        absences, data = self.narrow(absences)
        if school := data.get("school"):
            absences = absences.filter(school=school)
        if syndrome := data.get("syndrome"):
            absences = absences.filter(syndrome=syndrome)
        if data.get("with_absence"):
            absences = absences.filter(absent__gt=0)
        return absences


def fever_buyers(user):
    """Fever buyers the user's grid (or street) follows up: by where they are followed up,
    not by the pharmacy's area."""
    path = user_scope_path(user)
    sales = PharmacySale.objects.filter(has_fever=True)
    if path is None:
        return sales.none()
    if path:
        sales = sales.filter(follow_up_region__path__startswith=path)
    return sales.select_related("pharmacy", "follow_up_region")


class FollowUpForm(forms.Form):
    note = forms.CharField(
        label=_("跟进情况"),
        max_length=255,
        error_messages={"required": _("请填写跟进情况。")},
    )
