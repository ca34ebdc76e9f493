"""Arrivals from elsewhere (外防输入): risk areas, travel history, arrivals, canvassing and the
communities' daily reports.

Places outside the county are identified by their GB/T 2260 county-level code (adcode, six
digits) as resolved by `travel.addresses`; a risk area below the county level (a street, a
compound) keeps that code plus the locality's name, matched against the rest of the address.
"""

from datetime import date, timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fangyi.core.access import ScopedQuerySet
from fangyi.measures.models import Category


class RiskLevel(models.TextChoices):
    """The three levels of the plans; the 2022 names (封控/管控/防范区) map onto them."""

    HIGH = "high", _("高风险（封控区）")
    MEDIUM = "medium", _("中风险（管控区）")
    LOW = "low", _("低风险（防范区）")


LEVEL_RANK = {RiskLevel.LOW: 1, RiskLevel.MEDIUM: 2, RiskLevel.HIGH: 3}
RANK_LEVEL = {rank: level for level, rank in LEVEL_RANK.items()}


class AreaScale(models.TextChoices):
    """How much of the map an area covers: decides how much of a stay's code must match."""

    PROVINCE = "province", _("省")
    CITY = "city", _("市")
    DISTRICT = "district", _("县/区")
    LOCALITY = "locality", _("街道/乡镇/小区")


# Leading digits of an adcode that identify an area of each scale.
PREFIX_LENGTH = {
    AreaScale.PROVINCE: 2,
    AreaScale.CITY: 4,
    AreaScale.DISTRICT: 6,
    AreaScale.LOCALITY: 6,
}


class MatchRule(models.Model):
    """How far back a stay counts (14 days in the plans), versioned by date."""

    effective_from = models.DateField(_("生效日期"), unique=True)
    look_back_days = models.PositiveIntegerField(_("追溯天数"), default=14)
    basis = models.CharField(_("依据"), max_length=255, blank=True)

    class Meta:
        verbose_name = _("旅居史追溯规则")
        verbose_name_plural = _("旅居史追溯规则")
        ordering = ["-effective_from"]

    def __str__(self) -> str:
        return f"{self.look_back_days}d ({self.effective_from})"

    @classmethod
    def look_back(cls, on: date) -> int:
        rule = cls.objects.filter(effective_from__lte=on).order_by("-effective_from").first()
        return rule.look_back_days if rule else 14


class AreaList(models.Model):
    """One published list of risk areas (a notice): its areas take effect together; areas it
    lifts end the day before its effective date."""

    title = models.CharField(_("名称"), max_length=200)
    source = models.TextField(_("来源（通告原文或文件名）"), blank=True)
    effective_from = models.DateField(_("生效日期"))
    published_at = models.DateTimeField(_("发布时间"), default=timezone.now)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("发布人"),
        null=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    areas_added = models.PositiveIntegerField(_("新增地区数"), default=0)
    areas_lifted = models.PositiveIntegerField(_("解除地区数"), default=0)
    persons_flagged = models.PositiveIntegerField(_("匹配人数"), default=0)
    flag_seconds = models.FloatField(_("匹配用时（秒）"), null=True, blank=True)

    class Meta:
        verbose_name = _("风险地区名单")
        verbose_name_plural = _("风险地区名单")
        ordering = ["-published_at", "-id"]

    def __str__(self) -> str:
        return self.title


class RiskAreaQuerySet(models.QuerySet):
    def on(self, day: date):
        """Areas in force on that day."""
        return self.filter(effective_from__lte=day).filter(
            Q(effective_to__isnull=True) | Q(effective_to__gte=day)
        )

    def covering(self, adcode: str, detail: str = ""):
        """Areas that contain a place with this adcode (and address detail below it)."""
        if not adcode:
            return self.none()
        prefixes = Q()
        for scale, length in PREFIX_LENGTH.items():
            prefixes |= Q(scale=scale, code_prefix=adcode[:length])
        areas = self.filter(prefixes)
        return [a for a in areas if a.scale != AreaScale.LOCALITY or a.locality in detail]


