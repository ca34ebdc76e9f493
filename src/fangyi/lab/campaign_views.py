"""Pages of mass screening (全员核酸) and testing regimens (应检尽检): campaigns with their
rounds and collection sites, a round's live coverage dashboard, the grid worker's list of
people not yet tested (不漏一人) and the key groups' overdue lists. Thin: the rules are in
services, the queries in coverage, the inputs in campaign_forms."""

from datetime import timedelta

from django.contrib import messages
from django.db.models import Count
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from fangyi.accounts.roles import Capability
from fangyi.core.access import get_visible_or_404, require_capability
from fangyi.core.excel import logged_xlsx_response, refuse_oversized_export
from fangyi.core.masking import mask_name
from fangyi.core.paging import paginate
from fangyi.core.rules import add_rule_error
from fangyi.geo.models import Region
from fangyi.lab import coverage, services
from fangyi.lab.campaign_forms import (
    CampaignForm,
    ExemptForm,
    RoundForm,
    SiteForm,
    WorkplaceFilterForm,
)
from fangyi.lab.models import Campaign, CollectionSite, Regimen, ScreeningTarget
from fangyi.lab.services import LabRuleError

CAMPAIGN_PAGE_SIZE = 50
UNTESTED_PAGE_SIZE = 50
OVERDUE_PAGE_SIZE = 50
# How often the coverage dashboard refreshes itself (seconds).
REFRESH_SECONDS = 30


# Campaigns --------------------------------------------------------------------------------


def campaign_list(request):
    require_capability(request.user, Capability.VIEW_LAB)
    campaigns = (
        coverage.campaigns_for(request.user)
        .select_related("region")
        .annotate(round_count=Count("rounds"))
        .order_by("-start_date", "-id")
    )
    page, query = paginate(request, campaigns, CAMPAIGN_PAGE_SIZE)
    context = {
        "page": page,
        "query": query,
        "can_create": request.user.can(Capability.MANAGE_SCREENING),
    }
    return render(request, "lab/campaign_list.html", context)


def campaign_create(request):
    require_capability(request.user, Capability.MANAGE_SCREENING)
    today = timezone.localdate()
    form = CampaignForm(
        request.POST or None,
        user=request.user,
        initial={"start_date": today, "end_date": today + timedelta(days=2)},
    )
    if request.method == "POST" and form.is_valid():
        try:
            campaign = services.create_campaign(request.user, **form.cleaned_data)
        except LabRuleError as refused:
            add_rule_error(form, refused)
        else:
            messages.success(request, _("已创建全员核酸筛查：%(name)s") % {"name": campaign.name})
            return redirect(campaign)
    return render(request, "lab/campaign_form.html", {"form": form})


def campaign_detail(request, pk: int):
    require_capability(request.user, Capability.VIEW_LAB)
    return _campaign_page(request, coverage.campaign_or_404(request.user, pk))


def _campaign_page(request, campaign: Campaign, round_form: RoundForm | None = None):
    user = request.user
    can_manage = coverage.can_manage(user, campaign)
    if can_manage and round_form is None:
        last = campaign.rounds.order_by("-number").first()
        start = last.end_date + timedelta(days=1) if last else campaign.start_date
        round_form = RoundForm(initial={"start_date": start, "end_date": start})
    sites = list(coverage.sites_for(user, campaign))
    visible_sites = set(
        CollectionSite.objects.visible_to(user)
        .filter(campaign=campaign)
        .values_list("pk", flat=True)
    )
    can_screen = user.can(Capability.MANAGE_SCREENING)
    for site in sites:
        site.editable = can_screen and site.pk in visible_sites
    context = {
        "campaign": campaign,
        "rounds": list(campaign.rounds.order_by("-number")),
        "sites": sites,
        "round_form": round_form if can_manage else None,
        "can_add_site": can_screen
        and Region.objects.visible_to(user)
        .filter(level=Region.Level.VILLAGE, path__startswith=campaign.region.path)
        .exists(),
    }
    return render(request, "lab/campaign_detail.html", context)


@require_POST
def round_open(request, pk: int):
    require_capability(request.user, Capability.MANAGE_SCREENING)
    campaign = get_visible_or_404(Campaign, request.user, pk=pk)
    form = RoundForm(request.POST)
    if form.is_valid():
        try:
            round_ = services.open_round(request.user, campaign, **form.cleaned_data)
        except LabRuleError as refused:
            add_rule_error(form, refused)
        else:
            messages.success(
                request,
                _("已开启第%(number)s轮，应检%(expected)s人。")
                % {"number": round_.number, "expected": round_.expected},
            )
            return redirect("lab_round", pk=round_.pk)
    return _campaign_page(request, campaign, form)


# Collection sites -------------------------------------------------------------------------


def site_create(request, pk: int):
    require_capability(request.user, Capability.MANAGE_SCREENING)
    campaign = coverage.campaign_or_404(request.user, pk)
    form = SiteForm(request.POST or None, user=request.user, campaign=campaign)
    return _site_page(request, form, campaign)


