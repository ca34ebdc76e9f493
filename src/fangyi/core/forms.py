"""Form pieces every module's forms share."""

from datetime import timedelta

from django import forms
from django.utils.translation import gettext_lazy as _

# The empty choice of a list filter.
EVERYTHING = [("", _("全部"))]
# A local date, and a local date and time, as the browser's pickers send them.
DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
DATETIME_WIDGET = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
# A phone number: the phone's numeric keypad.
TEL_WIDGET = forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel"})
# Clocks of phones, tills and lab systems drift: a time a few minutes "in the future" is fine.
CLOCK_SKEW = timedelta(minutes=10)
DATE_ERRORS = {"required": _("请填写日期。"), "invalid": _("请输入有效的日期，如 2022-03-01。")}


def date_field(label, required: bool = True, **kwargs) -> forms.DateField:
    """A local date from the browser's picker, with the errors in Chinese."""
    return forms.DateField(
        label=label, required=required, widget=DATE_WIDGET, error_messages=DATE_ERRORS, **kwargs
    )
