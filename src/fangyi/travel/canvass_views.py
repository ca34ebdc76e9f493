"""Pages of door-to-door canvassing (入户排查): the rounds and the launch form, a round's
coverage per community and grid, a grid worker's household list with a quick "visited"
form per household (htmx, built for a phone), and the unvisited households with their
export. Thin: the rules and queries are in `travel.canvass`."""

from django import forms
from django.contrib import messages
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from fangyi.accounts.roles import Capability
from fangyi.core.access import get_visible_or_404, require_capability
from fangyi.core.excel import logged_xlsx_response, refuse_oversized_export
from fangyi.core.forms import DATETIME_WIDGET
from fangyi.core.masking import mask_name
from fangyi.core.models import Duty, Task
from fangyi.core.paging import paginate
from fangyi.core.rules import RuleError, add_rule_error
from fangyi.geo.models import Region
from fangyi.people.models import Household, Person
from fangyi.travel import canvass
from fangyi.travel.models import CanvassRound, HouseholdVisit

ROUND_PAGE_SIZE = 20
UNVISITED_PAGE_SIZE = 50


# Forms ------------------------------------------------------------------------------------


class LaunchRoundForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("名称"), max_length=128)
    region = forms.ModelChoiceField(label=gettext_lazy("排查范围"), queryset=Region.objects.none())
    deadline = forms.DateTimeField(label=gettext_lazy("完成时限"), widget=DATETIME_WIDGET)
    instructions = forms.CharField(
        label=gettext_lazy("排查要求"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["region"]
        field.queryset = Region.objects.visible_to(user).filter(level__in=canvass.ROUND_LEVELS)
        field.label_from_instance = lambda region: region.full_name or region.name


class VisitForm(forms.Form):
    visited_on = forms.DateField(
        label=gettext_lazy("排查日期"),
        widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}),
    )
    outcome = forms.ChoiceField(
        label=gettext_lazy("排查结果"), choices=HouseholdVisit.Outcome.choices
    )
    found_persons = forms.TypedMultipleChoiceField(
        label=gettext_lazy("在住人员"),
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    others_found = forms.IntegerField(
        label=gettext_lazy("其他在住人数（非本户登记人员）"), min_value=0, initial=0
    )
    arrivals_found = forms.IntegerField(
        label=gettext_lazy("发现来返人员数"), min_value=0, initial=0
    )
    note = forms.CharField(label=gettext_lazy("备注"), max_length=255, required=False)

    def __init__(self, *args, household: Household, **kwargs):
        kwargs.setdefault("prefix", f"h{household.pk}")
        super().__init__(*args, **kwargs)
        # The members come prefetched with the household list: no query per form.
        self.members = {person.pk: person for person in household.members.all()}
        self.fields["found_persons"].choices = [
            (pk, _member_label(person)) for pk, person in self.members.items()
        ]

    def service_arguments(self) -> dict:
        data = self.cleaned_data
        found = [self.members[pk] for pk in data["found_persons"]]
        return {
            "visited_on": data["visited_on"],
            "outcome": data["outcome"],
            "found_persons": found,
            "people_found": len(found) + data["others_found"],
            "arrivals_found": data["arrivals_found"],
            "note": data["note"],
        }


def _member_label(person: Person) -> str:
    age = person.age()
    details = [str(person.get_sex_display())] + ([_("%(n)s岁") % {"n": age}] if age else [])
    return f"{mask_name(person.name)}（{'，'.join(details)}）"


def _visit_initial(visit: HouseholdVisit | None) -> dict:
    if visit is None:
        return {"visited_on": timezone.localdate(), "outcome": HouseholdVisit.Outcome.VISITED}
    found = list(visit.found_persons.all())
    return {
        "visited_on": visit.visited_on,
        "outcome": visit.outcome,
        "found_persons": [person.pk for person in found],
        "others_found": visit.people_found - len(found),
        "arrivals_found": visit.arrivals_found,
        "note": visit.note,
    }


# Rounds -----------------------------------------------------------------------------------


def _round_or_404(request, pk: int) -> CanvassRound:
    require_capability(request.user, Capability.VIEW_ARRIVALS)
    canvass_round = canvass.rounds_for(request.user).select_related("region").filter(pk=pk)
    if not (found := canvass_round.first()):
        raise Http404
    return found


def canvass_rounds(request):
    """The rounds over or above the user's jurisdiction, and the launch form."""
    require_capability(request.user, Capability.VIEW_ARRIVALS)
    can_launch = request.user.can(Capability.MANAGE_CANVASS)
    form = LaunchRoundForm(request.POST or None, user=request.user) if can_launch else None
    if request.method == "POST":
        if form is None:
            raise Http404
        if form.is_valid():
            try:
                launched = canvass.launch_round(request.user, **form.cleaned_data)
            except RuleError as refused:
                add_rule_error(form, refused)
            else:
                messages.success(request, _("已发起入户排查：%(name)s") % {"name": launched.name})
                return redirect("travel_canvass_round", pk=launched.pk)
    rounds = canvass.rounds_for(request.user).select_related("region").order_by("-started_at")
    page, query = paginate(request, rounds, ROUND_PAGE_SIZE)
    _annotate_progress(request.user, list(page))
    context = {"page": page, "query": query, "form": form, "now": timezone.now()}
    return render(request, "travel/canvass_rounds.html", context)


def _annotate_progress(user, rounds: list[CanvassRound]) -> None:
    """Per round on the page: grids done / total (its tasks) and households visited in the
    user's scope. Two queries for the page."""
    from django.contrib.contenttypes.models import ContentType

    ids = [r.pk for r in rounds]
    grids = {
        row["object_id"]: row
        for row in Task.objects.visible_to(user)
        .filter(
            duty=Duty.CANVASS,
            content_type=ContentType.objects.get_for_model(CanvassRound),
            object_id__in=ids,
        )
        .values("object_id")
        .annotate(total=Count("id"), done=Count("id", filter=Q(status=Task.Status.DONE)))
        .order_by()
    }
    visited = dict(
        HouseholdVisit.objects.visible_to(user)
        .filter(canvass_round__in=ids)
        .values("canvass_round")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("canvass_round", "n")
    )
    for r in rounds:
        row = grids.get(r.pk, {})
        r.grids_total, r.grids_done = row.get("total", 0), row.get("done", 0)
        r.visited = visited.get(r.pk, 0)


def canvass_round(request, pk: int):
    """Coverage per community, each with its grids (drill down), and the progress."""
    found = _round_or_404(request, pk)
    covered = canvass.coverage(found, request.user)
    now = timezone.now()
    context = {
        "round": found,
        "coverage": covered,
        "late": canvass.is_late(found, covered.total, now),
        "past_deadline": now > found.deadline,
        "can_export": request.user.can(Capability.EXPORT_DATA),
    }
    return render(request, "travel/canvass_round.html", context)


# The grid worker's households -------------------------------------------------------------


def _grid_of(request, found: CanvassRound) -> Region | None:
    """The grid asked for (?grid=) or the user's own, inside the round and the user's scope."""
    grid_id = request.GET.get("grid") or (
        request.user.region_id
        if request.user.region and request.user.region.level == Region.Level.GRID
        else None
    )
    if not grid_id:
        return None
    return get_visible_or_404(
        Region,
        request.user,
        pk=grid_id,
        level=Region.Level.GRID,
        path__startswith=found.region.path,
    )


def canvass_households(request, pk: int):
    """A grid's households with their members (masked) and a quick visit form each."""
    found = _round_or_404(request, pk)
    grid = _grid_of(request, found)
    if grid is None:
        grids = Region.objects.visible_to(request.user).filter(
            level=Region.Level.GRID, path__startswith=found.region.path
        )
        return render(request, "travel/canvass_grids.html", {"round": found, "grids": grids})
    households = list(
        Household.objects.visible_to(request.user)
        .filter(grid=grid)
        .prefetch_related("members")
        .order_by("address", "pk")
    )
    visits = canvass.visits_in_round(found, households)
    can_visit = request.user.can(Capability.CANVASS)
    for household in households:
        _card(household, visits.get(household.pk), can_visit)
    context = {
        "round": found,
        "grid": grid,
        "households": households,
        "visited": len(visits),
        "can_register": request.user.can(Capability.REGISTER_ARRIVALS),
    }
    return render(request, "travel/canvass_households.html", context)


def _card(household: Household, visit: HouseholdVisit | None, can_visit: bool, form=None):
    """A household as its card shows it: members masked, its visit, the form."""
    members = list(household.members.all())
    household.member_names = [_member_label(p) for p in members]
    household.visit = visit
    if can_visit:
        household.form = form or VisitForm(household=household, initial=_visit_initial(visit))
    return household


@require_POST
def canvass_visit(request, pk: int, household_pk: int):
    found = _round_or_404(request, pk)
    require_capability(request.user, Capability.CANVASS)
    household = get_visible_or_404(
        Household, request.user, pk=household_pk, grid__path__startswith=found.region.path
    )
    household = Household.objects.prefetch_related("members").get(pk=household.pk)
    form = VisitForm(request.POST, household=household)
    visit = None
    if form.is_valid():
        try:
            visit = canvass.record_visit(
                request.user, household, canvass_round=found, **form.service_arguments()
            )
        except RuleError as refused:
            add_rule_error(form, refused)
    if visit is not None:
        form = None  # a fresh form from the stored visit
    else:
        visit = canvass.visits_in_round(found, [household]).get(household.pk)
    _card(household, visit, True, form)
    if request.headers.get("HX-Request") == "true":
        context = {"round": found, "household": household, "saved": form is None}
        context["can_register"] = request.user.can(Capability.REGISTER_ARRIVALS)
        return render(request, "travel/canvass_household.html", context)
    if form is not None:
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
    else:
        messages.success(request, _("已记录入户排查：%(address)s") % {"address": household.address})
    url = reverse("travel_canvass_households", args=[found.pk])
    return redirect(f"{url}?grid={household.grid_id}#household-{household.pk}")


# Unvisited households ---------------------------------------------------------------------

UNVISITED_COLUMNS = [
    gettext_lazy("网格"),
    gettext_lazy("户编号"),
    gettext_lazy("住址"),
    gettext_lazy("登记人数"),
    gettext_lazy("家庭成员"),
]


def canvass_unvisited(request, pk: int):
    found = _round_or_404(request, pk)
    grid_id = request.GET.get("grid")
    grid = None
    if grid_id:
        grid = get_visible_or_404(Region, request.user, pk=grid_id, level=Region.Level.GRID)
    households = canvass.unvisited_households(found, request.user, grid)
    if request.GET.get("format") == "xlsx":
        return _unvisited_export(request, found, households, grid)
    page, query = paginate(request, households, UNVISITED_PAGE_SIZE)
    names = canvass.masked_members(list(page))
    for household in page:
        household.member_names = names.get(household.pk, [])
    context = {
        "round": found,
        "grid": grid,
        "grids": Region.objects.visible_to(request.user).filter(
            level=Region.Level.GRID, path__startswith=found.region.path
        ),
        "page": page,
        "query": query,
        "can_export": request.user.can(Capability.EXPORT_DATA),
    }
    return render(request, "travel/canvass_unvisited.html", context)


def _unvisited_export(request, found: CanvassRound, households, grid: Region | None):
    require_capability(request.user, Capability.EXPORT_DATA)
    list_url = reverse("travel_canvass_unvisited", args=[found.pk])
    if refused := refuse_oversized_export(request, households, list_url):
        return refused
    households = list(households)
    names = canvass.masked_members(households)
    rows = [
        [
            h.grid.full_name,
            h.code,
            h.address,
            h.members_count,
            "、".join(names.get(h.pk, [])),
        ]
        for h in households
    ]
    return logged_xlsx_response(
        request,
        _("%(round)s 未排查户") % {"round": found.name},
        UNVISITED_COLUMNS,
        rows,
        filename="unvisited-households.xlsx",
        filters={"round": found.pk, "grid": grid.pk if grid else ""},
    )


urlpatterns = [
    path("canvass/", canvass_rounds, name="travel_canvass_rounds"),
    path("canvass/<int:pk>/", canvass_round, name="travel_canvass_round"),
    path("canvass/<int:pk>/households/", canvass_households, name="travel_canvass_households"),
    path(
        "canvass/<int:pk>/households/<int:household_pk>/visit/",
        canvass_visit,
        name="travel_canvass_visit",
    ),
    path("canvass/<int:pk>/unvisited/", canvass_unvisited, name="travel_canvass_unvisited"),
]
