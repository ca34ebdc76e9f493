"""Pages of control measures: the list and its export, placing a person under control, a
measure's course (tests, checks, release, ending) and the entry of one check."""

from datetime import timedelta
from itertools import groupby

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from fangyi.accounts.roles import Capability
from fangyi.core import deadlines
from fangyi.core.access import get_visible_or_404, require_capability
from fangyi.core.audit import history_of
from fangyi.core.excel import logged_xlsx_response, refuse_oversized_export
from fangyi.core.models import Duty, Task
from fangyi.core.paging import paginate
from fangyi.core.rules import add_rule_error
from fangyi.measures import links, services
from fangyi.measures.forms import (
    EndMeasureForm,
    HealthCheckForm,
    MeasureFilterForm,
    MeasureTestResultForm,
    PlaceUnderControlForm,
)
from fangyi.measures.models import Category, HealthCheck, Measure, MeasureTest
from fangyi.people.models import Person
from fangyi.tracing.models import Contact

MEASURE_PAGE_SIZE = 50
CHECK_DAYS = 14
LOOKUP_LIMIT = 10
CONTACT_CATEGORY = {1: Category.CLOSE_CONTACT, 2: Category.SECONDARY_CONTACT}


# List -------------------------------------------------------------------------------------


def measure_list(request):
    require_capability(request.user, Capability.VIEW_MEASURES)
    filters = MeasureFilterForm(request.GET, user=request.user)
    today = timezone.localdate()
    page, query = paginate(request, filters.measures(today), MEASURE_PAGE_SIZE)
    for measure in page:
        measure.day_of_course = _day_of_course(measure, today)
    context = {
        "filters": filters,
        "page": page,
        "query": query,
        "can_export": request.user.can(Capability.EXPORT_DATA),
    }
    partial = request.headers.get("HX-Target") == "measure-table"
    template = "measures/_measure_table.html" if partial else "measures/measure_list.html"
    return render(request, template, context)


def _day_of_course(measure: Measure, today) -> int | None:
    return measure.course_day(today) if measure.status == Measure.Status.ACTIVE else None


MEASURE_EXPORT_COLUMNS = [
    gettext_lazy("编号"),
    gettext_lazy("姓名"),
    gettext_lazy("性别"),
    gettext_lazy("证件号码"),
    gettext_lazy("联系电话"),
    gettext_lazy("管控措施"),
    gettext_lazy("人员类别"),
    gettext_lazy("隔离场所"),
    gettext_lazy("房间"),
    gettext_lazy("管控地址"),
    gettext_lazy("开始日期"),
    gettext_lazy("计划解除日期"),
    gettext_lazy("管控天数"),
    gettext_lazy("今日监测次数"),
    gettext_lazy("今日异常"),
    gettext_lazy("状态"),
]


def measure_export(request):
    require_capability(request.user, Capability.EXPORT_DATA)
    require_capability(request.user, Capability.VIEW_MEASURES)
    filters = MeasureFilterForm(request.GET, user=request.user)
    today = timezone.localdate()
    measures = filters.measures(today)
    if refused := refuse_oversized_export(request, measures, reverse("measure_list")):
        return refused
    rows = [
        [
            m.pk,
            m.person.name,
            m.person.get_sex_display(),
            m.person.id_number_masked,
            m.person.phone_masked,
            m.get_type_display(),
            m.get_category_display(),
            m.facility.name if m.facility_id else "",
            m.room.number if m.room_id else "",
            m.address,
            m.start_date,
            m.planned_end,
            _day_of_course(m, today),
            f"{m.checks_today}/{m.checks_per_day}",
            _("异常") if m.abnormal_today else "",
            m.get_status_display(),
        ]
        for m in measures
    ]
    return logged_xlsx_response(
        request,
        _("管控人员名单"),
        MEASURE_EXPORT_COLUMNS,
        rows,
        filename="measures.xlsx",
        filters=filters.applied(),
    )


# Placing under control --------------------------------------------------------------------


