"""Control measures (隔离与健康监测, REQUIREMENTS §5).

A `Policy` version says what a category of person gets: a measure for so many days,
optionally followed by a home phase, tests on given days of the course, checks per day and
what release requires. A `Measure` is one phase of one person's course; chained phases share
the first phase as `course_start` and are created together. `HealthCheck` rows are the daily
readings; `MeasureTest` rows are the planned and done tests of a phase.
"""

from datetime import date, timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fangyi.core.access import ScopedQuerySet
from fangyi.geo.models import inside_or_above


class MeasureType(models.TextChoices):
    CENTRALISED = "centralised", _("集中隔离医学观察")
    HOME_OBSERVATION = "home_observation", _("居家隔离医学观察")
    HOME_MONITORING = "home_monitoring", _("居家健康监测")
    HOSPITAL_ISOLATION = "hospital_isolation", _("医院隔离治疗")
    OBSERVATION_ROOM = "observation_room", _("留观")


# Measures that isolate the person (as opposed to monitoring them at liberty).
ISOLATING = frozenset(
    {
        MeasureType.CENTRALISED,
        MeasureType.HOME_OBSERVATION,
        MeasureType.HOSPITAL_ISOLATION,
        MeasureType.OBSERVATION_ROOM,
    }
)
# Measures served in a facility room rather than at home.
IN_FACILITY = frozenset({MeasureType.CENTRALISED, MeasureType.OBSERVATION_ROOM})


class Category(models.TextChoices):
    """Why a person is placed under control; each has its own policy."""

    CLOSE_CONTACT = "close_contact", _("密切接触者")
    SECONDARY_CONTACT = "secondary_contact", _("密接的密接")
    HIGH_RISK_ARRIVAL = "high_risk_arrival", _("高风险地区来（返）人员")
    MEDIUM_RISK_ARRIVAL = "medium_risk_arrival", _("中风险地区来（返）人员")
    RETURNEE = "returnee", _("返乡人员")
    RELEASED_CENTRALISED = "released_centralised", _("解除集中隔离人员")
    HIGH_RISK_POST = "high_risk_post", _("高风险岗位人员")
    POOL_POSITIVE = "pool_positive", _("混采阳性管控人员")
    FEVER_PATIENT = "fever_patient", _("发热留观人员")
    OTHER = "other", _("其他")


class PolicyQuerySet(models.QuerySet):
    def in_force(self, category: str, on: date) -> "Policy | None":
        """The latest version of the category's policy effective on that day."""
        return (
            self.filter(category=category, effective_from__lte=on)
            .order_by("-effective_from", "-version")
            .first()
        )


class Policy(models.Model):
    """One published version of a category's policy. Versions are never edited: a change is
    a new version with an effective date, and a measure keeps the version it started under."""

    category = models.CharField(_("人员类别"), max_length=32, choices=Category.choices)
    version = models.PositiveIntegerField(_("版本"))
    effective_from = models.DateField(_("生效日期"))
    measure_type = models.CharField(_("管控措施"), max_length=32, choices=MeasureType.choices)
    days = models.PositiveIntegerField(_("天数"))
    then_type = models.CharField(
        _("期满后续措施"), max_length=32, choices=MeasureType.choices, blank=True
    )
    then_days = models.PositiveIntegerField(_("后续措施天数"), default=0)
    # Course days (day 1 = first day of the first phase), e.g. [1, 4, 7, 14].
    test_days = models.JSONField(_("核酸检测日（第几天）"), default=list, blank=True)
    test_every_days = models.PositiveIntegerField(_("每隔几天检测一次"), default=0)
    checks_per_day = models.PositiveIntegerField(_("每日健康监测次数"), default=2)
    release_needs_tests = models.BooleanField(_("解除须检测日全部阴性"), default=True)
    release_needs_environment = models.BooleanField(
        _("解除须人、物、环境样本均阴性"), default=False
    )
    basis = models.CharField(_("依据"), max_length=255, blank=True)
    published_at = models.DateTimeField(_("发布时间"), default=timezone.now)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    objects = PolicyQuerySet.as_manager()

    class Meta:
        verbose_name = _("管控政策")
        verbose_name_plural = _("管控政策")
        ordering = ["category", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["category", "version"], name="policy_version_unique")
        ]

    def __str__(self) -> str:
        return f"{self.get_category_display()} v{self.version}"

    @property
    def course_days(self) -> int:
        return self.days + (self.then_days if self.then_type else 0)

    def course_test_days(self) -> list[int]:
        """Every test day of the whole course, explicit days or one every N days."""
        if self.test_days:
            return sorted({int(day) for day in self.test_days if 0 < int(day) <= self.course_days})
        if self.test_every_days:
            return list(range(self.test_every_days, self.course_days + 1, self.test_every_days))
        return []

    def summary(self) -> str:
        parts = [f"{self.get_measure_type_display()}{self.days}天"]
        if self.then_type:
            parts.append(f"{self.get_then_type_display()}{self.then_days}天")
        tests = self.course_test_days()
        text = "+".join(parts)
        if tests:
            text += "，第" + "、".join(str(day) for day in tests) + "天核酸检测"
        return text


