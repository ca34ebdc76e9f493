from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from fangyi.accounts.roles import Capability
from fangyi.core.access import get_visible_or_404, require_capability
from fangyi.core.audit import history_of
from fangyi.core.excel import logged_xlsx_response, refuse_oversized_export
from fangyi.measures.models import Measure
from fangyi.people import services
from fangyi.people.exports import PERSON_EXPORT_COLUMNS, person_export_rows
from fangyi.people.filters import PersonFilterForm
from fangyi.people.forms import PersonForm
from fangyi.people.models import Person


def person_list(request):
    require_capability(request.user, Capability.VIEW_PERSONS)
    filters = PersonFilterForm(request.GET, user=request.user)
    page, query = filters.page(request)
    context = {"filters": filters, "page": page, "query": query}
    partial = request.headers.get("HX-Target") == "person-table"
    template = "people/partials/person_table.html" if partial else "people/person_list.html"
    return render(request, template, context)


def person_export(request):
    require_capability(request.user, Capability.EXPORT_DATA)
    filters = PersonFilterForm(request.GET, user=request.user)
    persons = filters.persons().select_related("grid").prefetch_related("key_groups")
    if refused := refuse_oversized_export(request, persons, reverse("person_list")):
        return refused
    rows = person_export_rows(persons)
    return logged_xlsx_response(
        request,
        _("人员名单"),
        PERSON_EXPORT_COLUMNS,
        rows,
        filename="persons.xlsx",
        filters=filters.applied(),
    )


def person_detail(request, pk: int):
    require_capability(request.user, Capability.VIEW_PERSONS)
    person = get_visible_or_404(Person, request.user, pk=pk)
    labels = PersonForm.field_labels()
    history = [
        (entry, [(labels.get(field, field), *values) for field, values in entry.changes.items()])
        for entry in history_of(person)[:100]
    ]
    can_view_measures = request.user.can(Capability.VIEW_MEASURES)
    measures = Measure.objects.visible_to(request.user).active().filter(person=person)
    context = {
        "person": person,
        "history": history,
        "can_reveal": request.user.can(Capability.REVEAL_PERSONAL_DATA),
        "can_edit": request.user.can(Capability.EDIT_PERSONS),
        "can_view_measures": can_view_measures,
        "current_measure": measures.first() if can_view_measures else None,
        "can_place": request.user.can(Capability.MANAGE_MEASURES),
    }
    return render(request, "people/person_detail.html", context)


@require_POST
def person_reveal(request, pk: int):
    require_capability(request.user, Capability.REVEAL_PERSONAL_DATA)
    person = get_visible_or_404(Person, request.user, pk=pk)
    revealed = services.reveal_personal_data(request.user, person, request=request)
    return render(request, "people/partials/identity.html", {"person": person, **revealed})


def person_create(request):
    require_capability(request.user, Capability.EDIT_PERSONS)
    form = PersonForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        person = services.create_person(request.user, form.cleaned_data)
        messages.success(request, _("已登记：%(name)s") % {"name": person.name})
        return redirect("person_detail", pk=person.pk)
    return render(request, "people/person_form.html", {"form": form})


def person_edit(request, pk: int):
    require_capability(request.user, Capability.EDIT_PERSONS)
    person = get_visible_or_404(Person, request.user, pk=pk)
    form = PersonForm(request.POST or None, instance=person, user=request.user)
    if request.method == "POST" and form.is_valid():
        services.update_person(request.user, person, form.cleaned_data)
        messages.success(request, _("已保存修改。"))
        return redirect("person_detail", pk=person.pk)
    return render(request, "people/person_form.html", {"form": form, "person": person})
