from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from fangyi.accounts.roles import Capability
from fangyi.cases.models import CaseReport
from fangyi.core import deadlines
from fangyi.core.access import get_visible_or_404, require_capability
from fangyi.core.excel import logged_xlsx_response, refuse_oversized_export, xlsx_response
from fangyi.core.models import Duty
from fangyi.core.paging import paginate
from fangyi.core.rules import add_rule_error
from fangyi.core.timefmt import local_minute
from fangyi.people.forms import PersonForm
from fangyi.people.models import Person
from fangyi.people.services import DuplicatePersonError
from fangyi.tracing import imports, services
from fangyi.tracing.forms import (
    ContactFilterForm,
    ContactForm,
    ContactImportForm,
    InvestigationForm,
    TrajectoryForm,
)
from fangyi.tracing.models import Contact, Investigation, TrajectoryEntry

CONTACT_PAGE_SIZE = 50
LOOKUP_LIMIT = 10


def reported_case_or_404(user, case_id: int) -> CaseReport:
    return get_visible_or_404(CaseReport, user, pk=case_id, status__in=services.REPORTED)


def back_to(request, fallback: str):
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return redirect(target)
    return redirect(fallback)


# Investigation ----------------------------------------------------------------------------


def investigation(request, case_id: int):
    require_capability(request.user, Capability.VIEW_PERSONS)
    case = reported_case_or_404(request.user, case_id)
    current = Investigation.objects.filter(case=case).first()
    form = InvestigationForm(request.POST or None, instance=current, user=request.user, case=case)
    if request.method == "POST":
        require_capability(request.user, Capability.INVESTIGATE_CASES)
        if form.is_valid():
            try:
                current = services.start_investigation(request.user, case)
                services.save_investigation(request.user, current, form.cleaned_data)
            except services.TracingRuleError as refused:
                add_rule_error(form, refused)
            else:
                messages.success(request, _("调查内容已保存。"))
                return redirect("investigation", case_id=case.pk)
    return _investigation_page(request, case, current, form, TrajectoryForm(user=request.user))


def _investigation_page(request, case, current, form, trajectory_form):
    context = {
        "case": case,
        "investigation": current,
        "form": form,
        "trajectory_form": trajectory_form,
        "trajectory": current.trajectory.select_related("place") if current else [],
        "task": deadlines.tasks_of(case, Duty.INVESTIGATE_CASE).order_by("-started_at").first(),
        "can_edit": request.user.can(Capability.INVESTIGATE_CASES),
    }
    return render(request, "tracing/investigation.html", context)


@require_POST
def trajectory_add(request, case_id: int):
    require_capability(request.user, Capability.INVESTIGATE_CASES)
    case = reported_case_or_404(request.user, case_id)
    form = TrajectoryForm(request.POST, user=request.user)
    if form.is_valid():
        try:
            current = services.start_investigation(request.user, case)
            services.add_trajectory_entry(request.user, current, **form.cleaned_data)
        except services.TracingRuleError as refused:
            add_rule_error(form, refused)
        else:
            messages.success(request, _("已添加活动轨迹。"))
            return redirect("investigation", case_id=case.pk)
    current = Investigation.objects.filter(case=case).first()
    investigation_form = InvestigationForm(instance=current, user=request.user, case=case)
    return _investigation_page(request, case, current, investigation_form, form)


@require_POST
def trajectory_remove(request, case_id: int, entry_id: int):
    require_capability(request.user, Capability.INVESTIGATE_CASES)
    case = reported_case_or_404(request.user, case_id)
    entry = TrajectoryEntry.objects.filter(investigation__case=case, pk=entry_id).first()
    if entry is None:
        raise Http404
    services.remove_trajectory_entry(request.user, entry)
    messages.success(request, _("已删除该条活动轨迹。"))
    return redirect("investigation", case_id=case.pk)


@require_POST
def investigation_complete(request, case_id: int):
    require_capability(request.user, Capability.INVESTIGATE_CASES)
    case = reported_case_or_404(request.user, case_id)
    current = Investigation.objects.filter(case=case).first()
    if current is None:
        messages.error(request, services.NOT_STARTED)
        return redirect("investigation", case_id=case.pk)
    try:
        services.complete_investigation(request.user, current)
    except services.TracingRuleError as refused:
        messages.error(request, refused.message)
    else:
        messages.success(request, _("流行病学调查已完成。"))
    return redirect("investigation", case_id=case.pk)


# Contact list -----------------------------------------------------------------------------


