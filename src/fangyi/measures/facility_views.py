"""Pages of quarantine facilities and rooms, the batch entry of health checks for a floor or
a grid, and the policy versions. Thin: the rules are in services, the inputs in
facility_forms."""

from collections import defaultdict

from django.contrib import messages
from django.db.models import Count
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from fangyi.accounts.roles import Capability
from fangyi.core.access import get_visible_or_404, require_capability
from fangyi.core.masking import mask_name
from fangyi.core.rules import add_rule_error
from fangyi.measures import services
from fangyi.measures.facility_forms import (
    BatchTargetForm,
    CheckRow,
    FacilityForm,
    PolicyForm,
    RoomsForm,
    RoomStatusForm,
    posted_measures,
)
from fangyi.measures.models import Category, Facility, Measure, Policy, Room
from fangyi.measures.services import MeasureRuleError

OCCUPANCY_DAYS = 14
# Rows of one batch page: a floor or a grid list, not a whole street.
BATCH_MAX_ROWS = 200


# Facilities -------------------------------------------------------------------------------


def facility_list(request):
    require_capability(request.user, Capability.VIEW_MEASURES)
    facilities = list(Facility.objects.visible_to(request.user).filter(active=True))
    counts = services.occupancy_of(facilities)
    for facility in facilities:
        facility.counts = counts[facility.pk]
        facility.rooms_total = sum(facility.counts[status] for status in Room.Status.values)
        facility.rate = rate(facility.counts)
    context = {
        "facilities": facilities,
        "can_manage": request.user.can(Capability.MANAGE_FACILITIES),
    }
    return render(request, "measures/facility_list.html", context)


def rate(counts) -> int | None:
    """Occupied beds in percent of all beds."""
    return round(100 * counts["occupants"] / counts["beds"]) if counts["beds"] else None


def facility_create(request):
    require_capability(request.user, Capability.MANAGE_FACILITIES)
    form = FacilityForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            facility = services.create_facility(
                request.user,
                data["organisation"],
                kind=data["kind"],
                name=data["name"],
                address=data["address"],
                phone=data["phone"],
            )
        except MeasureRuleError as refused:
            add_rule_error(form, refused)
        else:
            messages.success(request, _("已登记隔离场所：%(name)s") % {"name": facility.name})
            return redirect("facility_detail", pk=facility.pk)
    return render(request, "measures/facility_form.html", {"form": form})


def facility_detail(request, pk: int):
    require_capability(request.user, Capability.VIEW_MEASURES)
    facility = get_visible_or_404(Facility, request.user, pk=pk)
    return _facility_page(request, facility, RoomsForm())


def _facility_page(request, facility: Facility, rooms_form: RoomsForm):
    residents = defaultdict(list)
    # Only the residents the user may see are named; the others count as occupants.
    for room_id, name in (
        Measure.objects.visible_to(request.user)
        .active()
        .filter(facility=facility, room__isnull=False)
        .order_by("person__name")
        .values_list("room_id", "person__name")
    ):
        residents[room_id].append(mask_name(name))
    rooms = list(facility.rooms.order_by("floor", "number"))
    for room in rooms:
        room.residents = residents[room.pk]
    counts = services.occupancy(facility)
    days = services.daily_occupancy(facility, OCCUPANCY_DAYS)
    context = {
        "facility": facility,
        "rooms": rooms,
        "counts": counts,
        "rate": rate(counts),
        "days": days,
        "most": max([count for _day, count in days] + [counts["beds"], 1]),
        "rooms_form": rooms_form,
        "can_manage": request.user.can(Capability.MANAGE_FACILITIES),
        "can_record": request.user.can(Capability.RECORD_CHECKS),
    }
    return render(request, "measures/facility_detail.html", context)


@require_POST
def facility_rooms_add(request, pk: int):
    require_capability(request.user, Capability.MANAGE_FACILITIES)
    facility = get_visible_or_404(Facility, request.user, pk=pk)
    form = RoomsForm(request.POST)
    if form.is_valid():
        try:
            rooms = services.add_rooms(request.user, facility, **form.cleaned_data)
        except MeasureRuleError as refused:
            add_rule_error(form, refused)
        else:
            messages.success(
                request,
                _("已添加%(floor)s层房间%(count)s间。")
                % {"floor": form.cleaned_data["floor"], "count": len(rooms)},
            )
            return redirect("facility_detail", pk=facility.pk)
    return _facility_page(request, facility, form)


@require_POST
def facility_room_status(request, pk: int, room_id: int):
    require_capability(request.user, Capability.MANAGE_FACILITIES)
    facility = get_visible_or_404(Facility, request.user, pk=pk)
    room = facility.rooms.filter(pk=room_id).first()
    form = RoomStatusForm(request.POST)
    if room is None or not form.is_valid():
        raise Http404
    try:
        room = services.set_room_status(request.user, room, form.cleaned_data["status"])
    except MeasureRuleError as refused:
        messages.error(
            request,
            _("房间 %(number)s：%(reason)s") % {"number": room.number, "reason": refused.message},
        )
    else:
        messages.success(
            request,
            _("房间 %(number)s 已设为%(status)s。")
            % {"number": room.number, "status": room.get_status_display()},
        )
    return redirect(reverse("facility_detail", args=[facility.pk]) + f"#room-{room.pk}")


