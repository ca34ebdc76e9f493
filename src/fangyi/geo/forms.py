from django import forms
from django.core.exceptions import ValidationError

from fangyi.geo.models import Region


class RegionChoiceField(forms.ModelChoiceField):
    """A region by its full name ("青石镇 柳溪村 第1网格"), or its own name where the page
    concerns one community (`short`). With `known` (code or id as text → region), a file's
    rows are checked against regions loaded once, not one query per row."""

    def __init__(self, *args, short: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.short = short
        self.known: dict[str, Region] | None = None

    def label_from_instance(self, region: Region) -> str:
        return region.name if self.short else (region.full_name or region.name)

    def to_python(self, value):
        if self.known is None or value in self.empty_values:
            return super().to_python(value)
        if str(value) not in self.known:
            raise ValidationError(self.error_messages["invalid_choice"], code="invalid_choice")
        return self.known[str(value)]