def contact_list(request):
    require_capability(request.user, Capability.VIEW_PERSONS)
    filters = ContactFilterForm(request.GET, user=request.user)
    page, query = paginate(request, filters.contacts(), CONTACT_PAGE_SIZE)
    context = {
        "filters": filters,
        "page": page,
        "query": query,
        "now": timezone.now(),
        "can_edit": request.user.can(Capability.TRACE_CONTACTS),
    }
    partial = request.headers.get("HX-Target") == "contact-table"
    template = "tracing/partials/contact_table.html" if partial else "tracing/contact_list.html"
    return render(request, template, context)


CONTACT_EXPORT_COLUMNS = [
    gettext_lazy("编号"),
    gettext_lazy("姓名"),
    gettext_lazy("性别"),
    gettext_lazy("证件号码"),
    gettext_lazy("联系电话"),
    gettext_lazy("所属网格"),
    gettext_lazy("类别"),
    gettext_lazy("指示病例"),
    gettext_lazy("病种"),
    gettext_lazy("关系"),
    gettext_lazy("接触场景"),
    gettext_lazy("末次接触时间"),
    gettext_lazy("发现方式"),
    gettext_lazy("登记时间"),
    gettext_lazy("管控截止时间"),
    gettext_lazy("落实管控时间"),
]


def _degree_label(contact: Contact) -> str:
    return _("密接") if contact.degree == 1 else _("次密接")


def contact_export(request):
    require_capability(request.user, Capability.EXPORT_DATA)
    filters = ContactFilterForm(request.GET, user=request.user)
    contacts = filters.contacts()
    if refused := refuse_oversized_export(request, contacts, reverse("contact_list")):
        return refused
    rows = [
        [
            c.pk,
            c.person.name,
            c.person.get_sex_display(),
            c.person.id_number_masked,
            c.person.phone_masked,
            c.region.full_name,
            _degree_label(c),
            f"#{c.index_case_id}",
            c.disease_name,
            c.relation,
            c.get_setting_display(),
            local_minute(c.last_exposure_at),
            c.get_found_by_display(),
            local_minute(c.registered_at),
            local_minute(c.control_due_at),
            local_minute(c.controlled_at),
        ]
        for c in contacts
    ]
    return logged_xlsx_response(
        request,
        _("密切接触者名单"),
        CONTACT_EXPORT_COLUMNS,
        rows,
        filename="contacts.xlsx",
        filters=filters.applied(),
    )


@require_POST
def contact_controlled(request, pk: int):
    require_capability(request.user, Capability.TRACE_CONTACTS)
    contact = get_visible_or_404(Contact, request.user, pk=pk)
    try:
        services.mark_controlled(request.user, contact)
    except services.TracingRuleError as refused:
        messages.error(request, refused.message)
    else:
        messages.success(request, _("已落实管控：%(name)s") % {"name": contact.person.name})
    return back_to(request, reverse("contact_list"))


# Registering contacts ---------------------------------------------------------------------


def case_contacts(request, case_id: int):
    """A case's contacts (close contacts with their own contacts nested), the register
    form, the import and the assistance list."""
    require_capability(request.user, Capability.VIEW_PERSONS)
    case = reported_case_or_404(request.user, case_id)
    return _register_page(request, case=case)


def secondary_contacts(request, pk: int):
    """Register a contact of a close contact (次密接)."""
    require_capability(request.user, Capability.VIEW_PERSONS)
    source = get_visible_or_404(Contact, request.user, pk=pk, case__isnull=False)
    return _register_page(request, source_contact=source)


def _register_page(request, *, case=None, source_contact=None):
    user = request.user
    fixed = {"case": case, "source_contact": source_contact}
    creating = request.POST.get("mode") == "new"
    person_form = PersonForm(request.POST if creating else None, user=user, prefix="person")
    form = ContactForm(
        request.POST or None,
        user=user,
        with_person=not creating,
        initial={"person": request.GET.get("person")},
        **fixed,
    )
    if request.method == "POST":
        require_capability(user, Capability.TRACE_CONTACTS)
        if form.is_valid() and (not creating or person_form.is_valid()):
            try:
                if creating:
                    services.register_new_contact(user, person_form.cleaned_data, **form.details())
                else:
                    services.register_contact(
                        user, person=form.cleaned_data["person"], **form.details()
                    )
            except services.TracingRuleError as refused:
                add_rule_error(form, refused)
            except DuplicatePersonError:
                person_form.add_error("id_number", _("该证件号码已登记，不能重复登记。"))
            else:
                messages.success(request, _("已登记密接，12小时内需落实管控。"))
                return redirect(request.path)
    query = request.GET.get("q", "").strip()
    found = (
        Person.objects.visible_to(user).search(query).select_related("grid")[:LOOKUP_LIMIT]
        if len(query) >= 2
        else []
    )
    if request.headers.get("HX-Target") == "person-results":
        return render(request, "tracing/partials/person_results.html", {"found": found, "q": query})
    chosen_id = str(form["person"].value() or "") if "person" in form.fields else ""
    chosen = (
        Person.objects.visible_to(user).select_related("grid").filter(pk=chosen_id).first()
        if chosen_id.isdigit()
        else None
    )
    context = {
        "case": case,
        "source_contact": source_contact,
        "index_case": case or source_contact.case,
        "form": form,
        "person_form": person_form,
        "creating": creating,
        "q": query,
        "found": found,
        "chosen": chosen,
        **_registered(user, case, source_contact),
        "now": timezone.now(),
        "can_edit": user.can(Capability.TRACE_CONTACTS),
        "can_export_assistance": user.can(Capability.EXPORT_DATA)
        and user.can(Capability.REVEAL_PERSONAL_DATA),
    }
    return render(request, "tracing/case_contacts.html", context)


