from django.contrib import admin

from fangyi.lab.models import Regimen, TurnaroundRule

# Tubes, results and rounds are written on the pages and by imports, where scope, the
# follow-up flows and the audit apply. The rules (turnaround limits, testing regimens) are
# data an administrator maintains here.


@admin.register(TurnaroundRule)
class TurnaroundRuleAdmin(admin.ModelAdmin):
    list_display = ["purpose", "hours", "basis"]


@admin.register(Regimen)
class RegimenAdmin(admin.ModelAdmin):
    list_display = ["name", "key_group", "measure_category", "every_days", "active"]
    list_filter = ["active"]
