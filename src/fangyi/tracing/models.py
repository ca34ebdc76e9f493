from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fangyi.core.access import ScopedQuerySet
from fangyi.core.models import Duty, Task


class Investigation(models.Model):
    """The epidemiological investigation of one case (流行病学调查), due within 24 hours."""

    class SourceType(models.TextChoices):
        CASE = "case", _("已知病例")
        PLACE = "place", _("场所")
        UNKNOWN = "unknown", _("不明")

    case = models.OneToOneField(
        "cases.CaseReport",
        verbose_name=_("病例"),
        on_delete=models.CASCADE,
        related_name="investigation",
    )
    region = models.ForeignKey("geo.Region", on_delete=models.PROTECT, related_name="+")
    investigator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("调查人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    exposure_history = models.TextField(_("暴露史"), blank=True)
    travel_history = models.TextField(_("14天内旅居史"), blank=True)
    suspected_source_type = models.CharField(
        _("可疑感染来源"), max_length=16, choices=SourceType.choices, default=SourceType.UNKNOWN
    )
    source_case = models.ForeignKey(
        "cases.CaseReport",
        verbose_name=_("来源病例"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    source_place = models.ForeignKey(
        "geo.Place",
        verbose_name=_("来源场所"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    notes = models.TextField(_("调查结论"), blank=True)
    started_at = models.DateTimeField(_("开始时间"), default=timezone.now)
    completed_at = models.DateTimeField(_("完成时间"), null=True, blank=True)

    objects = ScopedQuerySet.as_manager()
    scope_region_field = "region"

    class Meta:
        verbose_name = _("流行病学调查")
        verbose_name_plural = _("流行病学调查")

    def __str__(self) -> str:
        return str(self.case)


class TrajectoryEntry(models.Model):
    """Where the case was, and when (活动轨迹)."""

    investigation = models.ForeignKey(
        Investigation, on_delete=models.CASCADE, related_name="trajectory"
    )
    place = models.ForeignKey(
        "geo.Place",
        verbose_name=_("场所"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="visits",
    )
    place_text = models.CharField(_("地点"), max_length=255, blank=True)
    start = models.DateTimeField(_("开始"))
    end = models.DateTimeField(_("结束"))
    notes = models.CharField(_("备注"), max_length=255, blank=True)

    class Meta:
        verbose_name = _("活动轨迹")
        verbose_name_plural = _("活动轨迹")
        ordering = ["start"]

    def __str__(self) -> str:
        return self.place_text or str(self.place)


class ContactQuerySet(ScopedQuerySet):
    def of_case(self, case_id: int) -> "ContactQuerySet":
        """Close contacts of the case and the contacts of those close contacts."""
        return self.filter(models.Q(case=case_id) | models.Q(source_contact__case=case_id))

    def with_control_due(self) -> "ContactQuerySet":
        """Adds `control_due_at`, the due time of the 12-hour control task (one subquery)."""
        due = Task.objects.filter(
            content_type=ContentType.objects.get_for_model(self.model),
            object_id=models.OuterRef("pk"),
            duty=Duty.CONTROL_CONTACT,
        ).order_by("-started_at")
        return self.annotate(control_due_at=models.Subquery(due.values("due_at")[:1]))

    def with_index_case(self) -> "ContactQuerySet":
        """Adds `index_case_id` and `disease_name`: the case at the origin, directly or
        through the close contact."""
        return self.annotate(
            index_case_id=Coalesce("case_id", "source_contact__case_id"),
            disease_name=Coalesce("case__disease__name", "source_contact__case__disease__name"),
        )

    def control_overdue(self, now=None) -> "ContactQuerySet":
        """Not yet under control and past the control deadline (needs `with_control_due`)."""
        return self.filter(controlled_at__isnull=True, control_due_at__lt=now or timezone.now())


class Contact(models.Model):
    """A person exposed to a case (close contact, 密接) or to a close contact (次密接).

    A contact of a contact points at the close contact it was exposed to (`source_contact`),
    so second-degree contacts follow from the graph and are never retyped."""

    class Setting(models.TextChoices):
        HOUSEHOLD = "household", _("家庭")
        WORKPLACE = "workplace", _("工作场所")
        TRANSPORT = "transport", _("交通工具")
        GATHERING = "gathering", _("聚餐聚会")
        MEDICAL = "medical", _("医疗机构")
        SCHOOL = "school", _("学校")
        PUBLIC_PLACE = "public_place", _("公共场所")
        OTHER = "other", _("其他")

    class FoundBy(models.TextChoices):
        INVESTIGATION = "investigation", _("流调")
        BIG_DATA = "big_data", _("大数据筛查")
        ASSISTANCE = "assistance", _("协查")
        SELF_REPORT = "self_report", _("主动报告")
        OTHER = "other", _("其他")

    person = models.ForeignKey(
        "people.Person",
        verbose_name=_("接触者"),
        on_delete=models.PROTECT,
        related_name="contact_records",
    )
    case = models.ForeignKey(
        "cases.CaseReport",
        verbose_name=_("指示病例"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="contacts",
    )
    source_contact = models.ForeignKey(
        "self",
        verbose_name=_("所接触的密接"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="secondary_contacts",
    )
    region = models.ForeignKey(
        "geo.Region", verbose_name=_("所属网格"), on_delete=models.PROTECT, related_name="+"
    )
    relation = models.CharField(_("与指示病例关系"), max_length=64, blank=True)
    setting = models.CharField(_("接触场景"), max_length=16, choices=Setting.choices)
    last_exposure_at = models.DateTimeField(_("末次接触时间"))
    found_by = models.CharField(
        _("发现方式"), max_length=16, choices=FoundBy.choices, default=FoundBy.INVESTIGATION
    )
    source_note = models.CharField(_("来源说明"), max_length=255, blank=True)
    # Left the area: goes on the assistance list (协查) for another jurisdiction, with the
    # address elsewhere in `source_note`.
    needs_assistance = models.BooleanField(_("需外地协查"), default=False)
    registered_at = models.DateTimeField(_("登记时间"), default=timezone.now)
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    controlled_at = models.DateTimeField(_("落实管控时间"), null=True, blank=True)
    became_case = models.ForeignKey(
        "cases.CaseReport",
        verbose_name=_("转为病例"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    objects = ContactQuerySet.as_manager()
    scope_region_field = "region"

    class Meta:
        verbose_name = _("密切接触者")
        verbose_name_plural = _("密切接触者")
        ordering = ["-registered_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(case__isnull=False) | models.Q(source_contact__isnull=False),
                name="contact_has_a_source",
            ),
            # A person is registered once per case and once per close contact.
            models.UniqueConstraint(
                fields=["case", "person"],
                condition=models.Q(case__isnull=False),
                name="contact_unique_per_case",
            ),
            models.UniqueConstraint(
                fields=["source_contact", "person"],
                condition=models.Q(source_contact__isnull=False),
                name="contact_unique_per_source_contact",
            ),
        ]

    def __str__(self) -> str:
        return self.person.name

    @property
    def degree(self) -> int:
        """1 for a close contact of a case, 2 for a contact of a close contact."""
        return 1 if self.case_id else 2


class CaseLink(models.Model):
    """Transmission: the infector case infected the infectee case."""

    infector = models.ForeignKey(
        "cases.CaseReport", on_delete=models.CASCADE, related_name="infected_links"
    )
    infectee = models.ForeignKey(
        "cases.CaseReport", on_delete=models.CASCADE, related_name="infected_by_links"
    )
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("传播关系")
        verbose_name_plural = _("传播关系")
        constraints = [
            models.UniqueConstraint(fields=["infector", "infectee"], name="case_link_unique"),
            models.CheckConstraint(
                condition=~models.Q(infector=models.F("infectee")), name="case_link_not_self"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.infector_id} → {self.infectee_id}"


class Cluster(models.Model):
    """A group of linked cases (聚集性疫情): a connected component of case links and shared
    exposure places."""

    name = models.CharField(_("名称"), max_length=128)
    region = models.ForeignKey(
        "geo.Region", verbose_name=_("区划"), on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("发现时间"), default=timezone.now)
    size = models.PositiveIntegerField(_("病例数"), default=0)
    generations = models.PositiveIntegerField(_("代数"), default=0)
    first_onset = models.DateField(_("首例发病"), null=True, blank=True)
    last_onset = models.DateField(_("末例发病"), null=True, blank=True)

    objects = ScopedQuerySet.as_manager()
    scope_region_field = "region"

    class Meta:
        verbose_name = _("聚集性疫情")
        verbose_name_plural = _("聚集性疫情")
        ordering = ["-size", "-id"]

    def __str__(self) -> str:
        return self.name
