"""Sampling and testing (采样与核酸检测, REQUIREMENTS §6).

A `Sample` is one tube with a barcode: one person's swab, a pooled tube of 5 or 10 persons'
swabs (混采), or an environmental swab of a place. The persons in a tube are its `Examinee`
rows, one per person, each carrying that person's status: a negative tube makes all of them
negative; a positive pooled tube makes them "pool positive" until their own single-tube
re-test says otherwise.

A result belongs to the tube and is written once (`result` null until then): a different
result for a resulted tube is a conflict, the same result again changes nothing. Turnaround
limits by purpose are data (`TurnaroundRule`). A mass screening (`Campaign`) has rounds and
collection sites; each round's expected population is a `ScreeningTarget` row per person,
marked tested as tubes are collected, so coverage and "who is still untested" are plain
indexed counts. A `Regimen` says how often a key group must be tested (应检尽检).
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fangyi.core.access import ScopedQuerySet


class SampleType(models.TextChoices):
    NASOPHARYNGEAL = "np_swab", _("鼻咽拭子")
    OROPHARYNGEAL = "op_swab", _("口咽拭子")
    NASAL = "nasal_swab", _("鼻拭子")
    SPUTUM = "sputum", _("痰液")
    SERUM = "serum", _("血清")
    ENVIRONMENTAL = "environmental", _("环境样本")
    OTHER = "other", _("其他")


class Purpose(models.TextChoices):
    FEVER_CLINIC = "fever_clinic", _("发热门诊")
    EMERGENCY = "emergency", _("急诊")
    INPATIENT = "inpatient", _("住院患者及陪护")
    OUTPATIENT = "outpatient", _("门诊患者")
    CLOSE_CONTACT = "close_contact", _("密接及管控人员")
    ARRIVAL = "arrival", _("来（返）人员")
    KEY_GROUP = "key_group", _("重点人群")
    MASS_SCREENING = "mass_screening", _("全员筛查")
    POOL_RETEST = "pool_retest", _("混采阳性单管复核")
    VOLUNTARY = "voluntary", _("愿检尽检")
    ENVIRONMENTAL = "environmental", _("环境监测")


class Result(models.TextChoices):
    NEGATIVE = "negative", _("阴性")
    POSITIVE = "positive", _("阳性")
    INVALID = "invalid", _("无效（需重采）")


class Method(models.TextChoices):
    RT_PCR = "rt_pcr", _("荧光定量 PCR")
    ISOTHERMAL = "isothermal", _("恒温扩增")
    ANTIGEN = "antigen", _("抗原检测")
    ANTIBODY = "antibody", _("抗体检测")


# Pool sizes a tube may hold: single, 5-in-1 and 10-in-1 (混采).
POOL_SIZES = (1, 5, 10)
POOL_CHOICES = [(10, _("10 合 1")), (5, _("5 合 1")), (1, _("单采"))]


class TurnaroundRule(models.Model):
    """How many hours a lab has to give the result of a sample of this purpose, counted from
    receipt (from collection while the tube is not yet received). Seeded from the plans."""

    purpose = models.CharField(_("检测目的"), max_length=32, choices=Purpose.choices, unique=True)
    hours = models.PositiveIntegerField(_("时限（小时）"))
    basis = models.CharField(_("依据"), max_length=255, blank=True)

    class Meta:
        verbose_name = _("检测时限")
        verbose_name_plural = _("检测时限")
        ordering = ["hours", "purpose"]

    def __str__(self) -> str:
        return f"{self.get_purpose_display()} {self.hours}h"


class Campaign(models.Model):
    """A mass screening (全员核酸筛查) of an area over dates, run in rounds."""

    name = models.CharField(_("名称"), max_length=128)
    region = models.ForeignKey(
        "geo.Region", verbose_name=_("筛查范围"), on_delete=models.PROTECT, related_name="+"
    )
    start_date = models.DateField(_("开始日期"))
    end_date = models.DateField(_("结束日期"))
    pool_size = models.PositiveSmallIntegerField(
        _("混采比例"),
        default=10,
        choices=POOL_CHOICES,
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)

    objects = ScopedQuerySet.as_manager()
    scope_region_field = "region"

    class Meta:
        verbose_name = _("全员核酸筛查")
        verbose_name_plural = _("全员核酸筛查")
        ordering = ["-start_date", "-id"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("lab_campaign", args=[self.pk])


class Round(models.Model):
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="rounds")
    number = models.PositiveSmallIntegerField(_("轮次"))
    start_date = models.DateField(_("开始日期"))
    end_date = models.DateField(_("结束日期"))
    # Expected population counted when the round was opened (ScreeningTarget rows).
    expected = models.PositiveIntegerField(_("应检人数"), default=0)

    class Meta:
        verbose_name = _("筛查轮次")
        verbose_name_plural = _("筛查轮次")
        ordering = ["campaign", "number"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "number"], name="round_number_unique")
        ]

    def __str__(self) -> str:
        return _("%(campaign)s 第%(number)d轮") % {
            "campaign": self.campaign.name,
            "number": self.number,
        }


class CollectionSite(models.Model):
    """A sampling point of a campaign, serving some grids, open at set hours."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="sites")
    name = models.CharField(_("采样点名称"), max_length=128)
    region = models.ForeignKey(
        "geo.Region", verbose_name=_("所在村（社区）"), on_delete=models.PROTECT, related_name="+"
    )
    grids = models.ManyToManyField(
        "geo.Region", verbose_name=_("服务网格"), blank=True, related_name="+"
    )
    address = models.CharField(_("地址"), max_length=255, blank=True)
    opens_at = models.TimeField(_("开放时间"), default="07:00")
    closes_at = models.TimeField(_("关闭时间"), default="20:00")
    organisation = models.ForeignKey(
        "geo.Organisation",
        verbose_name=_("采样单位"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    staff = models.ManyToManyField(
        settings.AUTH_USER_MODEL, verbose_name=_("采样人员"), blank=True, related_name="+"
    )

    objects = ScopedQuerySet.as_manager()
    scope_region_field = "region"

    class Meta:
        verbose_name = _("采样点")
        verbose_name_plural = _("采样点")
        ordering = ["campaign", "name"]

    def __str__(self) -> str:
        return self.name


class SampleQuerySet(ScopedQuerySet):
    def pending(self):
        return self.filter(result__isnull=True)

    def late(self, now=None):
        return self.pending().filter(due_at__lt=now or timezone.now())


class Sample(models.Model):
    barcode = models.CharField(_("条码"), max_length=32, unique=True)
    sample_type = models.CharField(
        _("样本类型"), max_length=16, choices=SampleType.choices, default=SampleType.OROPHARYNGEAL
    )
    purpose = models.CharField(_("检测目的"), max_length=32, choices=Purpose.choices)
    pool_size = models.PositiveSmallIntegerField(_("混采人数"), default=1)
    collected_at = models.DateTimeField(_("采样时间"), db_index=True)
    # Where it was collected: the region sets the scope of the tube (not of its persons).
    region = models.ForeignKey(
        "geo.Region", verbose_name=_("采样地区"), on_delete=models.PROTECT, related_name="+"
    )
    site = models.ForeignKey(
        CollectionSite,
        verbose_name=_("采样点"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="samples",
        db_index=False,
    )
    round = models.ForeignKey(
        Round,
        verbose_name=_("筛查轮次"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="samples",
        db_index=False,
    )
    collecting_organisation = models.ForeignKey(
        "geo.Organisation",
        verbose_name=_("送样单位"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    collector = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("采样人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    # Environmental samples name a place (and what was swabbed) instead of a person.
    place = models.ForeignKey(
        "geo.Place",
        verbose_name=_("采样场所"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="samples",
        db_index=False,
    )
    object_description = models.CharField(
        _("采样对象（摊位、货品、物表）"), max_length=128, blank=True
    )
    # The result batch sets lab, resulted_by and result_import on a million tubes in one
    # statement; a foreign-key check per tube and column (three lookups each) would cost as
    # much as the update itself. The batch takes them from the rows it has just written.
    lab = models.ForeignKey(
        "geo.Organisation",
        verbose_name=_("检测实验室"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    received_at = models.DateTimeField(_("接收时间"), null=True, blank=True)
    due_at = models.DateTimeField(_("结果时限"))  # pending tubes: the partial index below

    result = models.CharField(
        _("检测结果"), max_length=16, choices=Result.choices, null=True, blank=True
    )
    ct_values = models.JSONField(_("Ct 值"), default=dict, blank=True)
    method = models.CharField(_("检测方法"), max_length=16, choices=Method.choices, blank=True)
    result_at = models.DateTimeField(_("结果时间"), null=True, blank=True)
    resulted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("检测人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    reviewer = models.CharField(_("审核人"), max_length=64, blank=True)
    recorded_at = models.DateTimeField(_("结果录入时间"), null=True, blank=True)
    result_import = models.ForeignKey(
        "ResultImport",
        verbose_name=_("结果来源批次"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="samples",
        db_index=False,
        db_constraint=False,
    )
    # The suspected-case draft a positive single tube opened.
    case = models.ForeignKey(
        "cases.CaseReport",
        verbose_name=_("疑似病例报告卡"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )

    objects = SampleQuerySet.as_manager()
    scope_region_field = "region"

    class Meta:
        verbose_name = _("样本")
        verbose_name_plural = _("样本")
        ordering = ["-collected_at", "-id"]
        indexes = [
            # Few indexes: each is written again for every tube a result batch fills (a
            # batch finds its own tubes from its scratch table, not by an index).
            models.Index(fields=["result_at"], name="sample_result_at"),
            models.Index(
                fields=["due_at"], name="sample_pending_due", condition=Q(result__isnull=True)
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(pool_size__in=POOL_SIZES) | Q(pool_size=0),
                name="sample_pool_size",
            ),
        ]

    def __str__(self) -> str:
        return self.barcode

    def get_absolute_url(self) -> str:
        return reverse("lab_sample", args=[self.pk])

    @property
    def is_pool(self) -> bool:
        return self.pool_size > 1

    @property
    def is_late(self) -> bool:
        reference = self.result_at or timezone.now()
        return reference > self.due_at

    @property
    def turnaround(self):
        if self.result_at is None:
            return None
        return self.result_at - (self.received_at or self.collected_at)


class Examinee(models.Model):
    """One person's swab in a tube.

    `status` is written only where the person's outcome is not simply the tube's: a
    positive (single tube: positive; pool: pool positive until the single re-test, then its
    result) or an invalid tube. A row of a negative tube stays `pending` and `outcome` reads
    the tube, so storing a million negatives never rewrites their million members."""

    class Status(models.TextChoices):
        PENDING = "pending", _("待出结果")
        NEGATIVE = "negative", _("阴性")
        POSITIVE = "positive", _("阳性")
        POOL_POSITIVE = "pool_positive", _("混采阳性待复核")
        INVALID = "invalid", _("无效待重采")

    # Both looked up through the composite indexes below (tube, person) and (person, time).
    sample = models.ForeignKey(
        Sample, on_delete=models.CASCADE, related_name="examinees", db_index=False
    )
    person = models.ForeignKey(
        "people.Person",
        verbose_name=_("受检者"),
        on_delete=models.PROTECT,
        related_name="examinations",
        db_index=False,
    )
    position = models.PositiveSmallIntegerField(_("管内序号"), default=1)
    collected_at = models.DateTimeField(_("采样时间"))  # the tube's, for "last tested" lookups
    status = models.CharField(
        _("状态"), max_length=16, choices=Status.choices, default=Status.PENDING
    )
    # For a member of a positive pool: the single tube that re-tested them.
    retest = models.ForeignKey(
        Sample,
        verbose_name=_("单管复核样本"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    objects = ScopedQuerySet.as_manager()
    scope_region_field = "person__grid"

    class Meta:
        verbose_name = _("受检者")
        verbose_name_plural = _("受检者")
        ordering = ["sample", "position"]
        constraints = [
            models.UniqueConstraint(fields=["sample", "person"], name="examinee_once_per_tube"),
        ]
        indexes = [
            models.Index(fields=["person", "collected_at"], name="examinee_person_time"),
            models.Index(
                fields=["person"],
                name="examinee_pool_positive",
                condition=Q(status="pool_positive"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sample.barcode} #{self.position}"

    @property
    def outcome(self) -> str:
        """The person's status from this tube (reads the tube while its row is pending)."""
        if self.status == self.Status.PENDING and self.sample.result == Result.NEGATIVE:
            return self.Status.NEGATIVE
        return self.status

    def get_outcome_display(self) -> str:
        return str(self.Status(self.outcome).label)


class ScreeningTarget(models.Model):
    """A person expected (or found) in a round: tested, not yet, or exempted with a reason."""

    class Status(models.TextChoices):
        UNTESTED = "untested", _("未检")
        TESTED = "tested", _("已检")
        EXEMPT = "exempt", _("免检")

    class ExemptReason(models.TextChoices):
        AWAY = "away", _("外出未归")
        BEDRIDDEN = "bedridden", _("行动不便（上门采样另计）")
        INFANT = "infant", _("婴幼儿")
        UNDER_CONTROL = "under_control", _("管控人员另行检测")
        TESTED_ELSEWHERE = "tested_elsewhere", _("已在外地检测")
        OTHER = "other", _("其他")

    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="targets")
    person = models.ForeignKey("people.Person", on_delete=models.CASCADE, related_name="+")
    grid = models.ForeignKey(
        "geo.Region", verbose_name=_("网格"), on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(
        _("状态"), max_length=16, choices=Status.choices, default=Status.UNTESTED
    )
    # Registered in the area when the round opened (False: tested here but living elsewhere).
    expected = models.BooleanField(_("应检"), default=True)
    exempt_reason = models.CharField(
        _("免检原因"), max_length=32, choices=ExemptReason.choices, blank=True
    )
    exempt_note = models.CharField(_("说明"), max_length=255, blank=True)
    tested_at = models.DateTimeField(_("采样时间"), null=True, blank=True)
    site = models.ForeignKey(
        CollectionSite, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = ScopedQuerySet.as_manager()
    scope_region_field = "grid"

    class Meta:
        verbose_name = _("筛查对象")
        verbose_name_plural = _("筛查对象")
        constraints = [
            models.UniqueConstraint(fields=["round", "person"], name="target_once_per_round"),
        ]
        indexes = [models.Index(fields=["round", "grid", "status"], name="target_coverage")]

    def __str__(self) -> str:
        return f"{self.round} {self.person_id}"


class Regimen(models.Model):
    """A regular testing rule for a key group (应检尽检): "medical staff every 7 days".

    The population is either a key group of the person registry or the persons under a
    measure of a category (e.g. arrivals during their monitoring)."""

    name = models.CharField(_("名称"), max_length=128)
    key_group = models.ForeignKey(
        "people.KeyGroup",
        verbose_name=_("重点人群"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    measure_category = models.CharField(_("管控人员类别"), max_length=32, blank=True)
    every_days = models.PositiveIntegerField(_("每几天检测一次"))
    active = models.BooleanField(_("启用"), default=True)
    basis = models.CharField(_("依据"), max_length=255, blank=True)

    class Meta:
        verbose_name = _("定期检测规则")
        verbose_name_plural = _("定期检测规则")
        ordering = ["every_days", "name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(key_group__isnull=False) ^ ~Q(measure_category=""),
                name="regimen_one_population",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ColumnMapping(models.Model):
    """A lab's result file layout, mapped once and remembered: field → the file's heading."""

    lab = models.OneToOneField(
        "geo.Organisation", on_delete=models.CASCADE, related_name="result_columns"
    )
    columns = models.JSONField(default=dict)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("结果文件列对应")
        verbose_name_plural = _("结果文件列对应")

    def __str__(self) -> str:
        return str(self.lab)


class ResultImport(models.Model):
    """One result file or API batch: what it held and what came of it."""

    class Outcome(models.TextChoices):
        SAVED = "saved", _("已导入")
        REJECTED = "rejected", _("未导入（有错误行）")

    lab = models.ForeignKey(
        "geo.Organisation", verbose_name=_("实验室"), on_delete=models.PROTECT, related_name="+"
    )
    region = models.ForeignKey("geo.Region", on_delete=models.PROTECT, related_name="+")
    source = models.CharField(_("来源"), max_length=16, default="file")
    file_name = models.CharField(_("文件名"), max_length=255, blank=True)
    sha256 = models.CharField(max_length=64, blank=True, db_index=True)
    rows = models.PositiveIntegerField(_("数据行"), default=0)
    stored = models.PositiveIntegerField(_("新入库"), default=0)
    unchanged = models.PositiveIntegerField(_("已有相同结果"), default=0)
    rejected = models.PositiveIntegerField(_("拒收行"), default=0)
    positives = models.PositiveIntegerField(_("阳性"), default=0)
    outcome = models.CharField(_("结果"), max_length=16, choices=Outcome.choices)
    # Every rejected row: [{"line": 12, "column": "结果", "reason": "…"}].
    problems = models.JSONField(default=list, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(_("时间"), default=timezone.now)
    seconds = models.FloatField(_("耗时（秒）"), default=0)

    objects = ScopedQuerySet.as_manager()
    scope_region_field = "region"

    class Meta:
        verbose_name = _("结果导入")
        verbose_name_plural = _("结果导入")
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.file_name or self.source} {self.at:%Y-%m-%d %H:%M}"