class FacilityQuerySet(ScopedQuerySet):
    def visible_to(self, user):
        """Facilities inside the jurisdiction and those above it that serve it: a county's
        quarantine hotels take people from every street and grid. A facility holds no
        personal data; its residents stay scoped by their own measures."""
        return inside_or_above(self, user)

    def with_free_rooms(self):
        """Active facilities with at least one free room, annotated `free` (their count)."""
        return (
            self.filter(active=True)
            .annotate(free=models.Count("rooms", filter=Q(rooms__status=Room.Status.FREE)))
            .filter(free__gt=0)
        )


class Facility(models.Model):
    """A quarantine hotel or observation site (an organisation of type quarantine facility
    or a hospital's observation area)."""

    class Kind(models.TextChoices):
        HOTEL = "hotel", _("隔离酒店")
        SITE = "site", _("集中隔离医学观察点")
        OBSERVATION = "observation", _("医疗机构留观区")

    organisation = models.OneToOneField(
        "geo.Organisation",
        verbose_name=_("单位"),
        on_delete=models.PROTECT,
        related_name="facility",
    )
    name = models.CharField(_("名称"), max_length=128)
    kind = models.CharField(_("类型"), max_length=16, choices=Kind.choices, default=Kind.SITE)
    region = models.ForeignKey(
        "geo.Region", verbose_name=_("所在区划"), on_delete=models.PROTECT, related_name="+"
    )
    address = models.CharField(_("地址"), max_length=255)
    phone = models.CharField(_("联系电话"), max_length=32, blank=True)
    active = models.BooleanField(_("启用"), default=True)

    objects = FacilityQuerySet.as_manager()
    scope_region_field = "region"

    class Meta:
        verbose_name = _("隔离场所")
        verbose_name_plural = _("隔离场所")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class RoomQuerySet(models.QuerySet):
    def visible_to(self, user):
        return self.filter(facility__in=Facility.objects.visible_to(user))


class Room(models.Model):
    class Kind(models.TextChoices):
        SINGLE = "single", _("单人间")
        FAMILY = "family", _("家庭间")

    class Status(models.TextChoices):
        FREE = "free", _("空闲")
        OCCUPIED = "occupied", _("已入住")
        CLEANING = "cleaning", _("待消毒")
        OUT_OF_SERVICE = "out_of_service", _("停用")

    facility = models.ForeignKey(Facility, on_delete=models.CASCADE, related_name="rooms")
    number = models.CharField(_("房间号"), max_length=16)
    floor = models.IntegerField(_("楼层"))
    kind = models.CharField(_("房型"), max_length=16, choices=Kind.choices, default=Kind.SINGLE)
    beds = models.PositiveIntegerField(_("床位"), default=1)
    status = models.CharField(
        _("状态"), max_length=16, choices=Status.choices, default=Status.FREE, db_index=True
    )
    occupants = models.PositiveIntegerField(_("在住人数"), default=0)

    objects = RoomQuerySet.as_manager()

    class Meta:
        verbose_name = _("房间")
        verbose_name_plural = _("房间")
        ordering = ["facility", "floor", "number"]
        constraints = [
            models.UniqueConstraint(fields=["facility", "number"], name="room_number_unique"),
            # The last line of defence against double booking.
            models.CheckConstraint(condition=Q(occupants__lte=models.F("beds")), name="room_beds"),
        ]

    def __str__(self) -> str:
        return f"{self.facility.name} {self.number}"


