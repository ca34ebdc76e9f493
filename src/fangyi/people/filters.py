from django import forms
from django.conf import settings
from django.core.paginator import Page
from django.utils.translation import gettext_lazy as _

from fangyi.core.paging import paginate
from fangyi.geo.models import Region
from fangyi.people.models import KeyGroup, Person, PersonQuerySet

# Broad searches stop counting here (core.paging.CappedCountPaginator).
SEARCH_COUNT_CAP = 500


class PersonFilterForm(forms.Form):
    """The filters of the person list; the page, its export and the API share them."""

    q = forms.CharField(label=_("搜索"), required=False, max_length=64)
    region = forms.ModelChoiceField(
        label=_("区划"), queryset=Region.objects.none(), required=False, empty_label=_("全部")
    )
    category = forms.ChoiceField(
        label=_("人口类别"), choices=[("", _("全部"))] + Person.Category.choices, required=False
    )
    key_group = forms.ModelChoiceField(
        label=_("重点人群"),
        queryset=KeyGroup.objects.all(),
        required=False,
        to_field_name="code",
        empty_label=_("全部"),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        regions = Region.objects.visible_to(user).exclude(level=Region.Level.BUILDING)
        self.fields["region"].queryset = regions
        self.fields["region"].label_from_instance = lambda region: region.full_name

    def page(self, request) -> tuple[Page, str]:
        """The requested page of the list (searches count up to SEARCH_COUNT_CAP)."""
        searching = self.is_valid() and bool(self.cleaned_data.get("q"))
        return paginate(
            request,
            self.persons().select_related("grid"),
            settings.PERSON_PAGE_SIZE,
            count_cap=SEARCH_COUNT_CAP if searching else None,
        )

    def persons(self) -> PersonQuerySet:
        """Persons the user may see, narrowed by the valid filters (invalid ones ignored)."""
        persons = Person.objects.visible_to(self.user)
        data = self.cleaned_data if self.is_valid() else {}
        if region := data.get("region"):
            persons = persons.filter(grid__path__startswith=region.path)
        if category := data.get("category"):
            persons = persons.filter(category=category)
        if key_group := data.get("key_group"):
            persons = persons.filter(key_groups=key_group)
        if query := data.get("q"):
            persons = persons.search(query)
        return persons

    def applied(self) -> dict[str, str]:
        """The filters in use, for the export log."""
        return (
            {k: str(v) for k, v in (self.cleaned_data or {}).items() if v}
            if self.is_valid()
            else {}
        )