class RiskArea(models.Model):
    """An area at a level for a period. Rows are never deleted: lifting an area sets its last
    day, so "was X a medium-risk area on D" stays answerable."""

    area_list = models.ForeignKey(
        AreaList, verbose_name=_("所属名单"), on_delete=models.PROTECT, related_name="areas"
    )
    level = models.CharField(_("风险等级"), max_length=8, choices=RiskLevel.choices)
    scale = models.CharField(_("范围"), max_length=16, choices=AreaScale.choices)
    name = models.CharField(
        _("地区"), max_length=200
    )  # as published, e.g. 湖北省武汉市江汉区花楼街道
    adcode = models.CharField(_("区划代码"), max_length=6)
    # The leading digits that a stay's adcode must share (PREFIX_LENGTH of the scale).
    code_prefix = models.CharField(max_length=6, editable=False, db_index=True)
    locality = models.CharField(_("街道/小区"), max_length=100, blank=True)
    effective_from = models.DateField(_("生效日期"))
    effective_to = models.DateField(_("最后一日"), null=True, blank=True)  # null: in force
    lifted_by = models.ForeignKey(
        AreaList,
        verbose_name=_("解除名单"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="lifted",
    )

    objects = RiskAreaQuerySet.as_manager()

    class Meta:
        verbose_name = _("风险地区")
        verbose_name_plural = _("风险地区")
        ordering = ["-effective_from", "code_prefix", "locality"]
        indexes = [models.Index(fields=["effective_from", "effective_to"])]

    def __str__(self) -> str:
        return f"{self.name}（{self.get_level_display()}）"

    def save(self, *args, **kwargs):
        self.code_prefix = self.adcode[: PREFIX_LENGTH[self.scale]]
        super().save(*args, **kwargs)

    @property
    def rank(self) -> int:
        return LEVEL_RANK[self.level]


class Stay(models.Model):
    """A stay somewhere outside (旅居史): a place and the days spent there."""

    class Source(models.TextChoices):
        ARRIVAL = "arrival", _("来返报备")
        GRID = "grid", _("网格排查")
        INVESTIGATION = "investigation", _("流调")
        IMPORT = "import", _("导入")

    person = models.ForeignKey(
        "people.Person", verbose_name=_("人员"), on_delete=models.CASCADE, related_name="stays"
    )
    address = models.CharField(_("地点"), max_length=255)
    adcode = models.CharField(_("区划代码"), max_length=6, blank=True, db_index=True)
    # The address below the county (street, compound…), matched against area localities.
    detail = models.CharField(_("详细地点"), max_length=255, blank=True)
    from_date = models.DateField(_("起始日期"))
    to_date = models.DateField(_("结束日期"), db_index=True)
    source = models.CharField(_("来源"), max_length=16, choices=Source.choices)
    arrival = models.ForeignKey(
        "travel.Arrival", null=True, blank=True, on_delete=models.CASCADE, related_name="stays"
    )
    created_at = models.DateTimeField(_("登记时间"), default=timezone.now)

    class Meta:
        verbose_name = _("旅居史")
        verbose_name_plural = _("旅居史")
        ordering = ["-to_date"]
        constraints = [
            models.CheckConstraint(
                condition=Q(to_date__gte=models.F("from_date")), name="stay_dates_ordered"
            )
        ]

    def __str__(self) -> str:
        return f"{self.address} {self.from_date}–{self.to_date}"


class RiskFlagQuerySet(ScopedQuerySet):
    def open(self):
        return self.filter(status=RiskFlag.Status.OPEN)


class RiskFlag(models.Model):
    """A person whose stay matched a risk area: their grid must verify and follow up.

    Written by the hundred thousand when a list is published (bench risk_area_publish), so
    the table carries only the indexes and checks it needs: the unique (person, area) also
    serves lookups by person; the stay and the grid are copied from rows the same statement
    has just joined, so their foreign keys are not re-checked at commit."""

    class Status(models.TextChoices):
        OPEN = "open", _("待核查")
        VERIFIED = "verified", _("已核查落实")
        DISMISSED = "dismissed", _("核查排除")

    person = models.ForeignKey(
        "people.Person",
        verbose_name=_("人员"),
        on_delete=models.CASCADE,
        related_name="risk_flags",
        db_index=False,
    )
    area = models.ForeignKey(
        RiskArea, verbose_name=_("风险地区"), on_delete=models.PROTECT, related_name="flags"
    )
    stay = models.ForeignKey(
        Stay,
        verbose_name=_("旅居史"),
        on_delete=models.CASCADE,
        db_constraint=False,
        db_index=False,
    )
    level = models.CharField(_("风险等级"), max_length=8, choices=RiskLevel.choices)
    grid = models.ForeignKey(
        "geo.Region",
        verbose_name=_("网格"),
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
    )
    flagged_at = models.DateTimeField(_("匹配时间"), default=timezone.now)
    status = models.CharField(_("状态"), max_length=16, choices=Status.choices, default=Status.OPEN)
    handled_at = models.DateTimeField(_("处理时间"), null=True, blank=True)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    note = models.CharField(_("核查情况"), max_length=255, blank=True)

    objects = RiskFlagQuerySet.as_manager()
    scope_region_field = "grid"

    class Meta:
        verbose_name = _("风险地区旅居人员")
        verbose_name_plural = _("风险地区旅居人员")
        ordering = ["-flagged_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["person", "area"], name="risk_flag_once_per_area")
        ]

    def __str__(self) -> str:
        return f"{self.person} · {self.area}"


class ArrivalRule(models.Model):
    """How an arrival is classified by the highest level of the places they stayed in within
    the look-back window ('' = no risk area): the measure category to apply ('' = health
    code check only) and whether a negative test certificate is required. Versioned."""

    origin_level = models.CharField(
        _("来源地风险等级"), max_length=8, choices=RiskLevel.choices, blank=True
    )
    category = models.CharField(_("管控类别"), max_length=32, choices=Category.choices, blank=True)
    certificate_hours = models.PositiveIntegerField(
        _("须持几小时内核酸阴性证明（0 为不要求）"), default=0
    )
    advice = models.CharField(_("告知内容"), max_length=255)
    version = models.PositiveIntegerField(_("版本"), default=1)
    effective_from = models.DateField(_("生效日期"))
    basis = models.CharField(_("依据"), max_length=255, blank=True)

    class Meta:
        verbose_name = _("来返人员分类规则")
        verbose_name_plural = _("来返人员分类规则")
        ordering = ["origin_level", "-effective_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["origin_level", "effective_from"], name="arrival_rule_unique"
            )
        ]

    def __str__(self) -> str:
        level = self.get_origin_level_display() or _("非风险地区")
        return f"{level} v{self.version}"

    @classmethod
    def in_force(cls, origin_level: str, on: date) -> "ArrivalRule | None":
        return (
            cls.objects.filter(origin_level=origin_level, effective_from__lte=on)
            .order_by("-effective_from")
            .first()
        )


