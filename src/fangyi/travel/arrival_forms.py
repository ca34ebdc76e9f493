"""The one validation of an arrival as a person, a grid worker, a hotel or an import enters
it (`ArrivalForm` → `services.ArrivalData`), and the filters of the arrival list."""

from collections import Counter
from dataclasses import dataclass

from django import forms
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fangyi.accounts.roles import RoleCode
from fangyi.core.forms import CLOCK_SKEW, DATETIME_WIDGET, EVERYTHING, TEL_WIDGET, date_field
from fangyi.core.rules import RuleError, add_rule_error
from fangyi.core.tabular import (
    ImportReading,
    TableSpec,
    choices_by_label,
    heading,
    parse_date,
    parse_moment,
    table_rows,
)
from fangyi.geo.forms import RegionChoiceField
from fangyi.geo.models import Organisation, Region
from fangyi.measures.forms import symptoms_field, temperature_field
from fangyi.measures.models import Symptom
from fangyi.people.models import Person
from fangyi.people.validation import (
    resident_id_facts,
    validate_passport,
    validate_phone,
    validate_resident_id,
)
from fangyi.travel import services
from fangyi.travel.models import Arrival, RiskLevel, Transport

OTHER_STAYS = 3
ID_TYPES = [
    (Person.IdType.RESIDENT_ID, Person.IdType.RESIDENT_ID.label),
    (Person.IdType.PASSPORT, Person.IdType.PASSPORT.label),
    (Person.IdType.OTHER, Person.IdType.OTHER.label),
]
IDENTITY_FIELDS = ("name", "id_type", "id_number", "phone")


