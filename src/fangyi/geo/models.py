"""The jurisdiction tree, organisations and places.

Region codes follow GB/T 2260 and the statistical division codes: county 6 digits,
township/street 9, village/community 12; grids (and below) extend their parent's code.
"""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from fangyi.core.access import ScopedQuerySet, user_scope_path

PATH_SEPARATOR = "/"


def ancestor_paths(path: str) -> list[str]:
    """The paths of a region and of those above it:
    "330122/330122001/" → ["330122/", "330122/330122001/"]."""
    codes = path.rstrip(PATH_SEPARATOR).split(PATH_SEPARATOR)
    return [PATH_SEPARATOR.join(codes[: i + 1]) + PATH_SEPARATOR for i in range(len(codes))]


def inside_or_above(queryset, user, field: str = "region"):
    """Records whose region lies in the user's jurisdiction or above it (a county's
    quarantine hotel, campaign or collection site serves every street and grid in it). For
    records without personal data; persons stay scoped by `visible_to`."""
    path = user_scope_path(user)
    if path is None:
        return queryset.none()
    if path == "":
        return queryset
    lookup = f"{field}__path" if field else "path"
    return queryset.filter(
        Q(**{f"{lookup}__startswith": path}) | Q(**{f"{lookup}__in": ancestor_paths(path)})
    )


