from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.utils.translation import gettext_lazy as _

from fangyi.accounts.models import ApiToken, User
from fangyi.accounts.services import create_api_token, record_user_change
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

    # Every change to a user is audited with its values (roles are saved with the related
    # fields, so the record is written after save_related).
    def save_model(self, request, obj, form, change):
        obj._audit_before = User.objects.get(pk=obj.pk).audit_snapshot() if change else {}
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        user = form.instance
        record_user_change(request.user, user, getattr(user, "_audit_before", {}))

    def user_change_password(self, request, id, form_url=""):
        user = self.get_object(request, id)
        before = user.audit_snapshot() if user else {}
        response = super().user_change_password(request, id, form_url)
        if request.method == "POST" and response.status_code == 302:
            user.refresh_from_db()
            record_user_change(request.user, user, before)
        return response


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "prefix", "created_at", "last_used_at", "revoked_at"]
    raw_id_fields = ["user"]
    fields = ["user", "name"]
    actions = ["revoke"]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(user__in=User.objects.visible_to(request.user))

    def has_change_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        """An admin creates a token for a user; the raw value is shown once, here."""
        token, raw = create_api_token(obj.user, obj.name, created_by=request.user)
        obj.pk = token.pk
        messages.warning(
            request,
            _("令牌已创建（只显示这一次，请立即复制交给使用方）：%(token)s") % {"token": raw},
        )

    @admin.action(description=_("撤销所选令牌"))
    def revoke(self, request, queryset):
        from django.utils import timezone

        queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
