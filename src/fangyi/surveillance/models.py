"""Surveillance (多点触发监测预警): the signal sources that only this module collects
(pharmacy sales, fever-clinic visits, school absences), the daily counts every detector
reads, the detector rules as data, each day's detector run, and the signals it raises with
their response (CIDARS: raised → verified → dismissed or suspected event → field
investigation → confirmed event).
"""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fangyi.core.access import ScopedQuerySet
from fangyi.core.masking import mask_id_number, mask_name, mask_phone


class Source(models.TextChoices):
    """Where a daily count comes from. The first three are entered here; the others are
    counted from the cases, measures and lab modules' own records."""

    PHARMACY = "pharmacy", _("药店购药登记")
    FEVER_CLINIC = "fever_clinic", _("发热门诊（哨点）就诊")
    SCHOOL_ABSENCE = "school_absence", _("学校因病缺勤")
    CASES = "cases", _("传染病报告")
    MONITORING = "monitoring", _("健康监测异常")
    ENVIRONMENT = "environment", _("环境样本阳性")
    LAB = "lab", _("核酸检测")


class Syndrome(models.TextChoices):
    """Symptom groups of the syndromic sources (fever clinic, school absence)."""

    FEVER = "fever", _("发热")
    RESPIRATORY = "respiratory", _("呼吸道症状")
    DIARRHOEA = "diarrhoea", _("腹泻")
    RASH = "rash", _("皮疹")
    OTHER = "other", _("其他")


class DrugCategory(models.TextChoices):
    """The drugs whose real-name sales are reported (seed 001): each a proxy of a syndrome."""

    ANTIPYRETIC = "antipyretic", _("退热药")
    COUGH = "cough", _("止咳药")
    ANTIDIARRHOEAL = "antidiarrhoeal", _("止泻药")
    ANTIBIOTIC = "antibiotic", _("抗菌药物")


# Topics of the sources counted from other modules' records.
TOPIC_ABNORMAL = "abnormal"  # monitoring: people with an abnormal reading that day
TOPIC_POSITIVE = "positive"  # environment, lab: positive samples
TOPIC_TESTED = "tested"  # lab: samples resulted that day
TOPIC_VISITS = "visits"  # fever clinic: every visit, whatever the symptoms


class DailyCount(models.Model):
    """How many of a source's records of one topic (a syndrome, drug category or disease
    code) fell on a day in a township (or the county, for records above any township).
    Kept by `surveillance.counts.refresh`, which recomputes the days a write touched.

    `imported` counts come from before the system (e.g. the national reporting system's
    exports): the baseline years the detectors need from the first day. Refreshing never
    touches them; a series is the sum of both kinds."""

    source = models.CharField(_("来源"), max_length=16, choices=Source.choices)
    topic = models.CharField(_("类别"), max_length=48)
    region = models.ForeignKey(
        "geo.Region", verbose_name=_("区划"), on_delete=models.PROTECT, related_name="+"
    )
    day = models.DateField(_("日期"))
    count = models.PositiveIntegerField(_("数量"))
    imported = models.BooleanField(_("历史导入"), default=False)

    objects = ScopedQuerySet.as_manager()
    scope_region_field = "region"

    class Meta:
        verbose_name = _("监测日计数")
        verbose_name_plural = _("监测日计数")
        constraints = [
            models.UniqueConstraint(
                fields=["source", "topic", "region", "day", "imported"], name="daily_count_once"
            )
        ]
        indexes = [models.Index(fields=["source", "day"])]

    def __str__(self) -> str:
        return f"{self.get_source_display()} {self.topic} {self.day}: {self.count}"