class Region(models.Model):
    class Level(models.TextChoices):
        COUNTY = "county", _("县/区")
        TOWNSHIP = "township", _("乡镇/街道")
        VILLAGE = "village", _("村/社区")
        GRID = "grid", _("网格")
        BUILDING = "building", _("楼栋")

    LEVEL_ORDER = [Level.COUNTY, Level.TOWNSHIP, Level.VILLAGE, Level.GRID, Level.BUILDING]

    code = models.CharField(_("区划代码"), max_length=24, unique=True)
    name = models.CharField(_("名称"), max_length=64)
    level = models.CharField(_("层级"), max_length=16, choices=Level.choices)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("上级"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    # Codes of the ancestors and of this region, each followed by "/": cheap subtree queries.
    path = models.CharField(max_length=255, unique=True, editable=False)
    # Names below the county, e.g. "青石镇 柳溪村 第1网格": labels without walking the tree.
    full_name = models.CharField(_("全称"), max_length=255, editable=False)

    objects = ScopedQuerySet.as_manager()
    scope_region_field = ""  # a region is its own scope

    class Meta:
        verbose_name = _("行政区划")
        verbose_name_plural = _("行政区划")
        ordering = ["path"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        self.fill_derived()
        super().save(*args, **kwargs)

    def fill_derived(self) -> None:
        """Path and full name from the parent (also called before bulk inserts)."""
        self.path = (self.parent.path if self.parent else "") + self.code + PATH_SEPARATOR
        above = self.parent.full_name if self.parent and self.parent.parent_id else ""
        self.full_name = f"{above} {self.name}".strip()

    def clean(self):
        from django.core.exceptions import ValidationError

        if self.parent is None:
            if self.level != self.Level.COUNTY:
                raise ValidationError(_("只有县/区可以没有上级区划。"))
            return
        expected = self.LEVEL_ORDER.index(self.parent.level) + 1
        if self.LEVEL_ORDER.index(self.level) != expected:
            raise ValidationError(_("区划层级与上级不符。"))
        if not self.code.startswith(self.parent.code):
            raise ValidationError(_("区划代码必须以上级代码开头。"))


class OrganisationQuerySet(ScopedQuerySet):
    def nearest(self, kind: str, region: Region) -> "Organisation | None":
        """The organisation of that type closest above the region (or in it): the CDC
        responsible for a grid, the village committee of a household…"""
        candidates = self.filter(
            type=kind, region__path__in=ancestor_paths(region.path)
        ).select_related("region")
        return max(candidates, key=lambda o: len(o.region.path), default=None)

    def nearest_each(self, kind: str, region_ids) -> dict[int, "Organisation | None"]:
        """`nearest` for many regions in two queries: region id → organisation."""
        paths = dict(Region.objects.filter(pk__in=region_ids).values_list("pk", "path"))
        above = {p for path in paths.values() for p in ancestor_paths(path)}
        by_path = {
            org.region.path: org
            for org in self.filter(type=kind, region__path__in=above).select_related("region")
        }
        return {
            pk: next((by_path[p] for p in reversed(ancestor_paths(path)) if p in by_path), None)
            for pk, path in paths.items()
        }


class Organisation(models.Model):
    class Type(models.TextChoices):
        HEALTH_COMMISSION = "health_commission", _("卫生健康委员会")
        CDC = "cdc", _("疾病预防控制中心")
        DESIGNATED_HOSPITAL = "designated_hospital", _("定点医院")
        RESERVE_HOSPITAL = "reserve_hospital", _("后备定点医院")
        HOSPITAL = "hospital", _("医院")
        TOWNSHIP_HEALTH_CENTRE = "township_health_centre", _("乡镇卫生院/社区卫生服务中心")
        VILLAGE_CLINIC = "village_clinic", _("村卫生室")
        PRIVATE_CLINIC = "private_clinic", _("个体诊所")
        PHARMACY = "pharmacy", _("药店")
        LAB = "lab", _("检测实验室")
        SCHOOL = "school", _("学校")
        KINDERGARTEN = "kindergarten", _("幼儿园/托幼机构")
        ENTERPRISE = "enterprise", _("企业")
        HOTEL = "hotel", _("宾馆/酒店")
        MARKET = "market", _("农贸市场")
        QUARANTINE_FACILITY = "quarantine_facility", _("集中隔离场所")
        STREET_OFFICE = "street_office", _("街道办事处/乡镇政府")
        VILLAGE_COMMITTEE = "village_committee", _("村(居)委会")

    name = models.CharField(_("名称"), max_length=128)
    type = models.CharField(_("类型"), max_length=32, choices=Type.choices)
    region = models.ForeignKey(
        Region, verbose_name=_("所在区划"), on_delete=models.PROTECT, related_name="organisations"
    )
    address = models.CharField(_("地址"), max_length=255, blank=True)
    phone = models.CharField(_("联系电话"), max_length=32, blank=True)

    objects = OrganisationQuerySet.as_manager()
    scope_region_field = "region"

    class Meta:
        verbose_name = _("机构")
        verbose_name_plural = _("机构")
        ordering = ["region__path", "name"]
        constraints = [
            models.UniqueConstraint(fields=["region", "name"], name="organisation_unique_name")
        ]

    def __str__(self) -> str:
        return self.name


class Place(models.Model):
    class Type(models.TextChoices):
        MARKET = "market", _("农贸市场/超市")
        RESTAURANT = "restaurant", _("餐馆")
        STATION = "station", _("车站/码头")
        SCHOOL = "school", _("学校/托幼机构")
        CLINIC = "clinic", _("医疗机构")
        WORKPLACE = "workplace", _("工作场所")
        ENTERTAINMENT = "entertainment", _("娱乐场所")
        HOTEL = "hotel", _("宾馆")
        RELIGIOUS = "religious", _("宗教场所")
        RESIDENTIAL = "residential", _("居民小区")
        COLD_CHAIN = "cold_chain", _("冷链仓储")
        OTHER = "other", _("其他")

    name = models.CharField(_("名称"), max_length=128)
    type = models.CharField(_("类型"), max_length=32, choices=Type.choices)
    address = models.CharField(_("地址"), max_length=255)
    region = models.ForeignKey(
        Region, verbose_name=_("所在区划"), on_delete=models.PROTECT, related_name="places"
    )
    organisation = models.ForeignKey(
        Organisation, verbose_name=_("所属机构"), null=True, blank=True, on_delete=models.SET_NULL
    )

    objects = ScopedQuerySet.as_manager()
    scope_region_field = "region"

    class Meta:
        verbose_name = _("场所")
        verbose_name_plural = _("场所")
        ordering = ["region__path", "name"]

    def __str__(self) -> str:
        return self.name