class ArrivalForm(forms.Form):
    """One arrival. Without `person` the form names the person (found by document number or
    registered by the service); with `person` (picked by a worker) it does not ask again.
    `grids` are the grids the entering party may choose."""

    name = forms.CharField(
        label=_("姓名"), max_length=64, error_messages={"required": _("请填写姓名。")}
    )
    id_type = forms.ChoiceField(
        label=_("证件类型"),
        choices=ID_TYPES,
        initial=Person.IdType.RESIDENT_ID,
        error_messages={"invalid_choice": _("证件类型无效：应为居民身份证、护照或其他证件。")},
    )
    id_number = forms.CharField(
        label=_("证件号码"),
        max_length=32,
        error_messages={"required": _("请填写证件号码。")},
    )
    phone = forms.CharField(
        label=_("手机号"),
        max_length=32,
        required=False,
        widget=TEL_WIDGET,
    )
    origin = forms.CharField(
        label=_("来源地"),
        max_length=255,
        help_text=_("省、市、区（县）、街道（乡镇）、小区，如 湖北省武汉市江汉区花楼街道"),
        error_messages={"required": _("请填写来源地。")},
    )
    stay_from = date_field(_("在来源地起始日期"))
    departure_date = date_field(_("出发日期"))
    arrival_date = date_field(_("抵达日期"))
    transport = forms.ChoiceField(
        label=_("交通方式"),
        choices=Transport.choices,
        error_messages={"invalid_choice": _("交通方式无效。"), "required": _("请选择交通方式。")},
    )
    transport_number = forms.CharField(label=_("车次/航班/车牌"), max_length=32, required=False)
    destination = forms.CharField(
        label=_("目的地详细地址"),
        max_length=255,
        error_messages={"required": _("请填写目的地详细地址。")},
    )
    grid = RegionChoiceField(
        label=_("网格"),
        queryset=Region.objects.none(),
        error_messages={
            "required": _("请选择网格。"),
            "invalid_choice": _("所选网格不存在或不在可选范围内。"),
        },
    )
    has_certificate = forms.BooleanField(label=_("持48小时核酸阴性证明"), required=False)
    certificate_sampled_at = forms.DateTimeField(
        label=_("核酸证明采样时间"),
        required=False,
        widget=DATETIME_WIDGET,
        error_messages={"invalid": _("请输入有效的时间，如 2022-03-01 08:30。")},
    )
    temperature = temperature_field(_("当前体温（℃）"), required=False)
    symptoms = symptoms_field(_("症状（没有则不选）"))
    note = forms.CharField(label=_("备注"), max_length=255, required=False)

    def __init__(
        self, *args, grids, person: Person | None = None, public=False, known_grids=None, **kwargs
    ):
        super().__init__(*args, **kwargs)
        self.person = person
        self.public = public
        grid = self.fields["grid"]
        grid.queryset, grid.short, grid.known = grids, public, known_grids
        for n in range(1, OTHER_STAYS + 1):
            self.fields[f"stay{n}_address"] = forms.CharField(
                label=_("途经/停留地"), max_length=255, required=False
            )
            self.fields[f"stay{n}_from"] = date_field(_("起始日期"), required=False)
            self.fields[f"stay{n}_to"] = date_field(_("结束日期"), required=False)
        if person is not None:
            for name in IDENTITY_FIELDS:
                del self.fields[name]
        if public:
            # The person's own report: the phone finds the receipt again, the reading counts.
            self.fields["phone"].required = True
            self.fields["phone"].error_messages["required"] = _("请填写手机号。")
            self.fields["temperature"].required = True
            self.fields["note"].widget = forms.HiddenInput()

    def stay_rows(self):
        """The other places' fields, row by row, for the templates."""
        return [
            [self[f"stay{n}_{part}"] for part in ("address", "from", "to")]
            for n in range(1, OTHER_STAYS + 1)
        ]

    def clean_name(self):
        name = " ".join(self.cleaned_data["name"].split())
        if not name:
            raise ValidationError(_("请填写姓名。"))
        return name

    def clean_phone(self):
        return validate_phone(self.cleaned_data.get("phone", ""))

    def clean_certificate_sampled_at(self):
        sampled_at = self.cleaned_data.get("certificate_sampled_at")
        if sampled_at and sampled_at > timezone.now() + CLOCK_SKEW:
            raise ValidationError(_("采样时间不能晚于当前时间。"), code="future")
        return sampled_at

    def clean(self):
        data = super().clean()
        if "id_number" in self.fields and "id_number" in data:
            self._clean_identity(data)
        if data.get("has_certificate") and not data.get("certificate_sampled_at"):
            self.add_error("certificate_sampled_at", _("持核酸阴性证明的，请填写采样时间。"))
        if data.get("certificate_sampled_at"):
            data["has_certificate"] = True
        other = Symptom.OTHER in data.get("symptoms", [])
        if other and not data.get("note", "").strip() and not self.public:
            self.add_error("note", _("选择“其他”症状时请在备注中说明。"))
        self._clean_stays(data)
        if not self.errors:
            try:
                services.check_dates(self.arrival_data(), timezone.localdate())
            except RuleError as refused:
                add_rule_error(self, refused)
        return data

    def _clean_identity(self, data) -> None:
        try:
            if data.get("id_type") == Person.IdType.RESIDENT_ID:
                data["id_number"] = validate_resident_id(data["id_number"])
                data["sex"], data["birth_date"] = resident_id_facts(data["id_number"])
            else:
                data["id_number"] = validate_passport(data["id_number"])
        except ValidationError as error:
            self.add_error("id_number", error)

    def _clean_stays(self, data) -> None:
        for n in range(1, OTHER_STAYS + 1):
            names = [f"stay{n}_address", f"stay{n}_from", f"stay{n}_to"]
            given = [bool(data.get(name)) for name in names]
            if any(given) and not all(given):
                for name, present in zip(names, given, strict=True):
                    if not present and name not in self.errors:
                        self.add_error(name, _("途经地请填写地点和起止日期。"))

    def arrival_data(self) -> services.ArrivalData:
        data = self.cleaned_data
        person = self.person
        stays = [
            services.StayEntry(
                data[f"stay{n}_address"].strip(), data[f"stay{n}_from"], data[f"stay{n}_to"]
            )
            for n in range(1, OTHER_STAYS + 1)
            if data.get(f"stay{n}_address")
        ]
        identity = (
            {"name": person.name, "person": person}
            if person is not None
            else {
                "name": data["name"],
                "id_type": data["id_type"],
                "id_number": data["id_number"],
                "phone": data.get("phone", ""),
                "sex": data.get("sex", ""),
                "birth_date": data.get("birth_date"),
            }
        )
        return services.ArrivalData(
            **identity,
            grid=data["grid"],
            origin=data["origin"].strip(),
            stay_from=data["stay_from"],
            departure_date=data["departure_date"],
            arrival_date=data["arrival_date"],
            transport=data["transport"],
            transport_number=data.get("transport_number", "").strip(),
            destination=data["destination"].strip(),
            has_certificate=bool(data.get("has_certificate")),
            certificate_sampled_at=data.get("certificate_sampled_at"),
            temperature=data.get("temperature"),
            symptoms=list(data.get("symptoms", [])),
            other_stays=stays,
            note=data.get("note", "").strip(),
        )


def grids_of(user):
    """The grids a worker may register arrivals in: those of their jurisdiction."""
    return Region.objects.visible_to(user).filter(level=Region.Level.GRID).order_by("path")


def grids_under(region: Region):
    return Region.objects.filter(level=Region.Level.GRID, path__startswith=region.path).order_by(
        "path"
    )


