"""Pages of risk areas: the areas in force (on any day), publishing a list (notice text or
file → preview → confirm), a list's outcome, "was this address in a risk area on that day",
the grids' flags to verify with their export, and the public page of the areas in force.

Between preview and confirm the lines read from the text or file wait in the session (as
read, not as resolved); confirming publishes them through `matching.publish`, which
resolves and checks them again, so nothing the browser sends back decides a place."""

import secrets
from datetime import date

from django import forms
from django.conf import settings
from django.contrib import messages
from django.db.models import Case, Count, IntegerField, Q, Value, When
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from fangyi.accounts.roles import Capability
from fangyi.core.access import get_visible_or_404, public, require_capability
from fangyi.core.excel import logged_xlsx_response, refuse_oversized_export
from fangyi.core.forms import DATE_WIDGET
from fangyi.core.masking import mask_name
from fangyi.core.paging import paginate
from fangyi.core.rules import RuleError, add_rule_error
from fangyi.core.tabular import ImportFileError
from fangyi.measures.ratelimit import within_limit
from fangyi.measures.selfcheck import client_address, notice
from fangyi.travel import area_lists, matching
from fangyi.travel.addresses import name_of
from fangyi.travel.matching import AreaEntry
from fangyi.travel.models import LEVEL_RANK, AreaList, AreaScale, RiskArea, RiskFlag, RiskLevel

AREA_PAGE_SIZE = 100
FLAG_PAGE_SIZE = 50
LISTS_SHOWN = 20
PENDING_KEY = "travel_area_list_pending"
# Highest level first wherever areas are listed.
LEVEL_ORDER = Case(
    *(When(level=level, then=Value(-rank)) for level, rank in LEVEL_RANK.items()),
    output_field=IntegerField(),
)


# Forms ------------------------------------------------------------------------------------


class AreaFilterForm(forms.Form):
    on = forms.DateField(label=gettext_lazy("日期"), required=False, widget=DATE_WIDGET)
    level = forms.ChoiceField(
        label=gettext_lazy("风险等级"),
        required=False,
        choices=[("", gettext_lazy("全部")), *RiskLevel.choices],
    )

    def day(self) -> date:
        if self.is_valid() and self.cleaned_data["on"]:
            return self.cleaned_data["on"]
        return timezone.localdate()

    def chosen_level(self) -> str:
        return self.cleaned_data.get("level", "") if self.is_valid() else ""


class PublishForm(forms.Form):
    title = forms.CharField(
        label=gettext_lazy("名称"),
        max_length=200,
        help_text=gettext_lazy("如：湖北省关于调整风险地区的通告（4月20日）"),
    )
    effective_from = forms.DateField(label=gettext_lazy("生效日期"), widget=DATE_WIDGET)
    text = forms.CharField(
        label=gettext_lazy("通告原文"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 12}),
        help_text=gettext_lazy(
            "粘贴通告中的风险地区部分，如“高风险地区（2个）：湖北省武汉市：江汉区花楼街道、"
            "江岸区一元街道”；每个地区也可单独一行并在行末注明等级。"
        ),
    )
    file = forms.FileField(
        label=gettext_lazy("或上传名单文件"),
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.xlsx"}),
        help_text=gettext_lazy(".xlsx 或 .csv，列名：地区、风险等级，可选“操作”（新增或解除）。"),
    )

    def clean(self):
        data = super().clean()
        if not (data.get("text") or "").strip() and not data.get("file"):
            raise forms.ValidationError(_("请粘贴通告原文或上传名单文件。"), code="empty")
        return data


class CheckForm(forms.Form):
    address = forms.CharField(
        label=gettext_lazy("地址"),
        max_length=255,
        widget=forms.TextInput(
            attrs={"placeholder": gettext_lazy("如：湖北省武汉市江汉区花楼街道")}
        ),
    )
    on = forms.DateField(label=gettext_lazy("日期"), required=False, widget=DATE_WIDGET)


class FlagFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=gettext_lazy("状态"),
        required=False,
        choices=[("", gettext_lazy("全部")), *RiskFlag.Status.choices],
    )
    level = forms.ChoiceField(
        label=gettext_lazy("风险等级"),
        required=False,
        choices=[("", gettext_lazy("全部")), *RiskLevel.choices],
    )

    def __init__(self, data, **kwargs):
        data = data.copy()
        data.setdefault("status", RiskFlag.Status.OPEN)  # the page is a to-do list
        super().__init__(data, **kwargs)

    def flags(self, user):
        flags = RiskFlag.objects.visible_to(user)
        if self.is_valid():
            if status := self.cleaned_data["status"]:
                flags = flags.filter(status=status)
            if level := self.cleaned_data["level"]:
                flags = flags.filter(level=level)
        return flags.select_related("person", "area", "stay", "grid").order_by(
            LEVEL_ORDER, "-flagged_at", "-id"
        )

    def applied(self) -> dict:
        return {k: v for k, v in (self.cleaned_data if self.is_valid() else {}).items() if v}


class HandleFlagForm(forms.Form):
    status = forms.ChoiceField(
        label=gettext_lazy("核查结果"),
        choices=[c for c in RiskFlag.Status.choices if c[0] != RiskFlag.Status.OPEN],
    )
    note = forms.CharField(label=gettext_lazy("核查情况"), max_length=255, required=False)


# Areas in force ---------------------------------------------------------------------------


def with_region_names(areas):
    for area in areas:
        area.region_name = name_of(area.adcode)
    return areas


def risk_areas(request):
    """The areas in force on a day (today by default: history answers for any past day),
    and the lists published."""
    require_capability(request.user, Capability.VIEW_ARRIVALS)
    filters = AreaFilterForm(request.GET)
    day = filters.day()
    in_force = RiskArea.objects.on(day)
    counts = dict(in_force.order_by().values_list("level").annotate(n=Count("id")))
    if level := filters.chosen_level():
        in_force = in_force.filter(level=level)
    page, query = paginate(
        request, in_force.select_related("area_list").order_by(LEVEL_ORDER, "name"), AREA_PAGE_SIZE
    )
    with_region_names(page)
    context = {
        "filters": filters,
        "day": day,
        "page": page,
        "query": query,
        "counts": [(label, counts.get(value, 0)) for value, label in RiskLevel.choices],
        "lists": AreaList.objects.select_related("published_by")[:LISTS_SHOWN],
        "can_publish": request.user.can(Capability.PUBLISH_RISK_AREAS),
    }
    return render(request, "travel/area_index.html", context)


# Publishing -------------------------------------------------------------------------------


def read_entries(form: PublishForm) -> tuple[list[AreaEntry], list, str]:
    """The lines of the pasted text or the uploaded file, the problems of reading them, and
    the list's source as kept with it."""
    upload = form.cleaned_data.get("file")
    if upload is not None:
        entries, problems = area_lists.parse_area_file(upload)
        return entries, problems, upload.name
    text = form.cleaned_data["text"]
    return area_lists.parse_notice(text), [], text


def labelled(entries: list[AreaEntry]) -> None:
    for entry in entries:
        entry.scale_label = AreaScale(entry.resolution.scale).label
        entry.level_label = RiskLevel(entry.level).label if entry.level else ""


def publish_page(request):
    """Step 1: the list (text or file) → the preview of every line; the lines wait in the
    session for step 2 when nothing is wrong."""
    require_capability(request.user, Capability.PUBLISH_RISK_AREAS)
    initial = {"effective_from": timezone.localdate()}
    form = PublishForm(request.POST or None, request.FILES or None, initial=initial)
    preview = token = None
    if request.method == "POST" and form.is_valid():
        try:
            entries, problems, source = read_entries(form)
        except ImportFileError as refused:
            form.add_error("file", refused.message)
        else:
            preview = area_lists.check(entries, problems)
            labelled(preview.entries)
            if not entries and not problems:
                form.add_error(None, _("没有读到任何地区，请检查通告原文或文件。"))
                preview = None
            elif not preview.problems:
                token = secrets.token_hex(8)
                request.session[PENDING_KEY] = {
                    "token": token,
                    "title": form.cleaned_data["title"],
                    "effective_from": form.cleaned_data["effective_from"].isoformat(),
                    "source": source,
                    "entries": [[e.line, e.text, e.level, e.action] for e in entries],
                }
    context = {"form": form, "preview": preview, "token": token}
    return render(request, "travel/area_publish.html", context)