def measure_place(request):
    """Place a person (`?person=`) or a registered contact (`?contact=`) under control; without
    either, find the person first."""
    require_capability(request.user, Capability.MANAGE_MEASURES)
    user = request.user
    contact = person = None
    if contact_id := request.GET.get("contact"):
        contact = get_visible_or_404(Contact, user, pk=contact_id)
        person = contact.person
    elif person_id := request.GET.get("person"):
        person = get_visible_or_404(Person, user, pk=person_id)
    if person is None:
        return _person_lookup(request)
    initial = {
        "category": CONTACT_CATEGORY[contact.degree] if contact else Category.CLOSE_CONTACT,
        "start_date": timezone.localdate(),
        "address": person.address,
    }
    form = PlaceUnderControlForm(request.POST or None, user=user, initial=initial)
    existing = None
    if request.method == "POST" and form.is_valid():
        try:
            measure = services.place_under_control(user, person, contact=contact, **form.details())
        except services.MeasureRuleError as refused:
            add_rule_error(form, refused)
            existing = refused.existing
        else:
            messages.success(
                request,
                _("已落实管控：%(name)s，%(type)s至%(end)s")
                % {
                    "name": person.name,
                    "type": measure.get_type_display(),
                    "end": measure.planned_end,
                },
            )
            return redirect("measure_detail", pk=measure.pk)
    context = {"form": form, "person": person, "contact": contact, "existing": existing}
    return render(request, "measures/measure_place.html", context)


def _person_lookup(request):
    query = request.GET.get("q", "").strip()
    found = (
        Person.objects.visible_to(request.user).search(query).select_related("grid")[:LOOKUP_LIMIT]
        if len(query) >= 2
        else []
    )
    return render(request, "measures/measure_person_lookup.html", {"q": query, "found": found})


def measure_place_options(request):
    """The policy in force and the free rooms, as the category, date or facility change."""
    require_capability(request.user, Capability.MANAGE_MEASURES)
    # Unbound: the choices so far are shown, not judged.
    form = PlaceUnderControlForm(user=request.user, initial=request.GET.dict())
    return render(request, "measures/_measure_place_options.html", {"form": form})


# A measure --------------------------------------------------------------------------------


def measure_detail(request, pk: int):
    require_capability(request.user, Capability.VIEW_MEASURES)
    return _detail_page(request, get_visible_or_404(Measure, request.user, pk=pk))


def _detail_page(request, measure: Measure, *, end_form=None, result_forms=None):
    user = request.user
    today = timezone.localdate()
    can_manage = user.can(Capability.MANAGE_MEASURES)
    can_record = user.can(Capability.RECORD_CHECKS)
    active = measure.status == Measure.Status.ACTIVE
    phases = list(measure.phases().select_related("facility", "room"))
    tests = list(
        MeasureTest.objects.filter(measure__in=phases)
        .select_related("measure")
        .order_by("due_date", "id")
    )
    result_forms = result_forms or {}
    for test in tests:
        due = test.due_date <= today and test.measure.status == Measure.Status.ACTIVE
        if can_record and due and not test.result:
            test.form = result_forms.get(test.pk) or MeasureTestResultForm(prefix=f"test-{test.pk}")
    context = {
        "measure": measure,
        "phases": phases,
        "tests": tests,
        "check_days": _check_days(phases, today),
        "day_of_course": _day_of_course(measure, today),
        "criteria": services.release_check(measure, today) if active else None,
        "fever_referral": deadlines.tasks_of(measure, Duty.REFER_FEVER)
        .filter(status=Task.Status.OPEN)
        .first(),
        "end_form": end_form or (EndMeasureForm() if measure.is_open and can_manage else None),
        "phone_link": _phone_link(request, measure)
        if active and (can_manage or can_record)
        else None,
        "history": _history(measure),
        "can_manage": can_manage,
        "can_record": can_record,
    }
    return render(request, "measures/measure_detail.html", context)


def _history(measure: Measure) -> list[tuple]:
    """Change entries of the measure with each change as (label, before, after)."""
    labels = {field.name: field.verbose_name for field in Measure._meta.fields}
    return [
        (entry, [(labels.get(name, name), *values) for name, values in entry.changes.items()])
        for entry in history_of(measure)[:100]
    ]


def _check_days(phases: list[Measure], today) -> list[tuple]:
    """The last CHECK_DAYS days of the course, latest first: (day, readings of that day)."""
    ended = [phase.ended_at for phase in phases if phase.ended_at]
    last = today
    if ended and not any(phase.is_open for phase in phases):
        last = min(today, timezone.localdate(max(ended)))
    first = max(phases[0].start_date, last - timedelta(days=CHECK_DAYS - 1))
    readings = HealthCheck.objects.filter(
        measure__in=phases, day__gte=first, day__lte=last
    ).order_by("-day", "checked_at")
    by_day = {day: list(checks) for day, checks in groupby(readings, key=lambda c: c.day)}
    return [
        (day, by_day.get(day, []))
        for day in (last - timedelta(days=n) for n in range((last - first).days + 1))
    ]