def site_edit(request, pk: int):
    require_capability(request.user, Capability.MANAGE_SCREENING)
    site = get_visible_or_404(CollectionSite, request.user, pk=pk)
    campaign = site.campaign
    form = SiteForm(request.POST or None, user=request.user, campaign=campaign, site=site)
    return _site_page(request, form, campaign)


def _site_page(request, form: SiteForm, campaign: Campaign):
    if request.method == "POST" and form.is_valid():
        site = form.save(request.user)
        messages.success(request, _("已保存采样点：%(name)s") % {"name": site.name})
        return redirect(reverse("lab_campaign", args=[campaign.pk]) + f"#site-{site.pk}")
    return render(request, "lab/site_form.html", {"form": form, "campaign": campaign})


def site_grids(request, pk: int):
    """The grid choices of the community picked on the site form (htmx)."""
    require_capability(request.user, Capability.MANAGE_SCREENING)
    campaign = coverage.campaign_or_404(request.user, pk)
    form = SiteForm(user=request.user, campaign=campaign, initial=request.GET.dict())
    return render(request, "lab/site_grids.html", {"field": form["grids"]})


# A round's coverage -----------------------------------------------------------------------


def round_dashboard(request, pk: int):
    require_capability(request.user, Capability.VIEW_LAB)
    round_ = coverage.round_or_404(request.user, pk)
    figures = coverage.round_figures(round_, request.user)
    context = {
        "round": round_,
        "figures": figures,
        "data": figures.as_json(),
        "refresh": REFRESH_SECONDS,
    }
    if request.headers.get("HX-Target") == "round-figures":
        return render(request, "lab/round_figures.html", context)
    return render(request, "lab/round_dashboard.html", context)


def round_data(request, pk: int):
    """The dashboard's figures as JSON (for big screens and other clients)."""
    require_capability(request.user, Capability.VIEW_LAB)
    round_ = coverage.round_or_404(request.user, pk)
    return JsonResponse(coverage.round_figures(round_, request.user).as_json())


def _untested_grid(request) -> Region | None:
    """The grid asked for (?grid=), which must be in the user's jurisdiction."""
    grid_id = request.GET.get("grid")
    if not grid_id:
        return None
    return get_visible_or_404(Region, request.user, pk=grid_id, level=Region.Level.GRID)


def round_untested(request, pk: int):
    require_capability(request.user, Capability.VIEW_LAB)
    user = request.user
    round_ = coverage.round_or_404(user, pk)
    grid = _untested_grid(request)
    page, query = paginate(
        request, coverage.untested(round_, user, grid.pk if grid else None), UNTESTED_PAGE_SIZE
    )
    can_exempt = coverage.can_exempt(user)
    for target in page:
        _row(target, ExemptForm(target=target) if can_exempt else None)
    context = {
        "round": round_,
        "grid": grid,
        "grids": Region.objects.visible_to(user).filter(
            level=Region.Level.GRID, path__startswith=round_.campaign.region.path
        ),
        "page": page,
        "query": query,
        "can_export": user.can(Capability.EXPORT_DATA),
        "can_view_persons": user.can(Capability.VIEW_PERSONS),
    }
    return render(request, "lab/round_untested.html", context)


def _row(target: ScreeningTarget, form: ExemptForm | None) -> ScreeningTarget:
    """A row of the untested list: the name masked, and the exemption form if allowed."""
    target.masked_name = mask_name(target.person.name)
    target.form = form
    return target


UNTESTED_EXPORT_COLUMNS = [
    gettext_lazy("网格"),
    gettext_lazy("姓名"),
    gettext_lazy("性别"),
    gettext_lazy("联系电话"),
    gettext_lazy("现住址"),
    gettext_lazy("户编号"),
]


def round_untested_export(request, pk: int):
    require_capability(request.user, Capability.EXPORT_DATA)
    require_capability(request.user, Capability.VIEW_LAB)
    round_ = coverage.round_or_404(request.user, pk)
    grid = _untested_grid(request)
    targets = coverage.untested(round_, request.user, grid.pk if grid else None)
    list_url = reverse("lab_round_untested", args=[round_.pk])
    if refused := refuse_oversized_export(request, targets, list_url):
        return refused
    rows = [
        [
            t.grid.full_name,
            mask_name(t.person.name),
            t.person.get_sex_display(),
            t.person.phone_masked,
            t.person.address,
            t.person.household.code if t.person.household_id else "",
        ]
        for t in targets.iterator(chunk_size=2000)
    ]
    title = _("%(round)s 未检人员") % {"round": round_}
    return logged_xlsx_response(
        request,
        title,
        UNTESTED_EXPORT_COLUMNS,
        rows,
        filename="untested.xlsx",
        filters={"round": round_.pk, "grid": grid.pk if grid else ""},
    )


