from datetime import date
from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Count, Exists, F, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fangyi.core.forms import CLOCK_SKEW, DATE_WIDGET, DATETIME_WIDGET, EVERYTHING
from fangyi.geo.models import Region
from fangyi.measures.models import (
    Category,
    Facility,
    HealthCheck,
    Measure,
    MeasureTest,
    MeasureType,
    Policy,
    Room,
    Symptom,
)
from fangyi.measures.services import CheckEntry
from fangyi.people.models import Person

# Clocks of phones and scanners drift; a reading a few minutes "in the future" is fine.


def temperature_field(label=None, *, required: bool = True) -> forms.DecimalField:
    """A body temperature, 35.0–42.0 ℃ to one decimal: readings, arrivals, self-reports."""
    out_of_range = _("体温须在35.0–42.0℃之间，请复测。")
    return forms.DecimalField(
        label=label or _("体温（℃）"),
        max_digits=3,
        decimal_places=1,
        min_value=Decimal("35.0"),
        max_value=Decimal("42.0"),
        required=required,
        error_messages={
            "min_value": out_of_range,
            "max_value": out_of_range,
            "max_digits": out_of_range,
            "max_whole_digits": out_of_range,
            "invalid": _("请输入体温数值，如 36.5。"),
            "required": _("请填写体温。"),
            "max_decimal_places": _("体温保留一位小数，如 36.5。"),
        },
        widget=forms.NumberInput(attrs={"step": "0.1", "inputmode": "decimal"}),
    )


def symptoms_field(label=None) -> forms.MultipleChoiceField:
    return forms.MultipleChoiceField(
        label=label or _("症状"),
        choices=Symptom.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"invalid_choice": _("未知的症状：%(value)s。")},
    )


class HealthCheckForm(forms.Form):
    """One reading for one measure: the one validation for the pages, the API and the
    person's phone link."""

    temperature = temperature_field()
    symptoms = symptoms_field()
    note = forms.CharField(label=_("其他情况"), max_length=255, required=False)
    checked_at = forms.DateTimeField(
        label=_("监测时间"),
        required=False,
        widget=DATETIME_WIDGET,
        error_messages={"invalid": _("请输入有效的时间。")},
    )

    def __init__(self, *args, measure: Measure, **kwargs):
        super().__init__(*args, **kwargs)
        self.measure = measure

    def clean_checked_at(self):
        checked_at = self.cleaned_data.get("checked_at") or timezone.now()
        if checked_at > timezone.now() + CLOCK_SKEW:
            raise ValidationError(_("监测时间不能晚于当前时间。"), code="future")
        if timezone.localdate(checked_at) < self.measure.start_date:
            raise ValidationError(_("监测时间早于管控开始日期。"), code="before_start")
        return checked_at

    def clean(self):
        cleaned = super().clean()
        if Symptom.OTHER in cleaned.get("symptoms", []) and not cleaned.get("note", "").strip():
            self.add_error("note", ValidationError(_("选择“其他”症状时请说明。"), code="required"))
        if self.measure.status != Measure.Status.ACTIVE:
            raise ValidationError(_("该人员当前不在管控中，不能录入健康监测。"), code="not_active")
        return cleaned

    def entry(self) -> CheckEntry:
        data = self.cleaned_data
        return CheckEntry(
            measure=self.measure,
            temperature=data["temperature"],
            checked_at=data["checked_at"],
            symptoms=list(data["symptoms"]),
            note=data["note"].strip(),
        )


class MeasureFilterForm(forms.Form):
    """Filters of the measure list; the page and its export share them. Without a status in
    the query the list shows the measures in force."""

    q = forms.CharField(label=_("搜索"), required=False, max_length=64)
    status = forms.ChoiceField(
        label=_("状态"), choices=[*EVERYTHING, *Measure.Status.choices], required=False
    )
    type = forms.ChoiceField(
        label=_("管控措施"), choices=[*EVERYTHING, *MeasureType.choices], required=False
    )
    category = forms.ChoiceField(
        label=_("人员类别"), choices=[*EVERYTHING, *Category.choices], required=False
    )
    region = forms.ModelChoiceField(
        label=_("街道/社区"), queryset=Region.objects.none(), required=False, empty_label=_("全部")
    )
    facility = forms.ModelChoiceField(
        label=_("隔离场所"), queryset=Facility.objects.none(), required=False, empty_label=_("全部")
    )
    due_by = forms.DateField(
        label=_("计划解除不晚于"),
        required=False,
        widget=DATE_WIDGET,
        error_messages={"invalid": _("请输入有效的日期。")},
    )

    def __init__(self, data=None, *, user, **kwargs):
        if data is not None and "status" not in data:
            data = data.copy()
            data["status"] = Measure.Status.ACTIVE
        super().__init__(data, **kwargs)
        self.user = user
        self.fields["region"].queryset = Region.objects.visible_to(user).filter(
            level__in=(Region.Level.TOWNSHIP, Region.Level.VILLAGE)
        )
        self.fields["region"].label_from_instance = lambda region: region.full_name
        self.fields["facility"].queryset = Facility.objects.visible_to(user)

    def measures(self, today: date):
        """Measures the user may see, narrowed by the valid filters, with what a row shows:
        `checks_today` (readings on that day) and `abnormal_today`."""
        checks = HealthCheck.objects.filter(measure=OuterRef("pk"), day=today)
        count = checks.order_by().values("measure").annotate(n=Count("pk")).values("n")
        measures = (
            Measure.objects.visible_to(self.user)
            .select_related("person", "facility", "room")
            .annotate(
                checks_today=Coalesce(Subquery(count), 0),
                abnormal_today=Exists(checks.filter(abnormal=True)),
            )
        )
        data = self.cleaned_data if self.is_valid() else {}
        for name in ("status", "type", "category", "facility"):
            if value := data.get(name):
                measures = measures.filter(**{name: value})
        if region := data.get("region"):
            measures = measures.filter(region__path__startswith=region.path)
        if due_by := data.get("due_by"):
            measures = measures.filter(planned_end__lte=due_by)
        if query := data.get("q"):
            # Measures are already scoped; the search only names the persons.
            measures = measures.filter(person__in=Person.objects.search(query).values("pk"))
        return measures

    def applied(self) -> dict[str, str]:
        if not self.is_valid():
            return {}
        return {k: str(v) for k, v in self.cleaned_data.items() if v}


class RoomChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, room: Room) -> str:
        if room.kind == Room.Kind.FAMILY:
            return str(
                _("%(number)s（%(floor)s层，家庭间，余%(free)s床）")
                % {"number": room.number, "floor": room.floor, "free": room.beds - room.occupants}
            )
        return str(_("%(number)s（%(floor)s层）") % {"number": room.number, "floor": room.floor})


class PlaceUnderControlForm(forms.Form):
    """Placing one person under control. The measure, its length and whether a facility is
    needed come from the policy in force for the category (services.place_under_control)."""

    category = forms.ChoiceField(
        label=_("人员类别"),
        choices=Category.choices,
        error_messages={"required": _("请选择人员类别。"), "invalid_choice": _("人员类别无效。")},
    )
    start_date = forms.DateField(
        label=_("开始日期"),
        widget=DATE_WIDGET,
        error_messages={"required": _("请填写开始日期。"), "invalid": _("请输入有效的日期。")},
    )
    facility = forms.ModelChoiceField(
        label=_("隔离场所"),
        queryset=Facility.objects.none(),
        required=False,
        empty_label=_("（居家措施无需选择）"),
        error_messages={"invalid_choice": _("所选隔离场所不存在、已停用或不在您的管辖范围内。")},
    )
    room = RoomChoiceField(
        label=_("房间"),
        queryset=Room.objects.none(),
        required=False,
        empty_label=_("（自动分配第一间空房）"),
        error_messages={"invalid_choice": _("所选房间已无空床，请重新选择。")},
    )
    address = forms.CharField(
        label=_("管控地址"),
        max_length=255,
        required=False,
        help_text=_("居家措施填写；集中隔离以场所地址为准。"),
    )
    reason = forms.CharField(label=_("管控原因"), max_length=255, required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        facilities = Facility.objects.visible_to(user).filter(active=True)
        self.fields["facility"].queryset = facilities
        # Rooms with a bed left in the chosen facility (the service re-checks under lock).
        facility_id = self["facility"].value()
        self.fields["room"].queryset = (
            Room.objects.filter(
                facility__in=facilities.filter(pk=facility_id),
                status__in=(Room.Status.FREE, Room.Status.OCCUPIED),
                occupants__lt=F("beds"),
            )
            if str(facility_id or "").isdigit()
            else Room.objects.none()
        )

    def policy(self) -> Policy | None:
        """The policy in force for the chosen category and start date, for display."""
        category, start = self["category"].value(), self["start_date"].value()
        try:
            start = forms.DateField().clean(start)
        except ValidationError:
            return None
        return Policy.objects.in_force(category, start) if category else None

    def details(self) -> dict:
        """Keyword arguments of services.place_under_control (without person and contact)."""
        return dict(self.cleaned_data)


class MeasureTestResultForm(forms.Form):
    """The result of a test of the course, entered on the measure until the lab records it."""

    result = forms.ChoiceField(
        label=_("结果"),
        # No default: a result is chosen, never assumed.
        choices=[("", "—"), *MeasureTest.Result.choices],
        error_messages={"required": _("请选择检测结果。"), "invalid_choice": _("检测结果无效。")},
    )
    sampled_at = forms.DateTimeField(
        label=_("采样时间"),
        widget=DATETIME_WIDGET,
        error_messages={"required": _("请填写采样时间。"), "invalid": _("请输入有效的时间。")},
    )

    def clean_sampled_at(self):
        sampled_at = self.cleaned_data["sampled_at"]
        if sampled_at > timezone.now() + CLOCK_SKEW:
            raise ValidationError(_("采样时间不能晚于当前时间。"), code="future")
        return sampled_at


class EndMeasureForm(forms.Form):
    """Ending a measure otherwise than by release."""

    status = forms.ChoiceField(
        label=_("结束方式"),
        choices=[
            (status, status.label)
            for status in (
                Measure.Status.HOSPITAL,
                Measure.Status.TRANSFERRED,
                Measure.Status.ABSCONDED,
            )
        ],
        error_messages={"required": _("请选择结束方式。"), "invalid_choice": _("结束方式无效。")},
    )
    note = forms.CharField(
        label=_("说明"),
        max_length=255,
        required=False,
        help_text=_("转外地管控时注明转往何地。"),
    )
