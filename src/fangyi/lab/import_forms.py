"""Forms of the result import (the file, then its columns) and of the turnaround pages."""

from datetime import timedelta

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fangyi.core.forms import DATE_WIDGET, EVERYTHING
from fangyi.geo.models import Organisation
from fangyi.lab.imports import FIELDS, GENES, REQUIRED
from fangyi.lab.models import Purpose

# Longest period of the turnaround page: its figures come from the tubes of the period.
MAX_PERIOD_DAYS = 92
DEFAULT_PERIOD_DAYS = 7


class ResultFileForm(forms.Form):
    file = forms.FileField(
        label=_("结果文件"),
        help_text=_("实验室系统导出的 .xlsx 或 .csv 文件，第一行为列名。"),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.xlsx"}),
    )


def lab_of(user) -> Organisation | None:
    """The lab the user works in: results are imported and posted in its name."""
    organisation = getattr(user, "organisation", None)
    if organisation is not None and organisation.type == Organisation.Type.LAB:
        return organisation
    return None


def mapping_field_name(key: str) -> str:
    """Form field of a mapping key ("ct:ORF1ab" → "ct_ORF1ab": a colon is no HTML id)."""
    return key.replace(":", "_")


def mapping_keys() -> list[str]:
    return [*FIELDS, *(f"ct:{gene}" for gene in GENES)]


class ColumnMappingForm(forms.Form):
    """Which heading of the file holds each field: a select per field listing the headings."""

    def __init__(self, *args, headings: list[str], mapping: dict | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        choices = [("", _("（不导入）")), *((text, text) for text in headings)]
        mapping = mapping or {}
        for key in mapping_keys():
            label = FIELDS[key] if key in FIELDS else _("%(gene)s 基因 Ct 值") % {"gene": key[3:]}
            self.fields[mapping_field_name(key)] = forms.ChoiceField(
                label=label,
                choices=choices,
                required=key in REQUIRED,
                initial=mapping.get(key, ""),
            )

    def clean(self):
        cleaned = super().clean()
        seen: dict[str, str] = {}
        for key in mapping_keys():
            name = mapping_field_name(key)
            text = cleaned.get(name)
            if not text:
                continue
            if text in seen:
                self.add_error(
                    name,
                    _("“%(heading)s”已对应“%(field)s”，一列只能对应一个字段。")
                    % {"heading": text, "field": self.fields[seen[text]].label},
                )
            else:
                seen[text] = name
        return cleaned

    def mapping(self) -> dict:
        """Field key → heading, for `imports.import_file` (unmapped fields left out)."""
        return {
            key: self.cleaned_data[mapping_field_name(key)]
            for key in mapping_keys()
            if self.cleaned_data.get(mapping_field_name(key))
        }


def lab_field() -> forms.ModelChoiceField:
    return forms.ModelChoiceField(
        label=_("实验室"),
        queryset=Organisation.objects.filter(type=Organisation.Type.LAB).order_by("name"),
        required=False,
        empty_label=EVERYTHING[0][1],
    )


class TurnaroundFilterForm(forms.Form):
    start = forms.DateField(label=_("结果日期自"), required=False, widget=DATE_WIDGET)
    end = forms.DateField(label=_("至"), required=False, widget=DATE_WIDGET)
    lab = lab_field()

    def clean(self):
        cleaned = super().clean()
        today = timezone.localdate()
        end = cleaned.get("end") or today
        start = cleaned.get("start") or end - timedelta(days=DEFAULT_PERIOD_DAYS - 1)
        if end < start:
            self.add_error("end", _("结束日期不能早于开始日期。"))
        elif (end - start).days >= MAX_PERIOD_DAYS:
            self.add_error("start", _("一次最多查看 %(days)d 天。") % {"days": MAX_PERIOD_DAYS})
        cleaned["start"], cleaned["end"] = start, end
        return cleaned

    def period(self) -> tuple:
        """(start, end, lab): the chosen period, or the last 7 days when it is not valid."""
        if self.is_valid():
            data = self.cleaned_data
            return data["start"], data["end"], data["lab"]
        today = timezone.localdate()
        return today - timedelta(days=DEFAULT_PERIOD_DAYS - 1), today, None

    def applied(self) -> dict:
        start, end, lab = self.period()
        return {"start": str(start), "end": str(end), "lab": lab.pk if lab else None}


class WaitingFilterForm(forms.Form):
    lab = lab_field()
    purpose = forms.ChoiceField(
        label=_("检测目的"), required=False, choices=[*EVERYTHING, *Purpose.choices]
    )

    def filters(self) -> dict:
        """Keyword arguments of `tat.waiting` (nothing filtered when the choice is not valid)."""
        if not self.is_valid():
            return {}
        return {
            "lab": self.cleaned_data["lab"],
            "purpose": self.cleaned_data["purpose"],
        }

    def applied(self) -> dict:
        filters = self.filters()
        return {
            "lab": filters["lab"].pk if filters.get("lab") else None,
            "purpose": filters.get("purpose", ""),
        }
