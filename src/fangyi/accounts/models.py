import hashlib
import secrets

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fangyi.accounts.roles import ROLE_CAPABILITIES, Capability, RoleCode
from fangyi.core.access import ScopedQuerySet


class Role(models.Model):
    """One row per RoleCode (seeded by a migration) so users can be queried by role."""

    code = models.CharField(_("代码"), max_length=32, primary_key=True, choices=RoleCode.choices)

    class Meta:
        verbose_name = _("角色")
        verbose_name_plural = _("角色")
        ordering = ["code"]

    def __str__(self) -> str:
        return str(RoleCode(self.code).label)


class ScopedUserManager(UserManager.from_queryset(ScopedQuerySet)):
    pass


class User(AbstractUser):
    organisation = models.ForeignKey(
        "geo.Organisation",
        verbose_name=_("所属机构"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="users",
    )
    region = models.ForeignKey(
        "geo.Region",
        verbose_name=_("管辖区划"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="users",
        help_text=_("用户只能看到该区划及其下级的数据。"),
    )
    roles = models.ManyToManyField(Role, verbose_name=_("角色"), blank=True, related_name="users")

    objects = ScopedUserManager()
    scope_region_field = "region"

    class Meta:
        verbose_name = _("用户")
        verbose_name_plural = _("用户")

    def __str__(self) -> str:
        return self.get_full_name() or self.username

    def get_full_name(self) -> str:
        # Chinese order: family name first, no space.
        return f"{self.last_name}{self.first_name}".strip()

    def audit_snapshot(self) -> dict[str, str]:
        """Field → display value for the change log (the password only as changed or not)."""
        return {
            "username": self.username,
            "name": self.get_full_name(),
            "email": self.email,
            "is_active": str(self.is_active),
            "is_staff": str(self.is_staff),
            "is_superuser": str(self.is_superuser),
            "organisation": self.organisation.name if self.organisation_id else "",
            "region": self.region.full_name if self.region_id else "",
            "roles": "、".join(sorted(str(r) for r in self.roles.all())) if self.pk else "",
            "password": self.password[-12:],  # a change shows; the hash itself is not logged
        }

    def capabilities(self) -> frozenset[str]:
        if self.is_superuser:
            return frozenset(Capability.values)
        cached = getattr(self, "_capabilities", None)
        if cached is None:
            codes = [r.code for r in self.roles.all()]
            cached = frozenset().union(*(ROLE_CAPABILITIES.get(c, ()) for c in codes))
            self._capabilities = cached
        return cached

    def can(self, capability: str) -> bool:
        return self.is_active and capability in self.capabilities()


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiTokenQuerySet(models.QuerySet):
    def active(self):
        return self.filter(revoked_at__isnull=True, user__is_active=True)


class ApiToken(models.Model):
    """A per-user bearer token for machines. Only its SHA-256 is stored."""

    PREFIX_LENGTH = 8

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("名称"), max_length=64)
    prefix = models.CharField(max_length=PREFIX_LENGTH, editable=False)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)
    created_by = models.ForeignKey(
        User, null=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    last_used_at = models.DateTimeField(_("最近使用"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("撤销时间"), null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        verbose_name = _("API 令牌")
        verbose_name_plural = _("API 令牌")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def new_raw_token() -> str:
        return "fy_" + secrets.token_urlsafe(32)
