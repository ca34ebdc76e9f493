from django import forms
from django.utils.translation import gettext_lazy as _

from fangyi.cases.models import CaseReport
from fangyi.core.forms import EVERYTHING
from fangyi.diseases.models import Classification, Disease
from fangyi.geo.models import Region


class CaseFilterForm(forms.Form):
    """Filters of the case list; the page, its export and the API share them."""

    q = forms.CharField(label=_("患者"), required=False, max_length=64)
    disease = forms.ModelChoiceField(
        label=_("病种"),
        queryset=Disease.objects.all(),
        required=False,
        to_field_name="code",
        empty_label=_("全部"),
    )
    classification = forms.ChoiceField(
        label=_("病例分类"), choices=EVERYTHING + Classification.choices, required=False
    )
    status = forms.ChoiceField(
        label=_("状态"), choices=EVERYTHING + CaseReport.Status.choices, required=False
    )
    diagnosed_from = forms.DateField(
        label=_("诊断日期自"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    diagnosed_to = forms.DateField(
        label=_("至"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    region = forms.ModelChoiceField(
        label=_("区划"), queryset=Region.objects.none(), required=False, empty_label=_("全部")
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["region"].queryset = Region.objects.visible_to(user).exclude(
            level=Region.Level.BUILDING
        )
        self.fields["region"].label_from_instance = lambda region: region.full_name

    def cases(self):
        """Cards the user may see (deleted ones only when asked for), narrowed by filters."""
        cases = CaseReport.objects.visible_to(self.user).select_related(
            "person", "disease", "region", "reporting_organisation"
        )
        data = self.cleaned_data if self.is_valid() else {}
        # Deleted cards only when asked for by status.
        cases = cases.filter(status=status) if (status := data.get("status")) else cases.alive()
        if disease := data.get("disease"):
            cases = cases.filter(disease__in=[disease, *disease.subtypes.all()])
        if classification := data.get("classification"):
            cases = cases.filter(classification=classification)
        if start := data.get("diagnosed_from"):
            cases = cases.filter(diagnosed_at__date__gte=start)
        if end := data.get("diagnosed_to"):
            cases = cases.filter(diagnosed_at__date__lte=end)
        if region := data.get("region"):
            cases = cases.filter(region__path__startswith=region.path)
        if query := data.get("q"):
            cases = cases.filter(person__in=self.user_persons().search(query))
        return cases

    def user_persons(self):
        from fangyi.people.models import Person

        return Person.objects.visible_to(self.user)

    def applied(self) -> dict[str, str]:
        if not self.is_valid():
            return {}
        return {k: str(v) for k, v in self.cleaned_data.items() if v}
