from django.contrib.auth.backends import ModelBackend

from fangyi.accounts.roles import Capability

# What each capability opens on the admin site (app labels); scope still applies there.
ADMIN_SITE_APPS = {
    Capability.MANAGE_USERS: {"accounts"},
    Capability.ADMINISTER: {
        "accounts",
        "geo",
        "people",
        "core",
        "diseases",
        "cases",
        "tracing",
        "measures",
        "lab",
    },
}


class RoleBackend(ModelBackend):
    """Django model permissions derived from Fangyi roles, so the admin site follows the
    same role → capability table as the pages (accounts.roles)."""

    def _apps(self, user) -> set[str]:
        if not user.is_active or not hasattr(user, "can"):
            return set()
        return set().union(*(apps for cap, apps in ADMIN_SITE_APPS.items() if user.can(cap)))

    def has_perm(self, user, perm, obj=None):
        return perm.split(".", 1)[0] in self._apps(user) or super().has_perm(user, perm, obj)

    def has_module_perms(self, user, app_label):
        return app_label in self._apps(user) or super().has_module_perms(user, app_label)
