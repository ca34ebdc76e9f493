from django.contrib import admin

from fangyi.core.audit import diff, record_change
from fangyi.core.models import ChangeLog
from fangyi.diseases.models import Disease


@admin.register(Disease)
class DiseaseAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "code",
        "legal_class",
        "managed_as_class_a",
        "report_within_hours",
        "kind",
        "is_active",
    ]
    list_filter = ["legal_class", "managed_as_class_a", "kind", "is_active"]
    search_fields = ["name", "code", "name_en"]

    def save_model(self, request, obj, form, change):
        # Catalogue edits change time limits for every unit: each one is audited.
        before = Disease.objects.get(pk=obj.pk).audit_snapshot() if change else {}
        super().save_model(request, obj, form, change)
        action = ChangeLog.Action.UPDATE if change else ChangeLog.Action.CREATE
        record_change(request.user, obj, action, diff(before, obj.audit_snapshot()))
