from django.contrib import admin

from fangyi.surveillance.models import DetectorRule, DutyRoster, SerialInterval


@admin.register(DetectorRule)
class DetectorRuleAdmin(admin.ModelAdmin):
    list_display = ["source", "topic", "level", "method", "params", "single_case", "is_active"]
    list_filter = ["source", "method", "level", "is_active"]


@admin.register(DutyRoster)
class DutyRosterAdmin(admin.ModelAdmin):
    list_display = ["region", "user", "start_date", "end_date"]


@admin.register(SerialInterval)
class SerialIntervalAdmin(admin.ModelAdmin):
    list_display = ["disease", "mean_days", "sd_days", "basis"]