@require_POST
def publish_confirm(request):
    """Step 2: publish the lines previewed (all or nothing)."""
    require_capability(request.user, Capability.PUBLISH_RISK_AREAS)
    pending = request.session.get(PENDING_KEY) or {}
    if not pending or pending.get("token") != request.POST.get("token"):
        messages.error(request, _("没有待发布的名单（可能已发布或已过期），请重新提交。"))
        return redirect("travel_risk_area_publish")
    entries = [
        AreaEntry(line, text, level, action) for line, text, level, action in pending["entries"]
    ]
    try:
        area_list = matching.publish(
            request.user,
            title=pending["title"],
            effective_from=date.fromisoformat(pending["effective_from"]),
            entries=entries,
            source=pending["source"],
        )
    except RuleError as refused:
        messages.error(request, refused.message)
        return redirect("travel_risk_area_publish")
    del request.session[PENDING_KEY]
    messages.success(
        request,
        _(
            "已发布：新增 %(added)s 个地区，解除 %(lifted)s 个，"
            "匹配到 %(persons)s 人（用时 %(seconds)s 秒）。"
        )
        % {
            "added": area_list.areas_added,
            "lifted": area_list.areas_lifted,
            "persons": area_list.persons_flagged,
            "seconds": area_list.flag_seconds,
        },
    )
    return redirect("travel_area_list_detail", pk=area_list.pk)


def area_list_detail(request, pk: int):
    """A list: its areas, the areas it lifted, and the persons it flagged per grid of the
    reader's jurisdiction."""
    require_capability(request.user, Capability.VIEW_ARRIVALS)
    area_list = get_object_or_404(AreaList.objects.select_related("published_by"), pk=pk)
    open_ = Q(status=RiskFlag.Status.OPEN)
    grids = (
        RiskFlag.objects.visible_to(request.user)
        .filter(area__area_list=area_list)
        .values("grid_id", "grid__full_name")
        .annotate(
            persons=Count("person", distinct=True),
            open=Count("person", filter=open_, distinct=True),
        )
        .order_by("grid__path")
    )
    context = {
        "area_list": area_list,
        "areas": with_region_names(list(area_list.areas.order_by(LEVEL_ORDER, "name"))),
        "lifted": with_region_names(list(area_list.lifted.order_by("name"))),
        "grids": grids,
        "persons_here": sum(row["persons"] for row in grids),
    }
    return render(request, "travel/area_list_detail.html", context)


# Asking about a place ---------------------------------------------------------------------


def area_check(request):
    """Was this address in a risk area on that day, and at which level."""
    require_capability(request.user, Capability.VIEW_ARRIVALS)
    form = CheckForm(request.GET or None)
    answer = None
    if form.is_valid():
        day = form.cleaned_data["on"] or timezone.localdate()
        resolution, areas = matching.areas_on(form.cleaned_data["address"], day)
        answer = {"day": day, "resolution": resolution, "areas": with_region_names(areas)}
        answer["problem"] = resolution.problem
    return render(request, "travel/area_check.html", {"form": form, "answer": answer})


# Flags of the grids -----------------------------------------------------------------------


def can_handle_flags(user) -> bool:
    """Who follows up a person's travel: verifies flags and records stays found."""
    return user.can(Capability.REGISTER_ARRIVALS) or user.can(Capability.CANVASS)


def arrival_link(person_id: int) -> str:
    """Where to register the arrival of a flagged person."""
    try:
        base = reverse("travel_arrival_new")
    except NoReverseMatch:
        base = "/travel/arrivals/new/"
    return f"{base}?person={person_id}"


def risk_flags(request):
    """Persons of my jurisdiction whose stays matched a risk area, to verify."""
    require_capability(request.user, Capability.VIEW_ARRIVALS)
    filters = FlagFilterForm(request.GET)
    page, query = paginate(request, filters.flags(request.user), FLAG_PAGE_SIZE)
    can_handle = can_handle_flags(request.user)
    for flag in page:
        flag.masked_name = mask_name(flag.person.name)
        if can_handle:
            flag.arrival_url = arrival_link(flag.person_id)
    context = {
        "filters": filters,
        "page": page,
        "query": query,
        "can_handle": can_handle,
        "handle_form": HandleFlagForm(),
        "can_export": request.user.can(Capability.EXPORT_DATA),
    }
    return render(request, "travel/area_flags.html", context)


