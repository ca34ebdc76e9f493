from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
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


class Duty(models.TextChoices):
    """Duties with a time limit (ARCHITECTURE "Deadlines")."""

    REPORT_CASE = "report_case", _("传染病报告")
    REVIEW_CASE = "review_case", _("报告卡审核")
    INVESTIGATE_CASE = "investigate_case", _("流行病学调查")
    CONTROL_CONTACT = "control_contact", _("密接管控")
    REFER_FEVER = "refer_fever", _("发热转诊与采样")
    MISSED_CHECK = "missed_check", _("漏测健康监测跟进")
    MEASURE_TEST = "measure_test", _("管控期核酸采样")
    RESULT_SAMPLE = "result_sample", _("核酸检测结果反馈")
    REPORT_POSITIVE = "report_positive", _("核酸阳性病例报告")
    POOL_RETEST = "pool_retest", _("混采阳性单管复核")
    RESAMPLE = "resample", _("无效样本重采")
    VERIFY_RISK_FLAGS = "verify_risk_flags", _("风险地区旅居人员核查")
    PLACE_ARRIVAL = "place_arrival", _("来返人员落实管控")
    DAILY_REPORT = "daily_report", _("社区疫情日报告")
    CANVASS = "canvass", _("入户排查")
    VERIFY_SIGNAL = "verify_signal", _("预警信号核实")
    REPORT_SALES = "report_sales", _("药店购药登记上报")
    FOLLOW_UP_BUYER = "follow_up_buyer", _("发热购药人员跟进")


class DeadlineRule(models.Model):
    """A time limit held as data: `hours` after the start of a duty (urgent: Class A and
    diseases managed as Class A, where the rule differs for them)."""

    duty = models.CharField(_("职责"), max_length=32, choices=Duty.choices)
    urgent = models.BooleanField(_("甲类及按甲类管理"), default=False)
    hours = models.PositiveIntegerField(_("时限（小时）"))
    basis = models.CharField(_("依据"), max_length=255, blank=True)

    class Meta:
        verbose_name = _("时限规则")
        verbose_name_plural = _("时限规则")
        constraints = [
            models.UniqueConstraint(fields=["duty", "urgent"], name="deadline_rule_unique")
        ]

    def __str__(self) -> str:
        return f"{self.get_duty_display()} {self.hours}h"


class TaskQuerySet(ScopedQuerySet):
    def open(self):
        return self.filter(status=Task.Status.OPEN)

    def overdue(self, now=None):
        return self.open().filter(due_at__lt=now or timezone.now())


class Task(models.Model):
    """A duty with a due time, about one record (a case, a contact…)."""

    class Status(models.TextChoices):
        OPEN = "open", _("待办")
        DONE = "done", _("已完成")
        CANCELLED = "cancelled", _("已取消")

    duty = models.CharField(_("职责"), max_length=32, choices=Duty.choices)
    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT)
    object_id = models.PositiveBigIntegerField()
    subject = GenericForeignKey("content_type", "object_id")
    subject_label = models.CharField(_("事项"), max_length=200)
    region = models.ForeignKey(
        "geo.Region", verbose_name=_("区划"), on_delete=models.PROTECT, related_name="+"
    )
    responsible_organisation = models.ForeignKey(
        "geo.Organisation",
        verbose_name=_("责任单位"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="tasks",
    )
    responsible_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("责任人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="tasks",
    )
    started_at = models.DateTimeField(_("起算时间"))
    due_at = models.DateTimeField(_("截止时间"), db_index=True)
    done_at = models.DateTimeField(_("完成时间"), null=True, blank=True)
    status = models.CharField(
        _("状态"), max_length=16, choices=Status.choices, default=Status.OPEN, db_index=True
    )
    overdue_alerted_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = TaskQuerySet.as_manager()
    scope_region_field = "region"

    class Meta:
        verbose_name = _("时限任务")
        verbose_name_plural = _("时限任务")
        ordering = ["due_at"]
        indexes = [
            models.Index(fields=["content_type", "object_id", "duty"]),
            models.Index(fields=["duty", "started_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.get_duty_display()}：{self.subject_label}"

    @property
    def is_overdue(self) -> bool:
        reference = self.done_at or timezone.now()
        return self.status != self.Status.CANCELLED and reference > self.due_at

    @property
    def delay(self):
        """How long past the due time it was done (None when open or on time)."""
        if self.done_at is None or self.done_at <= self.due_at:
            return None
        return self.done_at - self.due_at


class Alert(models.Model):
    """An in-app alert for a unit (and optionally one user), e.g. an overdue task."""

    created_at = models.DateTimeField(_("时间"), default=timezone.now, db_index=True)
    region = models.ForeignKey("geo.Region", on_delete=models.PROTECT, related_name="+")
    organisation = models.ForeignKey(
        "geo.Organisation", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="alerts",
    )
    task = models.ForeignKey(Task, null=True, blank=True, on_delete=models.CASCADE)
    message = models.CharField(_("内容"), max_length=255)
    read_at = models.DateTimeField(_("已读时间"), null=True, blank=True)

    objects = ScopedQuerySet.as_manager()
    scope_region_field = "region"

    class Meta:
        verbose_name = _("提醒")
        verbose_name_plural = _("提醒")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.message