# Batch check entry ------------------------------------------------------------------------


def checks_batch(request):
    """A floor's or a grid's people on one page, one row each; the rows typed in are saved
    together or, if any is wrong, none is. The page's queries do not grow with its rows."""
    require_capability(request.user, Capability.RECORD_CHECKS)
    target = BatchTargetForm(request.GET or None, user=request.user)
    today = timezone.localdate()
    rows, more, refused = [], False, None
    if request.method == "POST":
        measures = posted_measures(request.user, request.POST, today, BATCH_MAX_ROWS)
        rows = [CheckRow(m, request.POST, first=not i) for i, m in enumerate(measures)]
        filled = [row for row in rows if row.filled]
        # Every filled row is validated (no short cut), so each shows its own errors.
        if filled and all([row.form.is_valid() for row in filled]):
            return _save_checks(request, filled)
        refused = (
            _("有%(n)s行填写有误（已标红），本批未保存任何记录，请更正后重新提交。")
            % {"n": sum(1 for row in filled if row.form.errors)}
            if filled
            else _("没有填写任何体温，未保存。")
        )
    elif target.is_valid():
        measures = list(target.measures(today)[: BATCH_MAX_ROWS + 1])
        more = len(measures) > BATCH_MAX_ROWS
        rows = [CheckRow(m, first=not i) for i, m in enumerate(measures[:BATCH_MAX_ROWS])]
    context = {"target": target, "rows": rows, "more": more, "refused": refused, "today": today}
    return render(request, "measures/checks_batch.html", context)


def _save_checks(request, rows: list[CheckRow]):
    entries = [row.form.entry() for row in rows]
    try:
        services.record_checks(request.user, entries, source="staff")
    except MeasureRuleError as refused:
        messages.error(request, refused.message)
        return redirect(request.get_full_path())
    abnormal = [entry for entry in entries if entry.abnormal]
    messages.success(
        request,
        _("已保存%(n)s条，其中异常%(m)s条。") % {"n": len(entries), "m": len(abnormal)},
    )
    if abnormal:
        messages.warning(
            request,
            _("异常人员（须转运发热门诊并采样）：%(people)s")
            % {"people": "；".join(map(who_and_reading, abnormal))},
        )
    return redirect(request.get_full_path())


def who_and_reading(entry) -> str:
    """ "101 张*丰 体温38.2℃" for the summary of a saved batch."""
    measure = entry.measure
    where = measure.room.number if measure.room_id else measure.address
    return f"{where} {mask_name(measure.person.name)} {entry.describe()}"


# Policies ---------------------------------------------------------------------------------


def policy_list(request):
    require_capability(request.user, Capability.VIEW_MEASURES)
    today = timezone.localdate()
    under = dict(
        Measure.objects.visible_to(request.user)
        .active()
        .values_list("policy")
        .annotate(n=Count("pk"))
    )
    versions = defaultdict(list)
    for policy in Policy.objects.select_related("published_by").order_by(
        "category", "-effective_from", "-version"
    ):
        policy.under_control = under.get(policy.pk, 0)
        versions[policy.category].append(policy)
    categories = []
    for category in Category:
        history = versions[category.value]
        current = next((p for p in history if p.effective_from <= today), None)
        upcoming = [p for p in history if p.effective_from > today]
        categories.append(
            {"category": category, "current": current, "upcoming": upcoming, "history": history}
        )
    context = {
        "categories": categories,
        "can_publish": request.user.can(Capability.PUBLISH_POLICIES),
    }
    return render(request, "measures/policy_list.html", context)


def policy_publish(request, category: str):
    require_capability(request.user, Capability.PUBLISH_POLICIES)
    if category not in Category.values:
        raise Http404
    latest = Policy.objects.filter(category=category).order_by("-version").first()
    form = PolicyForm(request.POST or None, initial=PolicyForm.initial_from(latest))
    if request.method == "POST" and form.is_valid():
        policy = services.publish_policy(
            request.user,
            category=category,
            effective_from=form.cleaned_data["effective_from"],
            **form.policy_fields(),
        )
        messages.success(
            request,
            _("已发布%(policy)s，自%(day)s起生效；此前已开始的管控仍按原版本执行。")
            % {"policy": policy, "day": policy.effective_from},
        )
        return redirect("policy_list")
    context = {"form": form, "category": Category(category), "latest": latest}
    return render(request, "measures/policy_form.html", context)


urlpatterns = [
    path("facilities/", facility_list, name="facility_list"),
    path("facilities/new/", facility_create, name="facility_create"),
    path("facilities/<int:pk>/", facility_detail, name="facility_detail"),
    path("facilities/<int:pk>/rooms/", facility_rooms_add, name="facility_rooms_add"),
    path(
        "facilities/<int:pk>/rooms/<int:room_id>/status/",
        facility_room_status,
        name="facility_room_status",
    ),
    path("checks/batch/", checks_batch, name="checks_batch"),
    path("policies/", policy_list, name="policy_list"),
    path("policies/<str:category>/publish/", policy_publish, name="policy_publish"),
]