@require_POST
def risk_flag_handle(request, pk: int):
    if not can_handle_flags(request.user):
        raise Http404  # as for any missing right
    flag = get_visible_or_404(RiskFlag, request.user, pk=pk)
    form = HandleFlagForm(request.POST)
    if form.is_valid():
        try:
            matching.handle_flag(request.user, flag, **form.cleaned_data)
        except RuleError as refused:
            add_rule_error(form, refused)
    if form.errors:
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, f"{mask_name(flag.person.name)}：{error}")
    else:
        messages.success(
            request,
            _("已处理：%(name)s，%(status)s。")
            % {"name": mask_name(flag.person.name), "status": flag.get_status_display()},
        )
    query = request.POST.get("query", "")
    return redirect(f"{reverse('travel_risk_flags')}?{query}" if query else "travel_risk_flags")


FLAG_EXPORT_COLUMNS = [
    gettext_lazy("编号"),
    gettext_lazy("姓名"),
    gettext_lazy("证件号码"),
    gettext_lazy("联系电话"),
    gettext_lazy("网格"),
    gettext_lazy("风险地区"),
    gettext_lazy("风险等级"),
    gettext_lazy("旅居地点"),
    gettext_lazy("起始日期"),
    gettext_lazy("结束日期"),
    gettext_lazy("匹配时间"),
    gettext_lazy("状态"),
    gettext_lazy("核查情况"),
]


def risk_flags_export(request):
    require_capability(request.user, Capability.EXPORT_DATA)
    require_capability(request.user, Capability.VIEW_ARRIVALS)
    filters = FlagFilterForm(request.GET)
    flags = filters.flags(request.user)
    if refused := refuse_oversized_export(request, flags, reverse("travel_risk_flags")):
        return refused
    rows = [
        [
            flag.pk,
            mask_name(flag.person.name),
            flag.person.id_number_masked,
            flag.person.phone_masked,
            flag.grid.full_name,
            flag.area.name,
            flag.get_level_display(),
            flag.stay.address,
            flag.stay.from_date,
            flag.stay.to_date,
            timezone.localtime(flag.flagged_at).strftime("%Y-%m-%d %H:%M"),
            flag.get_status_display(),
            flag.note,
        ]
        for flag in flags
    ]
    return logged_xlsx_response(
        request,
        _("风险地区旅居人员"),
        FLAG_EXPORT_COLUMNS,
        rows,
        filename="risk-flags.xlsx",
        filters=filters.applied(),
    )


# Public -----------------------------------------------------------------------------------

PUBLIC_CACHE_SECONDS = 60


@public
@require_GET
def public_areas(request):
    """The areas in force today by level, for anyone (no personal data at all)."""
    if not within_limit(
        f"risk-areas:address:{client_address(request)}",
        settings.PUBLIC_RISK_AREAS_REQUESTS_PER_ADDRESS_HOUR,
    ):
        return notice(request, 429, _("访问过于频繁"), _("请稍后（一小时后）再试。"))
    today = timezone.localdate()
    areas = RiskArea.objects.on(today).order_by("name").values("name", "level", "effective_from")
    by_level = {level: [] for level in RiskLevel.values}
    for area in areas:
        by_level[area["level"]].append(area)
    groups = [(label, by_level[value]) for value, label in RiskLevel.choices]
    response = render(request, "travel/public_areas.html", {"groups": groups, "today": today})
    # Private: the page carries the CSRF cookie of the language switch.
    patch_cache_control(response, private=True, max_age=PUBLIC_CACHE_SECONDS)
    return response


urlpatterns = [
    path("risk-areas/", risk_areas, name="travel_risk_areas"),
    path("risk-areas/publish/", publish_page, name="travel_risk_area_publish"),
    path("risk-areas/publish/confirm/", publish_confirm, name="travel_risk_area_publish_confirm"),
    path("risk-areas/lists/<int:pk>/", area_list_detail, name="travel_area_list_detail"),
    path("risk-areas/check/", area_check, name="travel_risk_area_check"),
    path("risk-areas/public/", public_areas, name="travel_public_areas"),
    path("risk-flags/", risk_flags, name="travel_risk_flags"),
    path("risk-flags/export.xlsx", risk_flags_export, name="travel_risk_flags_export"),
    path("risk-flags/<int:pk>/handle/", risk_flag_handle, name="travel_risk_flag_handle"),
]