class MeasureQuerySet(ScopedQuerySet):
    def active(self):
        return self.filter(status=Measure.Status.ACTIVE)

    def open(self):
        return self.filter(status__in=(Measure.Status.PLANNED, Measure.Status.ACTIVE))


class Measure(models.Model):
    """One phase of a person's course of control."""

    class Status(models.TextChoices):
        PLANNED = "planned", _("待开始")
        ACTIVE = "active", _("管控中")
        RELEASED = "released", _("已解除")
        HOSPITAL = "hospital", _("转定点医院")
        TRANSFERRED = "transferred", _("转外地管控")
        ABSCONDED = "absconded", _("脱管")
        SUPERSEDED = "superseded", _("升级管控")
        CANCELLED = "cancelled", _("已取消")

    person = models.ForeignKey(
        "people.Person", verbose_name=_("人员"), on_delete=models.PROTECT, related_name="measures"
    )
    type = models.CharField(_("管控措施"), max_length=32, choices=MeasureType.choices)
    category = models.CharField(_("人员类别"), max_length=32, choices=Category.choices)
    reason = models.CharField(_("管控原因"), max_length=255, blank=True)
    contact = models.ForeignKey(
        "tracing.Contact",
        verbose_name=_("密接登记"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="measures",
    )
    policy = models.ForeignKey(
        Policy, verbose_name=_("政策版本"), on_delete=models.PROTECT, related_name="measures"
    )
    course_start = models.ForeignKey(
        "self",
        verbose_name=_("所属管控过程"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="later_phases",
    )
    phase = models.PositiveSmallIntegerField(_("阶段"), default=1)
    # Course day of this phase's first day (1 for the first phase, 15 after 14 days…).
    first_course_day = models.PositiveIntegerField(default=1)
    start_date = models.DateField(_("开始日期"))
    planned_end = models.DateField(_("计划解除日期"))
    ended_at = models.DateTimeField(_("结束时间"), null=True, blank=True)
    status = models.CharField(
        _("状态"), max_length=16, choices=Status.choices, default=Status.ACTIVE, db_index=True
    )
    facility = models.ForeignKey(
        Facility,
        verbose_name=_("隔离场所"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="measures",
    )
    room = models.ForeignKey(
        Room,
        verbose_name=_("房间"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="measures",
    )
    address = models.CharField(_("管控地址"), max_length=255, blank=True)
    # The grid responsible for the person (their home grid): the scope of the record.
    region = models.ForeignKey(
        "geo.Region", verbose_name=_("责任网格"), on_delete=models.PROTECT, related_name="+"
    )
    responsible_organisation = models.ForeignKey(
        "geo.Organisation",
        verbose_name=_("责任单位"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    checks_per_day = models.PositiveIntegerField(_("每日监测次数"), default=2)
    end_note = models.CharField(_("结束说明"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("登记时间"), default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("解除/结束操作人"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    objects = MeasureQuerySet.as_manager()
    scope_region_field = "region"

    class Meta:
        verbose_name = _("管控措施")
        verbose_name_plural = _("管控措施")
        ordering = ["-start_date", "-id"]
        constraints = [
            # One measure in force per person at a time (chained phases wait as planned).
            models.UniqueConstraint(
                fields=["person"],
                condition=Q(status="active"),
                name="one_active_measure_per_person",
            )
        ]
        indexes = [
            models.Index(fields=["status", "planned_end"]),
            models.Index(fields=["status", "start_date"]),
            # The dashboard: people under control counted from the index alone, and the
            # day's releases.
            models.Index(fields=["status", "region", "type"], name="measure_status_region_type"),
            models.Index(fields=["status", "ended_at"], name="measure_status_ended"),
        ]

    def __str__(self) -> str:
        return f"{self.person.name} {self.get_type_display()}"

    def get_absolute_url(self) -> str:
        return reverse("measure_detail", args=[self.pk])

    @property
    def course(self) -> "Measure":
        return self.course_start or self

    def phases(self) -> "MeasureQuerySet":
        """Every phase of the measure's course (centralised, then home…), first first."""
        course_id = self.course_start_id or self.pk
        return Measure.objects.filter(Q(pk=course_id) | Q(course_start=course_id)).order_by("phase")

    @property
    def days(self) -> int:
        return (self.planned_end - self.start_date).days

    def course_day(self, on: date) -> int:
        """Day of the course on that date (day 1 = the first day of the first phase)."""
        return self.first_course_day + (on - self.start_date).days

    def date_of_course_day(self, day: int) -> date:
        return self.start_date + timedelta(days=day - self.first_course_day)

    @property
    def is_open(self) -> bool:
        return self.status in (self.Status.PLANNED, self.Status.ACTIVE)


class Symptom(models.TextChoices):
    FEVER = "fever", _("发热")
    DRY_COUGH = "dry_cough", _("干咳")
    SORE_THROAT = "sore_throat", _("咽痛")
    FATIGUE = "fatigue", _("乏力")
    SMELL_TASTE = "smell_taste", _("嗅（味）觉减退")
    DIARRHOEA = "diarrhoea", _("腹泻")
    SHORT_BREATH = "short_breath", _("气促")
    OTHER = "other", _("其他")


def symptom_labels(codes: list[str]) -> list[str]:
    """The labels of symptom codes, unknown codes left out (readings, arrivals, sales…)."""
    return [str(Symptom(code).label) for code in codes if code in Symptom.values]


class HealthCheck(models.Model):
    """One reading: temperature and symptoms at a time, by whom."""

    class Source(models.TextChoices):
        STAFF = "staff", _("工作人员录入")
        SELF = "self", _("本人手机填报")
        API = "api", _("系统接口")

    measure = models.ForeignKey(Measure, on_delete=models.CASCADE, related_name="checks")
    region = models.ForeignKey("geo.Region", on_delete=models.PROTECT, related_name="+")
    checked_at = models.DateTimeField(_("监测时间"))
    # Local calendar day of the reading: the unit of "checks per day".
    day = models.DateField(_("监测日期"))
    temperature = models.DecimalField(_("体温（℃）"), max_digits=3, decimal_places=1)
    symptoms = models.JSONField(_("症状"), default=list, blank=True)
    note = models.CharField(_("其他情况"), max_length=255, blank=True)
    abnormal = models.BooleanField(_("异常"), default=False)
    source = models.CharField(_("填报方式"), max_length=8, choices=Source.choices)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("录入人"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    objects = ScopedQuerySet.as_manager()
    scope_region_field = "region"

    class Meta:
        verbose_name = _("健康监测记录")
        verbose_name_plural = _("健康监测记录")
        ordering = ["-checked_at"]
        indexes = [
            models.Index(fields=["measure", "day"]),
            models.Index(fields=["day", "region"]),
            models.Index(fields=["day"], condition=Q(abnormal=True), name="check_abnormal_day"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.temperature}℃"

    def symptom_labels(self) -> list[str]:
        return symptom_labels(self.symptoms)


class MeasureTest(models.Model):
    """A test of the course: planned on a policy test day, or added; its result entered on
    the measure until the lab module records it."""

    class Kind(models.TextChoices):
        PERSON = "person", _("人员样本")
        OBJECT = "object", _("物品样本")
        ENVIRONMENT = "environment", _("环境样本")

    class Result(models.TextChoices):
        NEGATIVE = "negative", _("阴性")
        POSITIVE = "positive", _("阳性")
        INVALID = "invalid", _("无效（需重采）")

    measure = models.ForeignKey(Measure, on_delete=models.CASCADE, related_name="tests")
    region = models.ForeignKey("geo.Region", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(_("样本类别"), max_length=16, choices=Kind.choices, default="person")
    course_day = models.PositiveIntegerField(_("第几天"), null=True, blank=True)
    due_date = models.DateField(_("计划检测日期"))
    sampled_at = models.DateTimeField(_("采样时间"), null=True, blank=True)
    result = models.CharField(_("结果"), max_length=16, choices=Result.choices, blank=True)
    result_at = models.DateTimeField(_("结果时间"), null=True, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    objects = ScopedQuerySet.as_manager()
    scope_region_field = "region"

    class Meta:
        verbose_name = _("管控期检测")
        verbose_name_plural = _("管控期检测")
        ordering = ["due_date", "id"]
        indexes = [models.Index(fields=["due_date", "result"])]

    def __str__(self) -> str:
        day = f"第{self.course_day}天" if self.course_day else ""
        return f"{day}{self.get_kind_display()} {self.get_result_display() or '待检'}"

    def get_absolute_url(self) -> str:
        return self.measure.get_absolute_url()
