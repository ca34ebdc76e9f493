"""Form pieces every module's forms share."""

from django import forms
from django.utils.translation import gettext_lazy as _

# The empty choice of a list filter.
EVERYTHING = [("", _("全部"))]
# A local date, and a local date and time, as the browser's pickers send them.
DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
DATETIME_WIDGET = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