@require_POST
def target_exempt(request, pk: int):
    if not coverage.can_exempt(request.user):
        raise Http404
    target = get_visible_or_404(ScreeningTarget, request.user, pk=pk)
    form = ExemptForm(request.POST, target=target)
    if form.is_valid():
        try:
            services.exempt(request.user, target, **form.cleaned_data)
        except LabRuleError as refused:
            add_rule_error(form, refused)
    if request.headers.get("HX-Request"):
        _row(target, form)
        context = {"target": target, "can_view_persons": request.user.can(Capability.VIEW_PERSONS)}
        return render(request, "lab/round_untested_row.html", context)
    if form.errors:
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
    else:
        messages.success(
            request,
            _("%(name)s 已免检：%(reason)s")
            % {"name": mask_name(target.person.name), "reason": target.get_exempt_reason_display()},
        )
    return redirect(
        f"{reverse('lab_round_untested', args=[target.round_id])}?grid={target.grid_id}"
    )


# Regimens ---------------------------------------------------------------------------------


def regimen_list(request):
    require_capability(request.user, Capability.VIEW_LAB)
    counts = services.overdue_counts(request.user)
    regimens = list(Regimen.objects.filter(active=True).select_related("key_group"))
    for regimen in regimens:
        regimen.overdue_count = counts.get(regimen.pk, 0)
        regimen.population = coverage.population_label(regimen)
    return render(request, "lab/regimen_list.html", {"regimens": regimens})


def _overdue(request, regimen: Regimen):
    """The overdue persons in scope, of the chosen workplace if any, and the filter."""
    overdue = services.overdue(regimen, request.user)
    filters = WorkplaceFilterForm(request.GET, workplaces=coverage.overdue_workplaces(overdue))
    workplace = filters.chosen()
    if workplace is not None:
        overdue = overdue.filter(workplace=workplace)
    return overdue, filters


def regimen_detail(request, pk: int):
    require_capability(request.user, Capability.VIEW_LAB)
    regimen = get_object_or_404(Regimen.objects.select_related("key_group"), pk=pk)
    overdue, filters = _overdue(request, regimen)
    page, query = paginate(request, overdue, OVERDUE_PAGE_SIZE)
    today = timezone.localdate()
    for person in page:
        person.masked_name = mask_name(person.name)
        person.days_overdue = coverage.days_overdue(regimen, person.last_tested, today)
    context = {
        "regimen": regimen,
        "population": coverage.population_label(regimen),
        "filters": filters,
        "page": page,
        "query": query,
        "can_export": request.user.can(Capability.EXPORT_DATA),
        "can_view_persons": request.user.can(Capability.VIEW_PERSONS),
    }
    return render(request, "lab/regimen_detail.html", context)


OVERDUE_EXPORT_COLUMNS = [
    gettext_lazy("姓名"),
    gettext_lazy("联系电话"),
    gettext_lazy("工作单位"),
    gettext_lazy("网格"),
    gettext_lazy("最近检测"),
    gettext_lazy("逾期天数"),
]


def regimen_export(request, pk: int):
    require_capability(request.user, Capability.EXPORT_DATA)
    require_capability(request.user, Capability.VIEW_LAB)
    regimen = get_object_or_404(Regimen, pk=pk)
    overdue, filters = _overdue(request, regimen)
    if refused := refuse_oversized_export(request, overdue, reverse("lab_regimen", args=[pk])):
        return refused
    today = timezone.localdate()
    never = _("从未检测")
    rows = [
        [
            mask_name(p.name),
            p.phone_masked,
            p.workplace,
            p.grid.full_name,
            timezone.localtime(p.last_tested).strftime("%Y-%m-%d %H:%M")
            if p.last_tested
            else never,
            coverage.days_overdue(regimen, p.last_tested, today),
        ]
        for p in overdue.iterator(chunk_size=2000)
    ]
    title = _("%(regimen)s 逾期未检人员") % {"regimen": regimen.name}
    return logged_xlsx_response(
        request,
        title,
        OVERDUE_EXPORT_COLUMNS,
        rows,
        filename="overdue.xlsx",
        filters={"regimen": regimen.pk, "workplace": filters.chosen() or ""},
    )


urlpatterns = [
    path("campaigns/", campaign_list, name="lab_campaigns"),
    path("campaigns/new/", campaign_create, name="lab_campaign_create"),
    path("campaigns/<int:pk>/", campaign_detail, name="lab_campaign"),
    path("campaigns/<int:pk>/rounds/", round_open, name="lab_round_open"),
    path("campaigns/<int:pk>/sites/new/", site_create, name="lab_site_create"),
    path("campaigns/<int:pk>/sites/grids/", site_grids, name="lab_site_grids"),
    path("sites/<int:pk>/edit/", site_edit, name="lab_site_edit"),
    path("rounds/<int:pk>/", round_dashboard, name="lab_round"),
    path("rounds/<int:pk>/data/", round_data, name="lab_round_data"),
    path("rounds/<int:pk>/untested/", round_untested, name="lab_round_untested"),
    path(
        "rounds/<int:pk>/untested/export.xlsx",
        round_untested_export,
        name="lab_round_untested_export",
    ),
    path("targets/<int:pk>/exempt/", target_exempt, name="lab_target_exempt"),
    path("regimens/", regimen_list, name="lab_regimens"),
    path("regimens/<int:pk>/", regimen_detail, name="lab_regimen"),
    path("regimens/<int:pk>/export.xlsx", regimen_export, name="lab_regimen_export"),
]
