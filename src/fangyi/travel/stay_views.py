"""A person's travel history (旅居史): the stays recorded for them, the risk areas those
stays match today, and a form for the grid to add a stay it found."""

from django import forms
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from fangyi.accounts.roles import Capability
from fangyi.core.access import get_visible_or_404, require_capability
from fangyi.core.forms import DATE_WIDGET
from fangyi.core.rules import RuleError, add_rule_error
from fangyi.people.models import Person
from fangyi.travel import matching, services
from fangyi.travel.addresses import name_of
from fangyi.travel.area_views import can_handle_flags
from fangyi.travel.models import Stay


class StayForm(forms.Form):
    address = forms.CharField(
        label=gettext_lazy("地点"),
        max_length=255,
        help_text=gettext_lazy("写明省、市、区县，如：湖北省武汉市江汉区花楼街道"),
    )
    from_date = forms.DateField(label=gettext_lazy("起始日期"), widget=DATE_WIDGET)
    to_date = forms.DateField(label=gettext_lazy("结束日期"), widget=DATE_WIDGET)


def person_stays(request, pk: int):
    require_capability(request.user, Capability.VIEW_ARRIVALS)
    person = get_visible_or_404(Person, request.user, pk=pk)
    form = StayForm(request.POST or None)
    if request.method == "POST":
        if not can_handle_flags(request.user):
            raise Http404  # the same answer as a record out of scope
        if form.is_valid():
            try:
                _stay, found = services.record_stay(
                    request.user, person, source=Stay.Source.GRID, **form.cleaned_data
                )
            except RuleError as error:
                add_rule_error(form, error)
            else:
                if found:
                    messages.warning(
                        request,
                        _("已登记。该人员旅居史匹配%(level)s地区，请核实并登记来返、落实管控。")
                        % {"level": found[0].area.get_level_display()},
                    )
                else:
                    messages.success(request, _("已登记，未匹配风险地区。"))
                return redirect("travel_person_stays", pk=person.pk)
    stays = list(person.stays.order_by("-to_date"))
    for stay in stays:
        stay.region_name = name_of(stay.adcode) if stay.adcode else ""
    context = {
        "person": person,
        "stays": stays,
        "matches": matching.matches_of(person.pk, timezone.localdate()),
        "flags": person.risk_flags.select_related("area").order_by("-flagged_at"),
        "form": form if can_handle_flags(request.user) else None,
    }
    return render(request, "travel/person_stays.html", context)


urlpatterns = [
    path("persons/<int:pk>/stays/", person_stays, name="travel_person_stays"),
]
