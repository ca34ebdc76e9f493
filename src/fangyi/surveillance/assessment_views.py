"""The weekly risk assessment (每周分析研判): the week's figures, the conclusions form and
the printable report. Thin: figures and saving in `surveillance.assessment`."""

from datetime import date, timedelta

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone, translation
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from fangyi.accounts.roles import Capability
from fangyi.core.access import require_capability
from fangyi.core.pdf import pdf_response
from fangyi.core.rules import RuleError, add_rule_error
from fangyi.surveillance import assessment
from fangyi.surveillance.models import RiskAssessment


class ConclusionForm(forms.Form):
    risk_level = forms.ChoiceField(
        label=gettext_lazy("风险等级"), choices=RiskAssessment.Level.choices
    )
    conclusion = forms.CharField(
        label=gettext_lazy("研判结论"), widget=forms.Textarea(attrs={"rows": 5})
    )
    recommendations = forms.CharField(
        label=gettext_lazy("防控建议"), required=False, widget=forms.Textarea(attrs={"rows": 4})
    )


def requested_week(request) -> date:
    """The Monday of the week asked for (?week=, any day of it); the last complete week."""
    try:
        day = parse_date(request.GET.get("week") or "")
    except ValueError:
        day = None
    if day is None:
        return assessment.last_complete_week(timezone.localdate())
    return assessment.week_start_of(day)


def _context(request, week: date) -> dict:
    region = assessment.jurisdiction_of(request.user)
    return {
        "figures": assessment.weekly_figures(request.user, week),
        "assessment": assessment.assessment_of(region, week),
        "region": region,
    }


def assessment_page(request):
    require_capability(request.user, Capability.VIEW_SURVEILLANCE)
    week = requested_week(request)
    context = _context(request, week)
    form = None
    if request.user.can(Capability.MANAGE_SURVEILLANCE) and context["region"] is not None:
        saved = context["assessment"]
        initial = {
            "risk_level": saved.risk_level if saved else "",
            "conclusion": saved.conclusion if saved else "",
            "recommendations": saved.recommendations if saved else "",
        }
        form = ConclusionForm(request.POST or None, initial=initial)
    if request.method == "POST":
        require_capability(request.user, Capability.MANAGE_SURVEILLANCE)
        if form is not None and form.is_valid():
            try:
                assessment.save_conclusions(
                    request.user, context["region"], week, **form.cleaned_data
                )
            except RuleError as refused:
                add_rule_error(form, refused)
            else:
                messages.success(request, _("已保存本周研判结论。"))
                return redirect(f"{reverse('surveillance_assessment')}?week={week.isoformat()}")
    following = week + timedelta(days=7)
    this_week = assessment.week_start_of(timezone.localdate())
    context |= {"form": form, "next_week": following if following <= this_week else None}
    return render(request, "surveillance/assessment.html", context)


def assessment_pdf(request):
    require_capability(request.user, Capability.VIEW_SURVEILLANCE)
    week = requested_week(request)
    # An official report: always in Chinese, whatever the interface language.
    with translation.override("zh-hans"):
        context = _context(request, week) | {"printed_on": timezone.localdate()}
        return pdf_response(
            "surveillance/assessment_pdf.html",
            context,
            filename=f"risk-assessment-{week:%Y%m%d}.pdf",
            request=request,
        )


urlpatterns = [
    path("assessment/", assessment_page, name="surveillance_assessment"),
    path("assessment/pdf/", assessment_pdf, name="surveillance_assessment_pdf"),
]