class Transport(models.TextChoices):
    CAR = "car", _("自驾")
    TRAIN = "train", _("火车/高铁")
    PLANE = "plane", _("飞机")
    COACH = "coach", _("长途客车")
    SHIP = "ship", _("轮船")
    OTHER = "other", _("其他")


class ArrivalQuerySet(ScopedQuerySet):
    pass


class Arrival(models.Model):
    """One arrival of one person (来返报备). The same person arriving on the same day is the
    same arrival, however many channels report it."""

    class Channel(models.TextChoices):
        SELF = "self", _("本人扫码报备")
        GRID = "grid", _("网格员登记")
        HOTEL = "hotel", _("宾馆登记")
        EMPLOYER = "employer", _("用人单位登记")
        IMPORT = "import", _("批量导入")

    class Status(models.TextChoices):
        MEASURE = "measure", _("已落实管控")
        CHECK_ONLY = "check_only", _("查验健康码")
        PENDING = "pending", _("待落实管控")

    person = models.ForeignKey(
        "people.Person", verbose_name=_("人员"), on_delete=models.PROTECT, related_name="arrivals"
    )
    origin = models.CharField(_("来源地"), max_length=255)
    origin_adcode = models.CharField(_("来源地区划代码"), max_length=6, blank=True)
    stay_from = models.DateField(_("在来源地起始日期"))
    departure_date = models.DateField(_("出发日期"))
    arrival_date = models.DateField(_("抵达日期"))
    transport = models.CharField(_("交通方式"), max_length=16, choices=Transport.choices)
    transport_number = models.CharField(_("车次/航班/车牌"), max_length=32, blank=True)
    destination = models.CharField(_("目的地详细地址"), max_length=255)
    grid = models.ForeignKey(
        "geo.Region", verbose_name=_("所属网格"), on_delete=models.PROTECT, related_name="+"
    )
    has_certificate = models.BooleanField(_("持核酸阴性证明"), default=False)
    certificate_sampled_at = models.DateTimeField(_("证明采样时间"), null=True, blank=True)
    temperature = models.DecimalField(
        _("体温（℃）"), max_digits=3, decimal_places=1, null=True, blank=True
    )
    symptoms = models.JSONField(_("症状"), default=list, blank=True)
    # Classification: the highest level matched, the rule applied and what it led to.
    origin_level = models.CharField(
        _("旅居地最高风险等级"), max_length=8, choices=RiskLevel.choices, blank=True
    )
    rule = models.ForeignKey(
        ArrivalRule, verbose_name=_("分类规则"), null=True, on_delete=models.PROTECT
    )
    certificate_missing = models.BooleanField(_("缺少核酸证明"), default=False)
    status = models.CharField(_("落实情况"), max_length=16, choices=Status.choices)
    measure = models.ForeignKey(
        "measures.Measure",
        verbose_name=_("管控措施"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    pending_reason = models.CharField(_("待落实原因"), max_length=255, blank=True)
    channel = models.CharField(_("报备途径"), max_length=16, choices=Channel.choices)
    channels = models.JSONField(_("全部报备途径"), default=list)
    reporting_organisation = models.ForeignKey(
        "geo.Organisation",
        verbose_name=_("登记单位"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    receipt_code = models.CharField(_("回执码"), max_length=12, unique=True)
    reports = models.PositiveIntegerField(_("报备次数"), default=1)
    note = models.CharField(_("备注"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("登记时间"), default=timezone.now, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    objects = ArrivalQuerySet.as_manager()
    scope_region_field = "grid"

    class Meta:
        verbose_name = _("来返人员")
        verbose_name_plural = _("来返人员")
        ordering = ["-arrival_date", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["person", "arrival_date"], name="arrival_once_per_person_day"
            )
        ]
        indexes = [models.Index(fields=["grid", "arrival_date"])]

    def __str__(self) -> str:
        return f"{self.person} {self.arrival_date} ← {self.origin}"


class CanvassRound(models.Model):
    """A door-to-door round (入户排查) over an area, to be finished by a deadline."""

    name = models.CharField(_("名称"), max_length=128)
    region = models.ForeignKey(
        "geo.Region", verbose_name=_("排查范围"), on_delete=models.PROTECT, related_name="+"
    )
    instructions = models.TextField(_("排查要求"), blank=True)
    started_at = models.DateTimeField(_("开始时间"), default=timezone.now)
    deadline = models.DateTimeField(_("完成时限"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )

    objects = ScopedQuerySet.as_manager()
    scope_region_field = "region"

    class Meta:
        verbose_name = _("入户排查轮次")
        verbose_name_plural = _("入户排查轮次")
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return self.name


class HouseholdVisit(models.Model):
    """One household visited (in a round or on its own): who was found there."""

    class Outcome(models.TextChoices):
        VISITED = "visited", _("已入户")
        NOBODY_HOME = "nobody_home", _("无人在家（电话核实）")
        VACANT = "vacant", _("空置房")
        REFUSED = "refused", _("拒绝配合")

    canvass_round = models.ForeignKey(
        CanvassRound,
        verbose_name=_("排查轮次"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="visits",
    )
    household = models.ForeignKey(
        "people.Household", verbose_name=_("户"), on_delete=models.CASCADE, related_name="visits"
    )
    grid = models.ForeignKey(
        "geo.Region", verbose_name=_("网格"), on_delete=models.PROTECT, related_name="+"
    )
    visited_on = models.DateField(_("排查日期"))
    outcome = models.CharField(_("排查结果"), max_length=16, choices=Outcome.choices)
    people_found = models.PositiveIntegerField(_("在住人数"), default=0)
    arrivals_found = models.PositiveIntegerField(_("发现来返人员数"), default=0)
    found_persons = models.ManyToManyField(
        "people.Person", verbose_name=_("在住人员"), blank=True, related_name="+"
    )
    note = models.CharField(_("备注"), max_length=255, blank=True)
    visitor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("排查人"),
        null=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    recorded_at = models.DateTimeField(_("记录时间"), default=timezone.now)

    objects = ScopedQuerySet.as_manager()
    scope_region_field = "grid"

    class Meta:
        verbose_name = _("入户排查记录")
        verbose_name_plural = _("入户排查记录")
        ordering = ["-visited_on", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["canvass_round", "household"], name="visit_once_per_round"
            )
        ]

    def __str__(self) -> str:
        return f"{self.household} {self.visited_on}"


class ReportRule(models.Model):
    """When the communities' daily report is due (13:00 in seed 003), versioned by date."""

    effective_from = models.DateField(_("生效日期"), unique=True)
    deadline = models.TimeField(_("每日上报截止时间"))
    basis = models.CharField(_("依据"), max_length=255, blank=True)

    class Meta:
        verbose_name = _("日报告时限")
        verbose_name_plural = _("日报告时限")
        ordering = ["-effective_from"]

    def __str__(self) -> str:
        return f"{self.deadline:%H:%M} ({self.effective_from})"

    @classmethod
    def deadline_on(cls, day: date):
        """The aware datetime by which the report of `day` is due."""
        from datetime import datetime, time

        rule = cls.objects.filter(effective_from__lte=day).order_by("-effective_from").first()
        at = rule.deadline if rule else time(13)
        return timezone.make_aware(datetime.combine(day, at))


class DailyReport(models.Model):
    """A community's report of the day to its street (日报告/零报告), signed by the reporter.
    `figures` are the system's counts as the reporter confirmed them."""

    community = models.ForeignKey(
        "geo.Region", verbose_name=_("社区/村"), on_delete=models.PROTECT, related_name="+"
    )
    day = models.DateField(_("日期"))
    is_zero = models.BooleanField(_("零报告"), default=False)
    figures = models.JSONField(_("数据"), default=dict)
    note = models.TextField(_("情况说明"), blank=True)
    signed_by = models.CharField(_("报告人签名"), max_length=32)
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("报告账号"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    submitted_at = models.DateTimeField(_("上报时间"), default=timezone.now)
    due_at = models.DateTimeField(_("截止时间"))

    objects = ScopedQuerySet.as_manager()
    scope_region_field = "community"

    class Meta:
        verbose_name = _("社区日报告")
        verbose_name_plural = _("社区日报告")
        ordering = ["-day", "community__path"]
        constraints = [
            models.UniqueConstraint(fields=["community", "day"], name="daily_report_once")
        ]

    def __str__(self) -> str:
        return f"{self.community} {self.day}"

    @property
    def late(self) -> bool:
        return self.submitted_at > self.due_at


def look_back_start(on: date) -> date:
    """First day of the look-back window ending on `on` (both ends count)."""
    return on - timedelta(days=MatchRule.look_back(on))