def _phone_link(request, measure: Measure) -> dict:
    """The person's own link for daily checks, with its QR code to show or print."""
    url = request.build_absolute_uri(links.self_check_path(measure))
    return {"url": url, "qr": links.qr_svg(url)}


@require_POST
def measure_release(request, pk: int):
    require_capability(request.user, Capability.MANAGE_MEASURES)
    measure = get_visible_or_404(Measure, request.user, pk=pk)
    try:
        following = services.release(request.user, measure)
    except services.MeasureRuleError as refused:
        messages.error(request, refused.message)
        return redirect("measure_detail", pk=measure.pk)
    messages.success(request, _("已解除%(type)s。") % {"type": measure.get_type_display()})
    if following is not None:
        messages.success(
            request,
            _("已转入%(type)s，至%(end)s。")
            % {"type": following.get_type_display(), "end": following.planned_end},
        )
        return redirect("measure_detail", pk=following.pk)
    return redirect("measure_detail", pk=measure.pk)


@require_POST
def measure_end(request, pk: int):
    require_capability(request.user, Capability.MANAGE_MEASURES)
    measure = get_visible_or_404(Measure, request.user, pk=pk)
    form = EndMeasureForm(request.POST)
    if form.is_valid():
        try:
            ended = services.end_measure(request.user, measure, **form.cleaned_data)
        except services.MeasureRuleError as refused:
            add_rule_error(form, refused)
        else:
            status = ended.get_status_display()
            messages.success(request, _("管控已结束：%(status)s") % {"status": status})
            return redirect("measure_detail", pk=measure.pk)
    return _detail_page(request, measure, end_form=form)


@require_POST
def measure_fever_referral_done(request, pk: int):
    require_capability(request.user, Capability.MANAGE_MEASURES)
    measure = get_visible_or_404(Measure, request.user, pk=pk)
    if services.close_fever_referral(request.user, measure):
        messages.success(request, _("发热转诊已处置。"))
    return redirect("measure_detail", pk=measure.pk)


@require_POST
def measure_test_result(request, pk: int, test_id: int):
    require_capability(request.user, Capability.RECORD_CHECKS)
    measure = get_visible_or_404(Measure, request.user, pk=pk)
    test = get_visible_or_404(MeasureTest, request.user, pk=test_id, measure__in=measure.phases())
    form = MeasureTestResultForm(request.POST, prefix=f"test-{test.pk}")
    if form.is_valid():
        try:
            services.record_test_result(request.user, test, **form.cleaned_data)
        except services.MeasureRuleError as refused:
            add_rule_error(form, refused)
        else:
            messages.success(request, _("已录入检测结果：%(test)s") % {"test": test})
            return redirect("measure_detail", pk=measure.pk)
    return _detail_page(request, measure, result_forms={test.pk: form})


def measure_check_new(request, pk: int):
    """One reading for one person, entered by staff."""
    require_capability(request.user, Capability.RECORD_CHECKS)
    measure = get_visible_or_404(Measure, request.user, pk=pk)
    form = HealthCheckForm(request.POST or None, measure=measure)
    if request.method == "POST" and form.is_valid():
        entry = form.entry()
        reading = {"reading": entry.describe()}
        try:
            services.record_checks(request.user, [entry], source=HealthCheck.Source.STAFF)
        except services.MeasureRuleError as refused:
            add_rule_error(form, refused)
        else:
            if entry.abnormal:
                messages.warning(
                    request,
                    _("已录入：%(reading)s。监测异常，已通知责任单位转运发热门诊并采样。")
                    % reading,
                )
            else:
                messages.success(request, _("已录入：%(reading)s。") % reading)
            return redirect("measure_detail", pk=measure.pk)
    return render(request, "measures/measure_check_form.html", {"measure": measure, "form": form})


urlpatterns = [
    path("", measure_list, name="measure_list"),
    path("export.xlsx", measure_export, name="measure_export"),
    path("new/", measure_place, name="measure_place"),
    path("new/options/", measure_place_options, name="measure_place_options"),
    path("<int:pk>/", measure_detail, name="measure_detail"),
    path("<int:pk>/release/", measure_release, name="measure_release"),
    path("<int:pk>/end/", measure_end, name="measure_end"),
    path(
        "<int:pk>/fever-referral/",
        measure_fever_referral_done,
        name="measure_fever_referral_done",
    ),
    path("<int:pk>/tests/<int:test_id>/result/", measure_test_result, name="measure_test_result"),
    path("<int:pk>/checks/new/", measure_check_new, name="measure_check_new"),
]
