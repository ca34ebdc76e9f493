from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from fangyi.accounts.roles import Capability
from fangyi.cases import services
from fangyi.cases.filters import CaseFilterForm
from fangyi.cases.forms import CaseForm
from fangyi.cases.models import CaseReport
from fangyi.core import deadlines
from fangyi.core.access import get_visible_or_404, require_capability
from fangyi.core.audit import history_of
from fangyi.core.excel import logged_xlsx_response
from fangyi.core.paging import paginate
from fangyi.core.timefmt import local_minute
from fangyi.people.models import Person


def case_list(request):
    require_capability(request.user, Capability.VIEW_PERSONS)
    filters = CaseFilterForm(request.GET, user=request.user)
    page, query = paginate(request, filters.cases(), 50)
    context = {"filters": filters, "page": page, "query": query}
    partial = request.headers.get("HX-Target") == "case-table"
    template = "cases/partials/case_table.html" if partial else "cases/case_list.html"
    return render(request, template, context)


CASE_EXPORT_COLUMNS = [
    gettext_lazy("编号"),
    gettext_lazy("患者"),
    gettext_lazy("性别"),
    gettext_lazy("年龄"),
    gettext_lazy("病种"),
    gettext_lazy("病例分类"),
    gettext_lazy("发病日期"),
    gettext_lazy("诊断时间"),
    gettext_lazy("报告时间"),
    gettext_lazy("审核时间"),
    gettext_lazy("状态"),
    gettext_lazy("现住址所属网格"),
    gettext_lazy("报告单位"),
    gettext_lazy("报告医生"),
]


def case_export(request):
    require_capability(request.user, Capability.EXPORT_DATA)
    filters = CaseFilterForm(request.GET, user=request.user)
    rows = [
        [
            c.pk,
            c.person.name,
            c.person.get_sex_display(),
            c.person.age(),
            c.disease.name,
            c.get_classification_display(),
            c.onset_date,
            local_minute(c.diagnosed_at),
            local_minute(c.submitted_at),
            local_minute(c.reviewed_at),
            c.get_status_display(),
            c.region.full_name,
            str(c.reporting_organisation or ""),
            c.reporting_doctor,
        ]
        for c in filters.cases()
    ]
    return logged_xlsx_response(
        request,
        _("传染病报告卡"),
        CASE_EXPORT_COLUMNS,
        rows,
        filename="cases.xlsx",
        filters=filters.applied(),
    )


def case_detail(request, pk: int):
    require_capability(request.user, Capability.VIEW_PERSONS)
    case = get_visible_or_404(CaseReport, request.user, pk=pk)
    context = {
        "case": case,
        "tasks": deadlines.tasks_of(case).order_by("started_at"),
        "history": history_of(case)[:100],
        "revisions": case.revisions.select_related("revised_by"),
        "can_review": request.user.can(Capability.REVIEW_CASES),
        "can_report": request.user.can(Capability.REPORT_CASES),
    }
    return render(request, "cases/case_detail.html", context)


def case_create(request):
    require_capability(request.user, Capability.REPORT_CASES)
    initial = {}
    if person_id := request.GET.get("person"):
        initial["person"] = get_visible_or_404(Person, request.user, pk=person_id)
    form = CaseForm(request.POST or None, user=request.user, initial=initial)
    if request.method == "POST" and form.is_valid():
        submit = "submit" in request.POST
        case = services.create_case(request.user, form.cleaned_data)
        if not submit:
            messages.success(request, _("报告卡已保存为草稿。"))
            return redirect("case_detail", pk=case.pk)
        return _submit(request, case)
    person = form["person"].value()
    chosen = Person.objects.visible_to(request.user).filter(pk=person).first() if person else None
    return render(request, "cases/case_form.html", {"form": form, "chosen": chosen})


def _submit(request, case: CaseReport, *, confirmed: bool = False):
    try:
        services.submit_case(request.user, case, duplicate_confirmed=confirmed)
    except services.DuplicateCaseError as duplicate:
        return render(request, "cases/duplicate.html", {"case": case, "earlier": duplicate.earlier})
    except services.CaseRuleError as refused:
        messages.error(request, refused.message)
    else:
        messages.success(request, _("报告卡已提交，等待疾控审核。"))
    return redirect("case_detail", pk=case.pk)


@require_POST
def case_submit(request, pk: int):
    require_capability(request.user, Capability.REPORT_CASES)
    case = get_visible_or_404(CaseReport, request.user, pk=pk)
    decision = request.POST.get("duplicate")
    if decision == "link":
        earlier = get_visible_or_404(CaseReport, request.user, pk=request.POST.get("earlier"))
        services.link_as_duplicate(request.user, case, earlier)
        messages.success(request, _("已作为重卡关联到原报告卡。"))
        return redirect("case_detail", pk=earlier.pk)
    return _submit(request, case, confirmed=decision == "new")


@require_POST
def case_review(request, pk: int):
    require_capability(request.user, Capability.REVIEW_CASES)
    case = get_visible_or_404(CaseReport, request.user, pk=pk)
    try:
        services.review_case(request.user, case)
        messages.success(request, _("已审核。"))
    except services.CaseRuleError as refused:
        messages.error(request, refused.message)
    return redirect(request.POST.get("next") or reverse("case_detail", args=[case.pk]))


def case_revise(request, pk: int):
    case = get_visible_or_404(CaseReport, request.user, pk=pk)
    editing_draft = case.status == CaseReport.Status.DRAFT
    require_capability(
        request.user, Capability.REPORT_CASES if editing_draft else Capability.REVIEW_CASES
    )
    form = CaseForm(request.POST or None, instance=case, user=request.user)
    reason = request.POST.get("reason", "")
    if request.method == "POST" and form.is_valid():
        try:
            if editing_draft:
                services.update_draft(request.user, case, form.cleaned_data)
            else:
                services.revise_case(request.user, case, form.cleaned_data, reason)
        except services.CaseRuleError as refused:
            form.add_error(None, refused.message)
        else:
            messages.success(request, _("报告卡已保存。") if editing_draft else _("报告卡已订正。"))
            return redirect("case_detail", pk=case.pk)
    context = {"form": form, "case": case, "chosen": case.person, "revising": not editing_draft}
    return render(request, "cases/case_form.html", context)


@require_POST
def case_delete(request, pk: int):
    case = get_visible_or_404(CaseReport, request.user, pk=pk)
    own_draft = case.status == CaseReport.Status.DRAFT and case.created_by == request.user
    if not own_draft:
        require_capability(request.user, Capability.REVIEW_CASES)
    try:
        services.delete_case(request.user, case, request.POST.get("reason", ""))
        messages.success(request, _("报告卡已删除。"))
    except services.CaseRuleError as refused:
        messages.error(request, refused.message)
    return redirect("case_detail", pk=case.pk)


def review_queue(request):
    require_capability(request.user, Capability.REVIEW_CASES)
    cases = (
        CaseReport.objects.visible_to(request.user)
        .filter(status=CaseReport.Status.SUBMITTED)
        .select_related("person", "disease", "region", "reporting_organisation")
        .order_by("submitted_at")
    )
    page, query = paginate(request, cases, 50)
    return render(request, "cases/review_queue.html", {"page": page, "query": query})


def person_lookup(request):
    """htmx: persons matching a search, to pick the patient of a card."""
    require_capability(request.user, Capability.REPORT_CASES)
    query = request.GET.get("q", "")
    persons = (
        Person.objects.visible_to(request.user).search(query).select_related("grid")[:10]
        if len(query.strip()) >= 2
        else []
    )
    return render(request, "cases/partials/person_lookup.html", {"persons": persons, "q": query})