NO_RISK = "none"


class ArrivalFilterForm(forms.Form):
    """Filters of the arrival list; the page, its export and the API share them."""

    q = forms.CharField(label=_("搜索"), required=False, max_length=64)
    arrived_from = date_field(_("抵达日期自"), required=False)
    arrived_to = date_field(_("抵达日期至"), required=False)
    origin_level = forms.ChoiceField(
        label=_("旅居地风险等级"),
        choices=[*EVERYTHING, *RiskLevel.choices, (NO_RISK, _("非风险地区"))],
        required=False,
    )
    status = forms.ChoiceField(
        label=_("落实情况"), choices=[*EVERYTHING, *Arrival.Status.choices], required=False
    )
    channel = forms.ChoiceField(
        label=_("报备途径"), choices=[*EVERYTHING, *Arrival.Channel.choices], required=False
    )
    region = forms.ModelChoiceField(
        label=_("街道/社区/网格"),
        queryset=Region.objects.none(),
        required=False,
        empty_label=_("全部"),
    )
    certificate_missing = forms.BooleanField(label=_("缺少核酸证明"), required=False)

    def __init__(self, data=None, *, user, **kwargs):
        super().__init__(data, **kwargs)
        self.user = user
        self.fields["region"].queryset = Region.objects.visible_to(user).filter(
            level__in=(Region.Level.TOWNSHIP, Region.Level.VILLAGE, Region.Level.GRID)
        )
        self.fields["region"].label_from_instance = lambda region: region.full_name

    def arrivals(self):
        """Arrivals the user may see, narrowed by the valid filters."""
        arrivals = Arrival.objects.visible_to(self.user).select_related(
            "person", "grid", "rule", "measure"
        )
        data = self.cleaned_data if self.is_valid() else {}
        if day := data.get("arrived_from"):
            arrivals = arrivals.filter(arrival_date__gte=day)
        if day := data.get("arrived_to"):
            arrivals = arrivals.filter(arrival_date__lte=day)
        if level := data.get("origin_level"):
            arrivals = arrivals.filter(origin_level="" if level == NO_RISK else level)
        for name in ("status", "channel"):
            if value := data.get(name):
                arrivals = arrivals.filter(**{name: value})
        if data.get("certificate_missing"):
            arrivals = arrivals.filter(certificate_missing=True)
        if region := data.get("region"):
            arrivals = arrivals.filter(grid__path__startswith=region.path)
        if query := data.get("q"):
            arrivals = arrivals.filter(
                Q(person__in=Person.objects.search(query).values("pk"))
                | Q(receipt_code=query.strip().upper())
            )
        return arrivals

    def applied(self) -> dict[str, str]:
        if not self.is_valid():
            return {}
        return {k: str(v) for k, v in self.cleaned_data.items() if v}


# Who enters arrivals: a hotel or employer, or the jurisdiction's workers ------------------------

UNIT_CHANNELS = {
    Organisation.Type.HOTEL: Arrival.Channel.HOTEL,
    Organisation.Type.ENTERPRISE: Arrival.Channel.EMPLOYER,
}


def unit_of(user) -> Organisation | None:
    """The hotel or employer a reporting unit's account registers for, else None."""
    organisation = user.organisation
    if organisation is None or organisation.type not in UNIT_CHANNELS:
        return None
    if not user.roles.filter(code=RoleCode.REPORTING_UNIT).exists():
        return None
    return organisation


def entry_party(user, default_channel: str) -> tuple[str, Organisation | None, object]:
    """(channel, organisation, grids) of what this user enters: a unit registers under its
    own channel into the grids of its township, a worker into the grids of their scope."""
    unit = unit_of(user)
    if unit is not None:
        return UNIT_CHANNELS[unit.type], unit, grids_under(unit.region)
    return default_channel, None, grids_of(user)


# Batches: an import file or an API call, all registered or none ------------------------------


class BatchRefused(Exception):
    """A service refused one item of a batch: nothing of the batch was stored."""

    def __init__(self, index: int, error: RuleError):
        super().__init__(str(error.message))
        self.index = index
        self.error = error


@transaction.atomic
def register_all(actor, items: list, *, channel: str, organisation=None) -> list:
    """Register every arrival of a validated batch in one transaction: (arrival, created)
    per item. A refusal rolls everything back and names the item."""
    results = []
    for index, data in enumerate(items):
        try:
            results.append(
                services.register_arrival(actor, data, channel=channel, organisation=organisation)
            )
        except RuleError as refused:
            raise BatchRefused(index, refused) from refused
    return results


# Import file ---------------------------------------------------------------------------------