def _registered(user, case, source_contact) -> dict:
    """`secondaries` of a close contact, or the case's `groups`: each close contact with
    its own contacts, in two queries for the whole case. Contacts of close contacts the user
    cannot see come last, under None."""
    visible = (
        Contact.objects.visible_to(user)
        .with_control_due()
        .select_related("person", "region")
        .order_by("registered_at", "id")
    )
    if source_contact is not None:
        return {"secondaries": list(visible.filter(source_contact=source_contact))}
    close = list(visible.filter(case=case))
    nested: dict[int, list[Contact]] = {contact.pk: [] for contact in close}
    orphans = []
    for contact in visible.filter(source_contact__case=case):
        nested.get(contact.source_contact_id, orphans).append(contact)
    groups = [(contact, nested[contact.pk]) for contact in close]
    return {"groups": groups + ([(None, orphans)] if orphans else [])}


def contact_import(request, case_id: int):
    require_capability(request.user, Capability.TRACE_CONTACTS)
    case = reported_case_or_404(request.user, case_id)
    form = ContactImportForm(request.POST or None, request.FILES or None)
    result = None
    if request.method == "POST" and form.is_valid():
        try:
            result = imports.import_contacts(
                request.user,
                case,
                form.cleaned_data["file"],
                found_by=form.cleaned_data["found_by"],
                source_note=form.source_note(),
            )
        except imports.ImportFileError as refused:
            form.add_error("file", refused.message)
        except DuplicatePersonError:
            form.add_error(None, _("导入期间有人登记了相同证件号码的人员，请重新导入。"))
    context = {
        "case": case,
        "form": form,
        "result": result,
        "columns": imports.TEMPLATE_COLUMNS,
    }
    return render(request, "tracing/contact_import.html", context)


def contact_import_template(request):
    require_capability(request.user, Capability.TRACE_CONTACTS)
    return imports.template_response()


ASSISTANCE_COLUMNS = [
    gettext_lazy("姓名"),
    gettext_lazy("性别"),
    gettext_lazy("出生日期"),
    gettext_lazy("证件类型"),
    gettext_lazy("证件号码"),
    gettext_lazy("联系电话"),
    gettext_lazy("外地地址"),
    gettext_lazy("本地住址"),
    gettext_lazy("类别"),
    gettext_lazy("关系"),
    gettext_lazy("接触场景"),
    gettext_lazy("末次接触时间"),
    gettext_lazy("病种"),
    gettext_lazy("指示病例诊断时间"),
    gettext_lazy("登记时间"),
]


def assistance_export(request, case_id: int):
    """The list handed to another jurisdiction: it must carry the full ID and phone, so it
    needs the reveal right as well as the export right, and is logged as both."""
    require_capability(request.user, Capability.EXPORT_DATA)
    require_capability(request.user, Capability.REVEAL_PERSONAL_DATA)
    case = reported_case_or_404(request.user, case_id)
    contacts = list(services.assistance_contacts(request.user, case))
    rows = [
        [
            c.person.name,
            c.person.get_sex_display(),
            c.person.birth_date,
            c.person.get_id_type_display(),
            c.person.id_number,
            c.person.phone,
            c.source_note,
            c.person.address,
            _degree_label(c),
            c.relation,
            c.get_setting_display(),
            local_minute(c.last_exposure_at),
            case.disease.name,
            local_minute(case.diagnosed_at),
            local_minute(c.registered_at),
        ]
        for c in contacts
    ]
    services.log_assistance_export(request.user, case, contacts, request=request)
    return xlsx_response(
        _("协查名单"), ASSISTANCE_COLUMNS, rows, filename=f"assistance-{case.pk}.xlsx"
    )
