from django.contrib import admin

from fangyi.travel.models import ArrivalRule, MatchRule, ReportRule

# Risk areas, arrivals, visits and reports are written on the pages, where scope and the
# audit apply. The rules (look-back window, arrival classes, the daily report's deadline)
# are versioned data an administrator maintains here: add a row with a later effective
# date rather than editing the one in force, so past decisions keep their rule.


@admin.register(MatchRule)
class MatchRuleAdmin(admin.ModelAdmin):
    list_display = ["effective_from", "look_back_days", "basis"]


@admin.register(ArrivalRule)
class ArrivalRuleAdmin(admin.ModelAdmin):
    list_display = [
        "origin_level",
        "version",
        "effective_from",
        "category",
        "certificate_hours",
        "basis",
    ]
    list_filter = ["origin_level"]


@admin.register(ReportRule)
class ReportRuleAdmin(admin.ModelAdmin):
    list_display = ["effective_from", "deadline", "basis"]
