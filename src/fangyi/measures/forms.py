from datetime import timedelta
from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fangyi.measures.models import Measure, Symptom
from fangyi.measures.services import CheckEntry

DATETIME_WIDGET = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
# Clocks of phones and scanners drift; a reading a few minutes "in the future" is fine.
CLOCK_SKEW = timedelta(minutes=10)


class HealthCheckForm(forms.Form):
    """One reading for one measure: the one validation for the pages, the API and the
    person's phone link."""

    temperature = forms.DecimalField(
        label=_("体温（℃）"),
        max_digits=3,
        decimal_places=1,
        min_value=Decimal("35.0"),
        max_value=Decimal("42.0"),
        error_messages={
            "min_value": _("体温须在35.0–42.0℃之间，请复测。"),
            "max_value": _("体温须在35.0–42.0℃之间，请复测。"),
            "invalid": _("请输入体温数值，如 36.5。"),
            "required": _("请填写体温。"),
            "max_digits": _("体温须在35.0–42.0℃之间，请复测。"),
            "max_decimal_places": _("体温保留一位小数，如 36.5。"),
            "max_whole_digits": _("体温须在35.0–42.0℃之间，请复测。"),
        },
        widget=forms.NumberInput(attrs={"step": "0.1", "inputmode": "decimal"}),
    )
    symptoms = forms.MultipleChoiceField(
        label=_("症状"),
        choices=Symptom.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"invalid_choice": _("未知的症状：%(value)s。")},
    )
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