class BuyerFields(models.Model):
    """A pharmacy buyer's identity, encrypted as a person's is; linked to the registry
    when the document number is known there."""

    buyer_name = models.CharField(_("购药人姓名"), max_length=64)
    buyer_id_encrypted = models.TextField(blank=True, editable=False)
    buyer_id_hash = models.CharField(max_length=32, blank=True, editable=False, db_index=True)
    buyer_phone_encrypted = models.TextField(blank=True, editable=False)

    class Meta:
        abstract = True

    @property
    def buyer_id_number(self) -> str:
        from fangyi.core.crypto import decrypt

        return decrypt(self.buyer_id_encrypted) if self.buyer_id_encrypted else ""

    @property
    def buyer_phone(self) -> str:
        from fangyi.core.crypto import decrypt

        return decrypt(self.buyer_phone_encrypted) if self.buyer_phone_encrypted else ""

    def set_buyer_id_number(self, number: str) -> None:
        from fangyi.core.crypto import encrypt, keyed_hash
        from fangyi.people.models import ID_NUMBER

        number = number.strip().upper()
        self.buyer_id_encrypted = encrypt(number) if number else ""
        self.buyer_id_hash = keyed_hash(number, ID_NUMBER)

    def set_buyer_phone(self, phone: str) -> None:
        from fangyi.core.crypto import encrypt

        phone = phone.strip()
        self.buyer_phone_encrypted = encrypt(phone) if phone else ""

    @property
    def buyer_name_masked(self) -> str:
        return mask_name(self.buyer_name)

    @property
    def buyer_id_masked(self) -> str:
        return mask_id_number(self.buyer_id_number)

    @property
    def buyer_phone_masked(self) -> str:
        return mask_phone(self.buyer_phone)


