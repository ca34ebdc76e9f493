from django.db import models
from django.utils.translation import gettext_lazy as _


class Classification(models.TextChoices):
    """Case classification on the report card (传染病报告卡 病例分类)."""

    SUSPECTED = "suspected", _("疑似病例")
    CLINICAL = "clinical", _("临床诊断病例")
    CONFIRMED = "confirmed", _("确诊病例")
    ASYMPTOMATIC = "asymptomatic", _("无症状感染者")
    CARRIER = "carrier", _("病原携带者")


class Disease(models.Model):
    """A notifiable disease (法定传染病) with its class and reporting time limit.

    Loaded from diseases/data/notifiable_diseases.json by a data migration; admins edit it
    (changes audited)."""

    class LegalClass(models.TextChoices):
        A = "A", _("甲类")
        B = "B", _("乙类")
        C = "C", _("丙类")
        OTHER = "other", _("其他法定管理传染病")

    class Kind(models.TextChoices):
        DISEASE = "disease", _("疾病")
        SYNDROME = "syndrome", _("症候群")

    code = models.SlugField(_("代码"), max_length=48, unique=True)
    name = models.CharField(_("病名"), max_length=64, unique=True)
    name_en = models.CharField(_("英文名"), max_length=128, blank=True)
    legal_class = models.CharField(_("类别"), max_length=8, choices=LegalClass.choices)
    managed_as_class_a = models.BooleanField(_("按甲类管理"), default=False)
    report_within_hours = models.PositiveSmallIntegerField(_("报告时限（小时）"))
    kind = models.CharField(_("性质"), max_length=16, choices=Kind.choices, default=Kind.DISEASE)
    allowed_classifications = models.JSONField(
        _("允许的病例分类"),
        default=list,
        help_text=_("报告卡可选的病例分类代码，如 confirmed、suspected。"),
    )
    parent = models.ForeignKey(
        "self",
        verbose_name=_("上级病种"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="subtypes",
    )
    history = models.JSONField(_("分类沿革"), default=list, blank=True)
    is_active = models.BooleanField(_("在用"), default=True)
    sort_order = models.PositiveSmallIntegerField(_("排序"), default=0)

    class Meta:
        verbose_name = _("法定传染病")
        verbose_name_plural = _("法定传染病")
        ordering = ["sort_order", "code"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_urgent(self) -> bool:
        """Class A and diseases managed as Class A: 2-hour reporting and review."""
        return self.legal_class == self.LegalClass.A or self.managed_as_class_a

    def allows(self, classification: str) -> bool:
        return classification in self.allowed_classifications

    def audit_snapshot(self) -> dict[str, str]:
        return {
            "name": self.name,
            "legal_class": self.get_legal_class_display(),
            "managed_as_class_a": str(self.managed_as_class_a),
            "report_within_hours": str(self.report_within_hours),
            "kind": self.get_kind_display(),
            "allowed_classifications": ",".join(self.allowed_classifications),
            "is_active": str(self.is_active),
        }
