"""Forms of the facility, batch check and policy pages (the rules stay in services)."""

import re
from collections import Counter
from datetime import date

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fangyi.core.forms import DATE_WIDGET
from fangyi.core.masking import mask_name
from fangyi.geo.models import Organisation, Region
from fangyi.measures.forms import HealthCheckForm
from fangyi.measures.models import Facility, Measure, MeasureType, Policy, Room
from fangyi.measures.services import POLICY_FIELDS

# Rooms added in one go: a few floors of a hotel, not a typo such as "101-1200".
MAX_NEW_ROOMS = 200
ROOM_NUMBER = re.compile(r"[0-9A-Za-z]{1,16}")
ROOM_RANGE = re.compile(r"(\d{1,16})-(\d{1,16})")
RANGE_DASH = re.compile(r"\s*[-~～—]\s*")
LIST_SEPARATORS = re.compile(r"[,，、;；\s]+")


# Facilities and rooms ---------------------------------------------------------------------


class FacilityForm(forms.Form):
    """Register a quarantine facility run by an organisation of that type."""

    organisation = forms.ModelChoiceField(
        label=_("单位"),
        queryset=Organisation.objects.none(),
        error_messages={
            "required": _("请选择集中隔离场所单位。"),
            "invalid_choice": _("所选单位不存在、已登记场所或不在您的管辖范围内。"),
        },
    )
    kind = forms.ChoiceField(label=_("类型"), choices=Facility.Kind.choices)
    name = forms.CharField(
        label=_("名称"), max_length=128, required=False, help_text=_("留空则使用单位名称。")
    )
    address = forms.CharField(
        label=_("地址"), max_length=255, required=False, help_text=_("留空则使用单位地址。")
    )
    phone = forms.CharField(label=_("联系电话"), max_length=32, required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["organisation"].queryset = Organisation.objects.visible_to(user).filter(
            type=Organisation.Type.QUARANTINE_FACILITY, facility__isnull=True
        )


def parse_room_numbers(text: str) -> list[str]:
    """ "101-120", "101,102,105" or both ("101-105, 108") → the room numbers, in order."""
    numbers: list[str] = []
    for part in LIST_SEPARATORS.split(RANGE_DASH.sub("-", text.strip())):
        if span := ROOM_RANGE.fullmatch(part):
            first, last = span.groups()
            if int(first) > int(last):
                raise ValidationError(
                    _("范围“%(part)s”的起始号大于结束号。"), params={"part": part}, code="range"
                )
            if len(numbers) + int(last) - int(first) >= MAX_NEW_ROOMS:
                raise too_many_rooms()
            # "001-010" keeps its leading zeros.
            numbers += [str(n).zfill(len(first)) for n in range(int(first), int(last) + 1)]
        elif ROOM_NUMBER.fullmatch(part):
            numbers.append(part)
        elif part:
            raise ValidationError(
                _("无法识别“%(part)s”：请填写房间号范围如 101-120，或用逗号分隔如 101,102,105。"),
                params={"part": part},
                code="invalid",
            )
    if len(numbers) > MAX_NEW_ROOMS:
        raise too_many_rooms()
    repeated = sorted(number for number, times in Counter(numbers).items() if times > 1)
    if repeated:
        raise ValidationError(
            _("房间号重复：%(numbers)s"), params={"numbers": "、".join(repeated)}, code="repeated"
        )
    return numbers


def too_many_rooms() -> ValidationError:
    return ValidationError(
        _("一次最多添加%(max)s间房。"), params={"max": MAX_NEW_ROOMS}, code="too_many"
    )


class RoomsForm(forms.Form):
    """Rooms of one floor added at once (services.add_rooms refuses numbers in use)."""

    floor = forms.IntegerField(
        label=_("楼层"),
        min_value=-5,
        max_value=200,
        error_messages={"required": _("请填写楼层。"), "invalid": _("楼层须为整数。")},
    )
    numbers = forms.CharField(
        label=_("房间号"),
        max_length=1000,
        help_text=_("范围如 101-120，或逐个列出如 101,102,105。"),
        error_messages={"required": _("请填写房间号。")},
    )
    kind = forms.ChoiceField(label=_("房型"), choices=Room.Kind.choices)
    beds = forms.IntegerField(
        label=_("每间床位"),
        min_value=1,
        max_value=10,
        initial=1,
        error_messages={
            "required": _("请填写床位数。"),
            "min_value": _("床位数须在1–10之间。"),
            "max_value": _("床位数须在1–10之间。"),
        },
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "id_rooms_%s")
        super().__init__(*args, **kwargs)

    def clean_numbers(self) -> list[str]:
        return parse_room_numbers(self.cleaned_data["numbers"])


class RoomStatusForm(forms.Form):
    """What staff may set by hand: cleaned / back in service (free) or out of service."""

    status = forms.ChoiceField(
        choices=[(s, s.label) for s in (Room.Status.FREE, Room.Status.OUT_OF_SERVICE)]
    )


# Batch check entry ------------------------------------------------------------------------


class BatchTargetForm(forms.Form):
    """Whose checks to enter: the residents of a facility floor, or the people under home
    measures of a grid or community."""

    floor = forms.ChoiceField(label=_("隔离场所楼层"), required=False)
    region = forms.ModelChoiceField(
        label=_("网格/社区（居家人员）"),
        queryset=Region.objects.none(),
        required=False,
        empty_label="—",
        error_messages={"invalid_choice": _("所选区划不存在或不在您的管辖范围内。")},
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        floors = (
            Room.objects.visible_to(user)
            .filter(facility__active=True)
            .values_list("facility_id", "facility__name", "floor")
            .order_by("facility__name", "floor")
            .distinct()
        )
        label = _("%(facility)s %(floor)s层")
        self.fields["floor"].choices = [("", "—")] + [
            (f"{facility_id}:{floor}", label % {"facility": name, "floor": floor})
            for facility_id, name, floor in floors
        ]
        self.fields["region"].queryset = Region.objects.visible_to(user).filter(
            level__in=(Region.Level.VILLAGE, Region.Level.GRID)
        )
        self.fields["region"].label_from_instance = lambda region: region.full_name

    def clean(self):
        data = super().clean()
        if bool(data.get("floor")) == bool(data.get("region")):
            raise ValidationError(_("请选择一个隔离场所楼层，或一个网格/社区。"), code="target")
        return data

    def measures(self, today: date):
        """Measures in force there that the user may see, in the order of the list: by
        room, or by address."""
        measures = checkable_measures(self.user, today).active()
        if floor := self.cleaned_data["floor"]:
            facility_id, number = floor.split(":")
            return measures.filter(facility_id=facility_id, room__floor=number).order_by(
                "room__number", "person__name", "pk"
            )
        # Facility residents are checked by the facility's staff, not on the grid's list.
        return measures.filter(
            region__path__startswith=self.cleaned_data["region"].path, facility__isnull=True
        ).order_by("region__path", "address", "person__name", "pk")


def checkable_measures(user, today: date):
    """Measures the user may see, with what a row of the batch page and the checks saved
    from it need: the person, the scope and unit of the alerts, and `done_today`."""
    return (
        Measure.objects.visible_to(user)
        .select_related("person", "region", "responsible_organisation", "room")
        .annotate(done_today=Count("checks", filter=Q(checks__day=today)))
    )


def posted_measures(user, data, today: date, limit: int) -> list[Measure]:
    """The measures of the rows of a submitted batch page, in the page's order. Those that
    ended meanwhile stay (their rows are refused); those out of scope are dropped."""
    ids = list(dict.fromkeys(int(pk) for pk in data.getlist("measure") if pk.isdigit()))[:limit]
    found = checkable_measures(user, today).in_bulk(ids)
    return [found[pk] for pk in ids if pk in found]


class CheckRow:
    """One person's row of the batch page: a HealthCheckForm prefixed by the measure, bound
    only when something was typed in the row (empty rows are skipped, not refused)."""

    def __init__(self, measure: Measure, data=None, *, first: bool = False):
        self.measure = measure
        self.name = mask_name(measure.person.name)
        prefix = f"m{measure.pk}"
        typed = data is not None and (
            any(data.get(f"{prefix}-{name}", "").strip() for name in ("temperature", "note"))
            or data.getlist(f"{prefix}-symptoms")
        )
        self.filled = bool(typed)
        self.form = HealthCheckForm(data if typed else None, measure=measure, prefix=prefix)
        # checks_batch.js moves from one temperature to the next on Enter or Tab.
        self.form.fields["temperature"].widget.attrs.update(
            {"class": "temperature", "aria-label": _("%(name)s的体温") % {"name": self.name}}
        )
        if first:
            self.form.fields["temperature"].widget.attrs["autofocus"] = True


# Policies ---------------------------------------------------------------------------------


class PolicyForm(forms.Form):
    """A new version of a category's policy (services.publish_policy)."""

    measure_type = forms.ChoiceField(label=_("管控措施"), choices=MeasureType.choices)
    days = forms.IntegerField(
        label=_("天数"),
        min_value=1,
        max_value=60,
        error_messages={
            "required": _("请填写天数。"),
            "min_value": _("天数须在1–60之间。"),
            "max_value": _("天数须在1–60之间。"),
        },
    )
    then_type = forms.ChoiceField(
        label=_("期满后续措施"), choices=[("", _("无"))] + MeasureType.choices, required=False
    )
    then_days = forms.IntegerField(
        label=_("后续措施天数"),
        min_value=0,
        max_value=60,
        required=False,
        error_messages={
            "min_value": _("后续措施天数须在0–60之间。"),
            "max_value": _("后续措施天数须在0–60之间。"),
        },
    )
    test_days = forms.CharField(
        label=_("核酸检测日（第几天）"),
        max_length=200,
        required=False,
        help_text=_("用逗号分隔，如 1,4,7,14；按间隔检测时留空。"),
    )
    test_every_days = forms.IntegerField(
        label=_("或每隔几天检测一次"),
        min_value=0,
        max_value=60,
        required=False,
        error_messages={
            "min_value": _("检测间隔须在0–60天之间。"),
            "max_value": _("检测间隔须在0–60天之间。"),
        },
    )
    checks_per_day = forms.IntegerField(
        label=_("每日健康监测次数"),
        min_value=1,
        max_value=6,
        error_messages={
            "required": _("请填写每日健康监测次数。"),
            "min_value": _("每日监测次数须在1–6之间。"),
            "max_value": _("每日监测次数须在1–6之间。"),
        },
    )
    release_needs_tests = forms.BooleanField(label=_("解除须检测日全部阴性"), required=False)
    release_needs_environment = forms.BooleanField(
        label=_("解除须人、物、环境样本均阴性"), required=False
    )
    effective_from = forms.DateField(
        label=_("生效日期"),
        widget=DATE_WIDGET,
        error_messages={"required": _("请填写生效日期。"), "invalid": _("请输入有效的日期。")},
    )
    basis = forms.CharField(label=_("依据"), max_length=255, required=False)

    @staticmethod
    def initial_from(policy: Policy | None) -> dict:
        """The fields of a published version, to start the next one from."""
        initial = {"effective_from": timezone.localdate(), "checks_per_day": 2}
        if policy is not None:
            initial |= {name: getattr(policy, name) for name in POLICY_FIELDS}
            initial["test_days"] = ",".join(str(day) for day in policy.test_days)
        return initial

    def clean_test_days(self) -> list[int]:
        text = self.cleaned_data["test_days"].strip()
        parts = [part for part in LIST_SEPARATORS.split(text) if part]
        if not all(part.isdigit() and int(part) > 0 for part in parts):
            raise ValidationError(_("检测日须为正整数，用逗号分隔，如 1,4,7,14。"), code="invalid")
        return sorted({int(part) for part in parts})

    def clean_effective_from(self) -> date:
        effective_from = self.cleaned_data["effective_from"]
        if effective_from < timezone.localdate():
            raise ValidationError(_("生效日期不能早于今天。"), code="past")
        return effective_from

    def clean(self):
        data = super().clean()
        data["then_days"] = data.get("then_days") or 0
        data["test_every_days"] = data.get("test_every_days") or 0
        if data.get("then_type") and not data["then_days"]:
            self.add_error("then_days", _("选择了期满后续措施，请填写后续措施天数。"))
        if not data.get("then_type") and data["then_days"]:
            self.add_error("then_days", _("未选择期满后续措施，后续措施天数应为0。"))
        if "days" not in data or self.errors:
            return data
        course = data["days"] + data["then_days"]
        beyond = [day for day in data.get("test_days", []) if day > course]
        if beyond:
            self.add_error(
                "test_days",
                _("检测日%(days)s超出管控总天数（%(course)s天）。")
                % {"days": "、".join(map(str, beyond)), "course": course},
            )
        if data.get("test_days") and data["test_every_days"]:
            self.add_error("test_every_days", _("检测日与检测间隔只能填写一项。"))
        elif data["test_every_days"] > course:
            self.add_error(
                "test_every_days",
                _("检测间隔不能超过管控总天数（%(course)s天）。") % {"course": course},
            )
        return data

    def policy_fields(self) -> dict:
        """Keyword arguments of services.publish_policy besides category and date."""
        return {name: self.cleaned_data[name] for name in POLICY_FIELDS}
