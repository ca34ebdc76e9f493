"""Pages of sampling: the sample list and its export, the barcode-first collection page,
pooled tubes scanned person by person, environmental swabs, and a tube's own page with
the result form.

The collection pages are built for scanners and phones: a scanner types a code and Enter,
so each page has one field focused and is ready for the next tube (or person) in one
step; purpose, sample type, site and lab stay chosen in the session between tubes."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from fangyi.accounts.roles import Capability
from fangyi.core.access import get_visible_or_404, require_capability
from fangyi.core.excel import logged_xlsx_response, refuse_oversized_export
from fangyi.core.masking import mask_id_number, mask_name
from fangyi.core.paging import paginate
from fangyi.core.rules import add_rule_error
from fangyi.core.timefmt import local_minute
from fangyi.lab import services
from fangyi.lab.forms import (
    CollectForm,
    EnvironmentForm,
    MemberForm,
    ResultForm,
    SampleFilterForm,
    TubeForm,
    focus_first_error,
    is_document_number,
)
from fangyi.lab.models import CollectionSite, Examinee, Purpose, Sample, SampleType

SAMPLE_PAGE_SIZE = 50
# Counting every tube of a mass screening tells the user nothing; past this, "more than".
SAMPLE_COUNT_CAP = 10_000
RECENT_TUBES = 10
MEMBER_NAMES_SHOWN = 3
COLLECT_SETTINGS = "lab_collect"
TUBE_SETTINGS = "lab_tube"
ENVIRONMENT_SETTINGS = "lab_environment"


def _refused(form, refused: services.LabRuleError) -> None:
    """A service refusal next to the field; the services call the scanned persons
    "persons", the pages "person"."""
    if refused.field == "persons":
        refused.field = "person"
    add_rule_error(form, refused)


def _is_fragment(request) -> bool:
    return request.headers.get("HX-Request") == "true"


# List -------------------------------------------------------------------------------------


def sample_list(request):
    require_capability(request.user, Capability.VIEW_LAB)
    filters = SampleFilterForm(request.GET, user=request.user)
    if request.GET.get("format") == "xlsx":
        return _sample_export(request, filters)
    page, query = paginate(request, filters.samples(), SAMPLE_PAGE_SIZE, count_cap=SAMPLE_COUNT_CAP)
    for sample in page:
        sample.who = _who(sample)
    context = {
        "filters": filters,
        "page": page,
        "query": query,
        "can_export": request.user.can(Capability.EXPORT_DATA),
    }
    partial = request.headers.get("HX-Target") == "sample-table"
    template = "lab/_sample_table.html" if partial else "lab/sample_list.html"
    return render(request, template, context)


def _who(sample: Sample) -> str:
    """The tube's persons as a row shows them (masked), or its place."""
    if sample.place_id:
        return f"{sample.place.name} {sample.object_description}".strip()
    names = [mask_name(member.person.name) for member in sample.examinees.all()]
    if len(names) <= MEMBER_NAMES_SHOWN:
        return "、".join(names)
    shown = "、".join(names[:MEMBER_NAMES_SHOWN])
    return _("%(names)s等%(count)d人") % {"names": shown, "count": len(names)}


SAMPLE_EXPORT_COLUMNS = [
    gettext_lazy("条码"),
    gettext_lazy("样本类型"),
    gettext_lazy("检测目的"),
    gettext_lazy("混采人数"),
    gettext_lazy("受检者"),
    gettext_lazy("证件号码"),
    gettext_lazy("采样场所及对象"),
    gettext_lazy("采样时间"),
    gettext_lazy("采样点"),
    gettext_lazy("送样单位"),
    gettext_lazy("检测实验室"),
    gettext_lazy("接收时间"),
    gettext_lazy("结果时限"),
    gettext_lazy("检测结果"),
    gettext_lazy("结果时间"),
    gettext_lazy("超时"),
]


def _sample_export(request, filters: SampleFilterForm):
    require_capability(request.user, Capability.EXPORT_DATA)
    samples = filters.samples()
    if refused := refuse_oversized_export(request, samples, reverse("lab_home")):
        return refused
    rows = []
    for sample in samples:
        persons = [member.person for member in sample.examinees.all()]
        rows.append(
            [
                sample.barcode,
                sample.get_sample_type_display(),
                sample.get_purpose_display(),
                sample.pool_size or "",
                "、".join(mask_name(p.name) for p in persons),
                "、".join(p.id_number_masked for p in persons),
                f"{sample.place.name} {sample.object_description}" if sample.place_id else "",
                local_minute(sample.collected_at),
                sample.site.name if sample.site_id else "",
                str(sample.collecting_organisation or ""),
                str(sample.lab or ""),
                local_minute(sample.received_at),
                local_minute(sample.due_at),
                sample.get_result_display() if sample.result else _("待出结果"),
                local_minute(sample.result_at),
                _("超时") if sample.is_late else "",
            ]
        )
    return logged_xlsx_response(
        request,
        _("样本列表"),
        SAMPLE_EXPORT_COLUMNS,
        rows,
        filename="samples.xlsx",
        filters=filters.applied(),
    )


