from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fangyi.core.access import ScopedQuerySet
from fangyi.core.timefmt import local_minute
from fangyi.diseases.models import Classification


class CaseReportQuerySet(ScopedQuerySet):
    def alive(self):
        return self.exclude(status=CaseReport.Status.DELETED)


class CaseReport(models.Model):
    """A notifiable disease report card (传染病报告卡)."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("草稿")
        SUBMITTED = "submitted", _("待审核")
        REVIEWED = "reviewed", _("已审核")
        DELETED = "deleted", _("已删除")

    person = models.ForeignKey(
        "people.Person", verbose_name=_("患者"), on_delete=models.PROTECT, related_name="cases"
    )
    disease = models.ForeignKey(
        "diseases.Disease", verbose_name=_("病种"), on_delete=models.PROTECT, related_name="cases"
    )
    classification = models.CharField(_("病例分类"), max_length=16, choices=Classification.choices)
    onset_date = models.DateField(_("发病日期"), null=True, blank=True)
    diagnosed_at = models.DateTimeField(_("诊断时间"))
    death_date = models.DateField(_("死亡日期"), null=True, blank=True)
    occupation = models.CharField(_("职业"), max_length=64, blank=True)
    address_at_onset = models.CharField(_("发病时现住址"), max_length=255, blank=True)
    # The jurisdiction of the card: the patient's grid when reported (scope, review duty).
    region = models.ForeignKey(
        "geo.Region",
        verbose_name=_("现住址所属网格"),
        on_delete=models.PROTECT,
        related_name="cases",
    )
    reporting_organisation = models.ForeignKey(
        "geo.Organisation",
        verbose_name=_("报告单位"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reported_cases",
    )
    reporting_doctor = models.CharField(_("报告医生"), max_length=64, blank=True)
    remark = models.TextField(_("备注"), blank=True)
    status = models.CharField(
        _("状态"), max_length=16, choices=Status.choices, default=Status.DRAFT, db_index=True
    )
    version = models.PositiveIntegerField(_("版本"), default=1)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("填卡人"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("填卡时间"), default=timezone.now)
    submitted_at = models.DateTimeField(_("报告时间"), null=True, blank=True)
    reviewed_at = models.DateTimeField(_("审核时间"), null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("审核人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    deleted_at = models.DateTimeField(_("删除时间"), null=True, blank=True)
    deleted_reason = models.TextField(_("删除原因"), blank=True)
    # A reporter who confirms a suspected duplicate links the card to the earlier one.
    duplicate_of = models.ForeignKey(
        "self",
        verbose_name=_("重卡关联"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    cluster = models.ForeignKey(
        "tracing.Cluster",
        verbose_name=_("聚集性疫情"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="cases",
    )

    objects = CaseReportQuerySet.as_manager()
    scope_region_field = "region"

    class Meta:
        verbose_name = _("传染病报告卡")
        verbose_name_plural = _("传染病报告卡")
        ordering = ["-diagnosed_at", "-id"]
        indexes = [
            models.Index(fields=["person", "disease"]),
            models.Index(fields=["disease", "diagnosed_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.person.name} {self.disease.name}"

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("case_detail", args=[self.pk])

    def audit_snapshot(self) -> dict[str, str]:
        return {
            "disease": self.disease.name,
            "classification": self.get_classification_display(),
            "onset_date": self.onset_date.isoformat() if self.onset_date else "",
            "diagnosed_at": local_minute(self.diagnosed_at),
            "death_date": self.death_date.isoformat() if self.death_date else "",
            "occupation": self.occupation,
            "address_at_onset": self.address_at_onset,
            "reporting_doctor": self.reporting_doctor,
            "remark": self.remark,
            "status": self.get_status_display(),
        }


class CaseRevision(models.Model):
    """A revised card keeps its earlier version (订正): the snapshot before the revision."""

    case = models.ForeignKey(CaseReport, on_delete=models.CASCADE, related_name="revisions")
    version = models.PositiveIntegerField(_("版本"))
    snapshot = models.JSONField(_("原内容"))
    revised_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    revised_at = models.DateTimeField(_("订正时间"), default=timezone.now)
    reason = models.TextField(_("订正原因"), blank=True)

    class Meta:
        verbose_name = _("订正记录")
        verbose_name_plural = _("订正记录")
        ordering = ["case", "version"]
        constraints = [
            models.UniqueConstraint(fields=["case", "version"], name="case_revision_unique")
        ]

    def __str__(self) -> str:
        return f"{self.case_id} v{self.version}"