class PharmacySale(BuyerFields):
    """One real-name sale of a watched drug (药店实名购药登记), to be reported within 2 hours
    of the sale. `receipt` is the pharmacy's own sale number: posting it again changes
    nothing."""

    pharmacy = models.ForeignKey(
        "geo.Organisation", verbose_name=_("药店"), on_delete=models.PROTECT, related_name="+"
    )
    region = models.ForeignKey(
        "geo.Region", verbose_name=_("区划"), on_delete=models.PROTECT, related_name="+"
    )
    receipt = models.CharField(_("销售单号"), max_length=64)
    sold_at = models.DateTimeField(_("销售时间"))
    day = models.DateField(_("销售日期"))
    drug_category = models.CharField(_("药品类别"), max_length=16, choices=DrugCategory.choices)
    drug_name = models.CharField(_("药品名称"), max_length=128, blank=True)
    quantity = models.PositiveIntegerField(_("数量"), default=1)
    symptoms = models.JSONField(_("症状"), default=list, blank=True)
    has_fever = models.BooleanField(_("发热"), default=False)
    person = models.ForeignKey(
        "people.Person",
        verbose_name=_("登记人员"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # Where the grid follows a fever buyer up: the registered person's grid, else the
    # pharmacy's region.
    follow_up_region = models.ForeignKey(
        "geo.Region", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reported_at = models.DateTimeField(_("上报时间"), default=timezone.now)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("录入人"),
        null=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    objects = ScopedQuerySet.as_manager()
    scope_region_field = "region"

    class Meta:
        verbose_name = _("药店购药登记")
        verbose_name_plural = _("药店购药登记")
        ordering = ["-sold_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["pharmacy", "receipt"], name="pharmacy_sale_once")
        ]
        indexes = [models.Index(fields=["day", "region"])]

    def __str__(self) -> str:
        return f"{self.receipt} {self.get_drug_category_display()}"

    @property
    def late(self) -> bool:
        from fangyi.surveillance.sources import REPORT_SALES_WITHIN

        return self.reported_at - self.sold_at > REPORT_SALES_WITHIN


class FeverClinicVisit(models.Model):
    """A visit to a fever clinic or sentinel clinic (发热门诊/哨点诊室)."""

    class Disposition(models.TextChoices):
        HOME = "home", _("离院居家")
        OBSERVATION = "observation", _("留观")
        ADMITTED = "admitted", _("收治入院")
        REFERRED = "referred", _("转诊定点医院")
        ISOLATED = "isolated", _("隔离")

    clinic = models.ForeignKey(
        "geo.Organisation", verbose_name=_("接诊机构"), on_delete=models.PROTECT, related_name="+"
    )
    person = models.ForeignKey(
        "people.Person", verbose_name=_("患者"), on_delete=models.PROTECT, related_name="+"
    )
    # The patient's township (or county): where the count goes.
    region = models.ForeignKey(
        "geo.Region", verbose_name=_("区划"), on_delete=models.PROTECT, related_name="+"
    )
    visited_at = models.DateTimeField(_("就诊时间"))
    day = models.DateField(_("就诊日期"))
    temperature = models.DecimalField(
        _("体温（℃）"), max_digits=3, decimal_places=1, null=True, blank=True
    )
    symptoms = models.JSONField(_("症状"), default=list, blank=True)
    syndromes = models.JSONField(_("症候群"), default=list, blank=True, editable=False)
    history_asked = models.BooleanField(_("已询问流行病学史"), default=False)
    history = models.CharField(_("流行病学史"), max_length=255, blank=True)
    sample_taken = models.BooleanField(_("已采样"), default=False)
    sample_barcode = models.CharField(_("样本条码"), max_length=32, blank=True)
    disposition = models.CharField(_("处置"), max_length=16, choices=Disposition.choices)
    external_id = models.CharField(_("就诊流水号"), max_length=64)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("录入人"),
        null=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    recorded_at = models.DateTimeField(_("录入时间"), default=timezone.now)

    objects = ScopedQuerySet.as_manager()
    scope_region_field = "region"

    class Meta:
        verbose_name = _("发热门诊就诊")
        verbose_name_plural = _("发热门诊就诊")
        ordering = ["-visited_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["clinic", "external_id"], name="fever_visit_once")
        ]
        indexes = [models.Index(fields=["day", "region"])]

    def __str__(self) -> str:
        return f"{self.clinic} {self.day}"


class SchoolAbsence(models.Model):
    """A school's count of pupils and staff absent for illness on a day, by syndrome
    (因病缺勤): an aggregate until the schools module brings per-pupil records. Entering the
    same school, day and syndrome again replaces the count."""

    school = models.ForeignKey(
        "geo.Organisation", verbose_name=_("学校"), on_delete=models.PROTECT, related_name="+"
    )
    region = models.ForeignKey(
        "geo.Region", verbose_name=_("区划"), on_delete=models.PROTECT, related_name="+"
    )
    day = models.DateField(_("日期"))
    syndrome = models.CharField(_("症状"), max_length=16, choices=Syndrome.choices)
    absent = models.PositiveIntegerField(_("因病缺勤人数"))
    enrolled = models.PositiveIntegerField(_("在校人数"), null=True, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("录入人"),
        null=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    recorded_at = models.DateTimeField(_("录入时间"), default=timezone.now)

    objects = ScopedQuerySet.as_manager()
    scope_region_field = "region"

    class Meta:
        verbose_name = _("因病缺勤")
        verbose_name_plural = _("因病缺勤")
        ordering = ["-day", "school__name"]
        constraints = [
            models.UniqueConstraint(
                fields=["school", "day", "syndrome"], name="school_absence_once"
            )
        ]
        indexes = [models.Index(fields=["day", "region"])]

    def __str__(self) -> str:
        return f"{self.school} {self.day} {self.get_syndrome_display()} {self.absent}"


class Method(models.TextChoices):
    FIXED_THRESHOLD = "fixed_threshold", _("固定阈值（单病例预警）")
    MOVING_PERCENTILE = "moving_percentile", _("移动百分位数（CIDARS）")
    EARS_C1 = "ears_c1", _("EARS C1")
    EARS_C2 = "ears_c2", _("EARS C2")
    EARS_C3 = "ears_c3", _("EARS C3")
    CUSUM = "cusum", _("CUSUM")
    FARRINGTON = "farrington", _("Farrington 改进法（按周）")


class RegionLevel(models.TextChoices):
    TOWNSHIP = "township", _("乡镇/街道")
    COUNTY = "county", _("县（区）")


class DetectorRule(models.Model):
    """Which method watches which series, with its parameters (rules as data; defaults
    after CIDARS, seeded by migration). `topic` blank: every topic of the source that has
    no rule of its own. A single-case rule's signals must be verified within 2 hours."""

    source = models.CharField(_("来源"), max_length=16, choices=Source.choices)
    topic = models.CharField(_("类别"), max_length=48, blank=True)
    level = models.CharField(
        _("计算单元"), max_length=16, choices=RegionLevel.choices, default=RegionLevel.COUNTY
    )
    method = models.CharField(_("方法"), max_length=24, choices=Method.choices)
    params = models.JSONField(_("参数"), default=dict, blank=True)
    single_case = models.BooleanField(_("单病例预警"), default=False)
    merge_days = models.PositiveSmallIntegerField(
        _("合并天数"),
        default=7,
        help_text=_("同一序列在此天数内重复的信号合并为一条，不再重复提醒"),
    )
    is_active = models.BooleanField(_("启用"), default=True)
    basis = models.CharField(_("依据"), max_length=255, blank=True)

    class Meta:
        verbose_name = _("预警规则")
        verbose_name_plural = _("预警规则")
        ordering = ["source", "topic", "level", "method"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "topic", "level", "method"], name="detector_rule_once"
            )
        ]

    def __str__(self) -> str:
        topic = self.topic or "*"
        return f"{self.get_source_display()} {topic} {self.get_level_display()} {self.method}"


class DutyRoster(models.Model):
    """Who is the duty epidemiologist (值班流调人员) of a region over a period: the signals
    of that region (and below, unless a lower region has its own roster) go to them."""

    region = models.ForeignKey(
        "geo.Region", verbose_name=_("区划"), on_delete=models.PROTECT, related_name="+"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("值班人员"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    start_date = models.DateField(_("开始日期"))
    end_date = models.DateField(_("结束日期"))

    objects = ScopedQuerySet.as_manager()
    scope_region_field = "region"

    class Meta:
        verbose_name = _("值班安排")
        verbose_name_plural = _("值班安排")
        ordering = ["-start_date", "region__path"]

    def __str__(self) -> str:
        return f"{self.region} {self.start_date}–{self.end_date} {self.user}"


class DetectorRun(models.Model):
    """The detectors' run for one day: re-running the day updates this row and adds no
    signal already raised. `complete`: every rule has run on the day (the hourly runs of the
    single-case rules alone leave it False)."""

    day = models.DateField(_("监测日期"), unique=True)
    complete = models.BooleanField(_("全部规则已运行"), default=False)
    started_at = models.DateTimeField(_("开始时间"))
    finished_at = models.DateTimeField(_("完成时间"), null=True, blank=True)
    runs = models.PositiveIntegerField(_("运行次数"), default=0)
    series = models.PositiveIntegerField(_("序列数"), default=0)
    alarms = models.PositiveIntegerField(_("报警数"), default=0)
    new_signals = models.PositiveIntegerField(_("新信号"), default=0)
    merged = models.PositiveIntegerField(_("合并"), default=0)
    seconds = models.FloatField(_("耗时（秒）"), default=0)
    triggered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("手动运行人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("预警运行")
        verbose_name_plural = _("预警运行")
        ordering = ["-day"]

    def __str__(self) -> str:
        return str(self.day)


class SignalQuerySet(ScopedQuerySet):
    def primary(self):
        """Signals that stand on their own (repeats merged into an earlier one left out)."""
        return self.filter(merged_into__isnull=True)


class Signal(models.Model):
    """An alarm of a detector on one series and day, and its response."""

    class Status(models.TextChoices):
        RAISED = "raised", _("待核实")
        DISMISSED = "dismissed", _("已排除")
        SUSPECTED = "suspected", _("疑似事件")
        INVESTIGATING = "investigating", _("现场调查中")
        CONFIRMED = "confirmed", _("确认事件")

    run = models.ForeignKey(DetectorRun, on_delete=models.PROTECT, related_name="signals")
    rule = models.ForeignKey(
        DetectorRule, verbose_name=_("预警规则"), on_delete=models.PROTECT, related_name="+"
    )
    source = models.CharField(_("来源"), max_length=16, choices=Source.choices)
    topic = models.CharField(_("类别"), max_length=48)
    topic_label = models.CharField(_("类别名称"), max_length=64)
    region = models.ForeignKey(
        "geo.Region", verbose_name=_("区划"), on_delete=models.PROTECT, related_name="+"
    )
    day = models.DateField(_("预警日期"))
    method = models.CharField(_("方法"), max_length=24, choices=Method.choices)
    observed = models.FloatField(_("观察值"))
    threshold = models.FloatField(_("阈值"), null=True, blank=True)
    raised_at = models.DateTimeField(_("发出时间"), default=timezone.now)
    status = models.CharField(
        _("状态"), max_length=16, choices=Status.choices, default=Status.RAISED, db_index=True
    )
    merged_into = models.ForeignKey(
        "self",
        verbose_name=_("合并至"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="repeats",
    )
    repeat_count = models.PositiveIntegerField(_("重复次数"), default=0)
    last_repeat_day = models.DateField(_("最近重复日期"), null=True, blank=True)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("值班人员"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    verified_at = models.DateTimeField(_("核实时间"), null=True, blank=True)
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("核实人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    verification_notes = models.TextField(_("初步核实情况"), blank=True)
    dismiss_reason = models.TextField(_("排除原因"), blank=True)
    investigation_started_at = models.DateTimeField(_("现场调查开始"), null=True, blank=True)
    investigation_notes = models.TextField(_("现场调查情况"), blank=True)
    closed_at = models.DateTimeField(_("结案时间"), null=True, blank=True)
    cluster = models.ForeignKey(
        "tracing.Cluster",
        verbose_name=_("关联聚集性疫情"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    objects = SignalQuerySet.as_manager()
    scope_region_field = "region"

    class Meta:
        verbose_name = _("预警信号")
        verbose_name_plural = _("预警信号")
        ordering = ["-day", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["rule", "topic", "region", "day"], name="signal_once")
        ]
        indexes = [models.Index(fields=["source", "topic", "region", "day"])]

    def __str__(self) -> str:
        return f"{self.day} {self.region.name} {self.topic_label}"

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("surveillance_signal_detail", args=[self.pk])

    @property
    def is_open(self) -> bool:
        return self.status in (self.Status.RAISED, self.Status.SUSPECTED, self.Status.INVESTIGATING)


class Notification(models.Model):
    """A message sent out of the system (SMS or another channel) through the configured
    notifier, kept so that every send can be checked."""

    class Status(models.TextChoices):
        SENT = "sent", _("已发送")
        FAILED = "failed", _("发送失败")

    channel = models.CharField(_("渠道"), max_length=16)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("接收人"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    message = models.CharField(_("内容"), max_length=255)
    sent_at = models.DateTimeField(_("发送时间"), default=timezone.now)
    status = models.CharField(_("状态"), max_length=8, choices=Status.choices)
    error = models.CharField(_("错误"), max_length=255, blank=True)

    class Meta:
        verbose_name = _("外发通知")
        verbose_name_plural = _("外发通知")
        ordering = ["-sent_at"]

    def __str__(self) -> str:
        return f"{self.channel} {self.user} {self.sent_at:%Y-%m-%d %H:%M}"


class RiskAssessment(models.Model):
    """The weekly analysis and risk assessment (每周分析研判) of a jurisdiction: the week's
    figures are computed when shown; the conclusions are the epidemiologists'."""

    class Level(models.TextChoices):
        LOW = "low", _("低")
        MEDIUM = "medium", _("中")
        HIGH = "high", _("高")

    region = models.ForeignKey(
        "geo.Region", verbose_name=_("区划"), on_delete=models.PROTECT, related_name="+"
    )
    week_start = models.DateField(_("周起始日（周一）"))
    risk_level = models.CharField(_("风险等级"), max_length=8, choices=Level.choices)
    conclusion = models.TextField(_("研判结论"))
    recommendations = models.TextField(_("防控建议"), blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("研判人"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    updated_at = models.DateTimeField(_("更新时间"), default=timezone.now)

    objects = ScopedQuerySet.as_manager()
    scope_region_field = "region"

    class Meta:
        verbose_name = _("每周分析研判")
        verbose_name_plural = _("每周分析研判")
        ordering = ["-week_start"]
        constraints = [
            models.UniqueConstraint(fields=["region", "week_start"], name="risk_assessment_once")
        ]

    def __str__(self) -> str:
        return f"{self.region} {self.week_start}"


class SerialInterval(models.Model):
    """Serial interval of a disease for Rt (mean and SD in days, with the source)."""

    disease = models.OneToOneField(
        "diseases.Disease", verbose_name=_("病种"), on_delete=models.CASCADE, related_name="+"
    )
    mean_days = models.FloatField(_("均值（天）"))
    sd_days = models.FloatField(_("标准差（天）"))
    basis = models.CharField(_("依据"), max_length=255, blank=True)

    class Meta:
        verbose_name = _("代际间隔")
        verbose_name_plural = _("代际间隔")

    def __str__(self) -> str:
        return f"{self.disease} {self.mean_days}±{self.sd_days}"