# Heading (as in the template) → form field.
IMPORT_COLUMNS = {
    "姓名": "name",
    "证件类型": "id_type",
    "证件号码": "id_number",
    "联系电话": "phone",
    "来源地": "origin",
    "在来源地起始日期": "stay_from",
    "出发日期": "departure_date",
    "抵达日期": "arrival_date",
    "交通方式": "transport",
    "车次航班": "transport_number",
    "目的地址": "destination",
    "网格": "grid",
    "核酸证明采样时间": "certificate_sampled_at",
    "体温": "temperature",
    "备注": "note",
}
HEADING_ALIASES = {
    "手机号": "联系电话",
    "电话": "联系电话",
    "车次/航班": "车次航班",
    "车次/航班/车牌": "车次航班",
    "目的地详细地址": "目的地址",
    "所属网格": "网格",
    "体温（℃）": "体温",
}
REQUIRED_HEADINGS = [
    "姓名",
    "证件号码",
    "来源地",
    "在来源地起始日期",
    "出发日期",
    "抵达日期",
    "交通方式",
    "目的地址",
    "网格",
]
ARRIVAL_TABLE = TableSpec(IMPORT_COLUMNS, REQUIRED_HEADINGS, HEADING_ALIASES, max_rows=2000)
TRANSPORT_WORDS = {
    "火车": Transport.TRAIN,
    "高铁": Transport.TRAIN,
    "动车": Transport.TRAIN,
    "汽车": Transport.COACH,
    "客车": Transport.COACH,
    "大巴": Transport.COACH,
    "私家车": Transport.CAR,
    "航班": Transport.PLANE,
    "船": Transport.SHIP,
}
DATE_COLUMNS = ("stay_from", "departure_date", "arrival_date")


@dataclass
class ImportRow:
    line: int
    data: services.ArrivalData


def import_headings() -> list[str]:
    return list(IMPORT_COLUMNS)


class GridNames:
    """A grid as a file names it: code, full name, or its own name where that is unique in
    the user's grids. Loaded once per file."""

    def __init__(self, grids):
        self.grids = list(grids)
        self.by_key: dict[str, Region | None] = {}
        for grid in self.grids:
            self.by_key[heading(grid.code)] = grid
            self.by_key[heading(grid.full_name)] = grid
        names = Counter(heading(grid.name) for grid in self.grids)
        for grid in self.grids:
            name = heading(grid.name)
            self.by_key.setdefault(name, grid if names[name] == 1 else None)

    def find(self, text) -> tuple[Region | None, str]:
        """(grid, "") or (None, the reason)."""
        key = heading(text)
        if not key:
            return None, ""
        if key not in self.by_key:
            return None, str(_("网格不存在或不在您的管辖范围内，请填写网格代码或全称。"))
        grid = self.by_key[key]
        if grid is None:
            return None, str(_("有多个同名网格，请填写网格代码或全称。"))
        return grid, ""


def _cell_value(name: str, value, choices: dict) -> str:
    """A cell as the form reads it: dates, times and choice labels made plain."""
    if value in ("", None):
        return ""
    if name in DATE_COLUMNS:
        day = parse_date(value)
        return day.isoformat() if day else str(value)
    if name == "certificate_sampled_at":
        moment = parse_moment(value)
        return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M") if moment else str(value)
    if name in choices:
        text = str(value).strip()
        return choices[name].get(text.lower(), TRANSPORT_WORDS.get(text, text))
    return str(value)


def read_import(upload, grids) -> ImportReading:
    """Every row of an arrival file checked, nothing stored: the rows ready to register, or
    every problem (line, column heading, reason)."""
    reading = ImportReading()
    grid_names = GridNames(grids)
    known = {str(grid.pk): grid for grid in grid_names.grids}
    choices = {
        "id_type": choices_by_label(ID_TYPES),
        "transport": choices_by_label(Transport.choices),
    }
    for line, cells in table_rows(upload, ARRIVAL_TABLE):
        values = {name: _cell_value(name, cell, choices) for name, cell in cells.items()}
        values["id_type"] = values.get("id_type") or Person.IdType.RESIDENT_ID
        grid, grid_problem = grid_names.find(values.get("grid", ""))
        values["grid"] = str(grid.pk) if grid else ""
        if grid_problem:
            reading.refuse(line, ARRIVAL_TABLE.label_of("grid"), grid_problem)
        form = ArrivalForm(values, grids=grids, known_grids=known)
        if form.is_valid() and not grid_problem:
            reading.rows.append(ImportRow(line, form.arrival_data()))
            continue
        if grid_problem:
            form.errors.pop("grid", None)
        reading.refuse_form(line, form, ARRIVAL_TABLE)
    return reading