# One person's tube ------------------------------------------------------------------------


def collect(request):
    """Scan the tube, scan the person, Enter: saved, and the page is ready for the next."""
    require_capability(request.user, Capability.COLLECT_SAMPLES)
    user = request.user
    initial = {"purpose": Purpose.FEVER_CLINIC, "sample_type": SampleType.OROPHARYNGEAL}
    initial |= request.session.get(COLLECT_SETTINGS, {})
    # A link may preset the purpose (a pool member's re-test) and the person.
    initial |= {
        name: request.GET[name] for name in ("purpose", "sample_type") if request.GET.get(name)
    }
    if request.GET.get("person"):
        initial["person_pk"] = request.GET["person"]
    form = CollectForm(request.POST or None, user=user, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        person = data["examinee"]
        try:
            sample = services.collect_sample(
                user,
                barcode=data["barcode"],
                purpose=data["purpose"],
                persons=[person],
                pool_size=1,
                sample_type=data["sample_type"],
                site=data["site"],
                lab=data["lab"],
            )
        except services.LabRuleError as refused:
            _refused(form, refused)
        else:
            request.session[COLLECT_SETTINGS] = form.sticky()
            messages.success(
                request,
                _("已登记 %(barcode)s %(name)s")
                % {
                    "barcode": sample.barcode,
                    "name": mask_name(person.name),
                },
            )
            return redirect("lab_collect")
    focus_first_error(form)
    recent = (
        Sample.objects.visible_to(user)
        .filter(collector=user)
        .prefetch_related("examinees__person")[:RECENT_TUBES]
    )
    for sample in recent:
        sample.who = _who(sample)
    return render(request, "lab/collect.html", {"form": form, "recent": recent})


# Pooled tubes -----------------------------------------------------------------------------


def tube_new(request):
    """Scan a pooled tube's barcode: the tube is registered empty, its members follow."""
    require_capability(request.user, Capability.COLLECT_SAMPLES)
    user = request.user
    initial = {
        "pool_size": 10,
        "purpose": Purpose.MASS_SCREENING,
        "sample_type": SampleType.OROPHARYNGEAL,
    }
    initial |= request.session.get(TUBE_SETTINGS, {})
    site_id = request.GET.get("site", "")
    site = (
        CollectionSite.objects.visible_to(user)
        .select_related("campaign")
        .filter(pk=site_id)
        .first()
        if site_id.isdigit()
        else None
    )
    if site is not None:
        pool_size = site.campaign.pool_size
        initial |= {"site": site.pk, "purpose": Purpose.MASS_SCREENING}
        initial["pool_size"] = pool_size if pool_size in (5, 10) else 10
    form = TubeForm(request.POST or None, user=user, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            sample = services.collect_sample(
                user,
                barcode=data["barcode"],
                purpose=data["purpose"],
                persons=[],
                pool_size=data["pool_size"],
                sample_type=data["sample_type"],
                site=data["site"],
                lab=data["lab"],
            )
        except services.LabRuleError as refused:
            _refused(form, refused)
        else:
            request.session[TUBE_SETTINGS] = form.sticky()
            return redirect("lab_tube", pk=sample.pk)
    focus_first_error(form)
    return render(request, "lab/tube_new.html", {"form": form})


def tube(request, pk: int):
    """A pooled tube being filled: each scan (ID number + Enter) adds one member. A
    fetch from the page's script gets only the members part back."""
    require_capability(request.user, Capability.VIEW_LAB)
    user = request.user
    sample = get_visible_or_404(Sample, user, pk=pk)
    if not sample.is_pool:
        return redirect("lab_sample", pk=sample.pk)
    form = MemberForm(request.POST or None, user=user)
    outcome = None
    if request.method == "POST":
        require_capability(user, Capability.COLLECT_SAMPLES)
        if form.is_valid():
            person = form.cleaned_data["examinee"]
            try:
                member = services.add_to_tube(user, sample, person)
            except services.LabRuleError as refused:
                _refused(form, refused)
            else:
                outcome = _("已加入 %(name)s（%(position)d/%(size)d）") % {
                    "name": mask_name(person.name),
                    "position": member.position,
                    "size": sample.pool_size,
                }
                if not _is_fragment(request):
                    messages.success(request, outcome)
                    return redirect("lab_tube", pk=sample.pk)
                form = MemberForm(user=user)
    context = _tube_context(request, sample, form, outcome)
    if _is_fragment(request):
        return render(request, "lab/_sample_members.html", context)
    return render(request, "lab/tube.html", context)


def _tube_context(request, sample: Sample, form: MemberForm, outcome: str | None) -> dict:
    members = list(sample.examinees.select_related("person").order_by("position"))
    for member in members:
        member.masked_name = mask_name(member.person.name)
    scanned = form.data.get("person", "") if form.is_bound else ""
    is_open = sample.result is None and sample.received_at is None
    full = len(members) >= sample.pool_size
    return {
        "sample": sample,
        "members": members,
        "form": form,
        "outcome": outcome,
        # An ID number that failed is echoed masked, for the collector to find the person.
        "scanned": mask_id_number(scanned) if is_document_number(scanned) else scanned,
        "is_open": is_open,
        "full": full,
        "can_scan": is_open and not full and request.user.can(Capability.COLLECT_SAMPLES),
        "next_tube": _next_tube_form(request, sample) if full and is_open else None,
    }


def _next_tube_form(request, sample: Sample) -> TubeForm | None:
    """The next tube at the same site with the same settings: only its barcode to scan."""
    if not request.user.can(Capability.COLLECT_SAMPLES):
        return None
    return TubeForm(
        user=request.user,
        initial={
            "pool_size": sample.pool_size,
            "purpose": sample.purpose,
            "sample_type": sample.sample_type,
            "site": sample.site_id,
            "lab": sample.lab_id,
        },
    )


# Environmental samples --------------------------------------------------------------------


def environment_new(request):
    """A swab of a place (a stall, goods, a surface); the place stays chosen for the next."""
    require_capability(request.user, Capability.COLLECT_SAMPLES)
    initial = {"place": request.GET.get("place"), **request.session.get(ENVIRONMENT_SETTINGS, {})}
    form = EnvironmentForm(request.POST or None, user=request.user, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            sample = services.collect_sample(
                request.user,
                barcode=data["barcode"],
                purpose=Purpose.ENVIRONMENTAL,
                place=data["place"],
                object_description=data["object_description"],
                lab=data["lab"],
            )
        except services.LabRuleError as refused:
            add_rule_error(form, refused)
        else:
            request.session[ENVIRONMENT_SETTINGS] = {"lab": data["lab"].pk if data["lab"] else ""}
            messages.success(
                request,
                _("已登记 %(barcode)s %(place)s %(object)s")
                % {
                    "barcode": sample.barcode,
                    "place": data["place"].name,
                    "object": sample.object_description,
                },
            )
            return redirect(f"{reverse('lab_environment')}?place={data['place'].pk}")
    focus_first_error(form)
    return render(request, "lab/environment.html", {"form": form})


# A tube's page and its result -------------------------------------------------------------


def sample_detail(request, pk: int):
    require_capability(request.user, Capability.VIEW_LAB)
    return _sample_page(request, get_visible_or_404(Sample, request.user, pk=pk))


def _sample_page(request, sample: Sample, *, result_form: ResultForm | None = None):
    can_record = sample.result is None and request.user.can(Capability.RECORD_RESULTS)
    members = list(sample.examinees.select_related("person", "retest").order_by("position"))
    for member in members:
        member.masked_name = mask_name(member.person.name)
    turnaround = sample.turnaround
    context = {
        "sample": sample,
        "members": members,
        "ct_text": " · ".join(f"{gene} {value}" for gene, value in sample.ct_values.items()),
        "turnaround_hours": round(turnaround.total_seconds() / 3600, 1) if turnaround else None,
        "pool_positive": Examinee.Status.POOL_POSITIVE,
        "result_form": (result_form or ResultForm()) if can_record else None,
        "can_collect": request.user.can(Capability.COLLECT_SAMPLES),
    }
    return render(request, "lab/sample_detail.html", context)


@require_POST
def sample_result(request, pk: int):
    require_capability(request.user, Capability.RECORD_RESULTS)
    sample = get_visible_or_404(Sample, request.user, pk=pk)
    form = ResultForm(request.POST)
    if form.is_valid():
        try:
            services.record_result(request.user, sample, **form.values())
        except services.LabRuleError as refused:
            add_rule_error(form, refused)
        else:
            sample.refresh_from_db(fields=["result"])
            messages.success(
                request, _("已录入结果：%(result)s") % {"result": sample.get_result_display()}
            )
            return redirect("lab_sample", pk=sample.pk)
    return _sample_page(request, sample, result_form=form)


urlpatterns = [
    path("", sample_list, name="lab_home"),
    path("collect/", collect, name="lab_collect"),
    path("tubes/new/", tube_new, name="lab_tube_new"),
    path("tubes/<int:pk>/", tube, name="lab_tube"),
    path("samples/<int:pk>/", sample_detail, name="lab_sample"),
    path("samples/<int:pk>/result/", sample_result, name="lab_sample_result"),
    path("environment/new/", environment_new, name="lab_environment"),
]
