from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fangyi.core.access import ScopedQuerySet


class AuditEntry(models.Model):
    """What every audit record has: when, what was done to which record, in which region."""

    at = models.DateTimeField(_("时间"), default=timezone.now, db_index=True)
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(_("对象"), max_length=200)
    region = models.ForeignKey("geo.Region", null=True, on_delete=models.PROTECT, related_name="+")

    objects = ScopedQuerySet.as_manager()
    scope_region_field = "region"

    class Meta:
        abstract = True
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.get_action_display()} {self.object_repr}"


class ChangeLog(AuditEntry):
    """One change to a record: who, when, what (field → [before, after], masked)."""

    class Action(models.TextChoices):
        CREATE = "create", _("新增")
        UPDATE = "update", _("修改")
        DELETE = "delete", _("删除")

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("操作人"),
        null=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    action = models.CharField(_("操作"), max_length=16, choices=Action.choices)
    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT)
    changes = models.JSONField(_("变更内容"), default=dict)
    reason = models.TextField(_("原因"), blank=True)

    class Meta(AuditEntry.Meta):
        verbose_name = _("变更记录")
        verbose_name_plural = _("变更记录")
        indexes = [models.Index(fields=["content_type", "object_id", "-at"])]


class AccessLog(AuditEntry):
    """A reveal of personal data in full, or an export: PIPL requires both be traceable."""

    class Action(models.TextChoices):
        REVEAL = "reveal", _("查看完整信息")
        EXPORT = "export", _("导出")

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("操作人"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    action = models.CharField(_("操作"), max_length=16, choices=Action.choices)
    content_type = models.ForeignKey(ContentType, null=True, on_delete=models.PROTECT)
    detail = models.JSONField(_("详情"), default=dict)
    ip_address = models.GenericIPAddressField(_("IP 地址"), null=True)
    via = models.CharField(_("途径"), max_length=16, default="web")

    class Meta(AuditEntry.Meta):
        verbose_name = _("访问记录")
        verbose_name_plural = _("访问记录")


class JobHeartbeat(models.Model):
    """Last run of each periodic job, so an admin can see the job consumer is alive."""

    name = models.CharField(max_length=64, primary_key=True)
    last_run_at = models.DateTimeField()
    runs = models.PositiveBigIntegerField(default=0)

    class Meta:
        verbose_name = _("后台任务心跳")
        verbose_name_plural = _("后台任务心跳")

    def __str__(self) -> str:
        return self.name
