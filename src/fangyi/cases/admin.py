from django.contrib import admin

from fangyi.cases.models import CaseReport
from fangyi.core.admin import ReadOnlyAdmin


@admin.register(CaseReport)
class CaseReportAdmin(ReadOnlyAdmin):
    """Cards change only through the workflow (report, review, revise, delete) on the pages."""

    list_display = ["id", "person", "disease", "classification", "status", "diagnosed_at"]
    list_filter = ["status", "classification", "disease"]
