from django.contrib import admin

from fangyi.measures.models import Policy

# Measures, checks, facilities and rooms are edited on the pages, where scope, the deadline
# tasks and the audit apply. Policies are published as new versions on their page; the
# admin site only lists them.


@admin.register(Policy)
class PolicyAdmin(admin.ModelAdmin):
    list_display = ["category", "version", "effective_from", "measure_type", "days", "then_type"]
    list_filter = ["category"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
