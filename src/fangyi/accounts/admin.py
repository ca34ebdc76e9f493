from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.utils.translation import gettext_lazy as _

from fangyi.accounts.models import ApiToken, User
from fangyi.core.admin import ScopedAdminMixin


@admin.register(User)
class FangyiUserAdmin(ScopedAdminMixin, UserAdmin):
    list_display = ["username", "get_full_name", "organisation", "region", "is_active"]
    list_filter = ["roles", "is_active", "is_staff"]
    raw_id_fields = ["organisation", "region"]
    filter_horizontal = ["roles", "groups", "user_permissions"]
    fieldsets = UserAdmin.fieldsets + (
        (_("管辖与角色"), {"fields": ["organisation", "region", "roles"]}),
    )


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "prefix", "created_at", "last_used_at", "revoked_at"]
    raw_id_fields = ["user"]
    readonly_fields = ["prefix", "created_at", "last_used_at"]
    actions = ["revoke"]

    @admin.action(description=_("撤销所选令牌"))
    def revoke(self, request, queryset):
        from django.utils import timezone

        queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())

    def has_add_permission(self, request):
        # Tokens are created on the token page so the raw value is shown once to its owner.
        return False
