import re

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fangyi.core import crypto
from fangyi.core.access import ScopedQuerySet
from fangyi.core.masking import mask_id_number, mask_phone

# Purposes of the keyed hashes (core.crypto.keyed_hash): separate spaces per use.
ID_NUMBER = "id_number"
ID_LAST4 = "id_last4"
PHONE = "phone"
PHONE_LAST4 = "phone_last4"


class KeyGroup(models.Model):
    """Groups that must be tested regularly (应检尽检): held as data, edited by admins."""

    code = models.SlugField(_("代码"), max_length=32, unique=True)
    name = models.CharField(_("名称"), max_length=64)

    class Meta:
        verbose_name = _("重点人群")
        verbose_name_plural = _("重点人群")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class Household(models.Model):
    code = models.CharField(_("户编号"), max_length=32, unique=True)
    address = models.CharField(_("住址"), max_length=255)
    grid = models.ForeignKey(
        "geo.Region", verbose_name=_("网格"), on_delete=models.PROTECT, related_name="households"
    )

    objects = ScopedQuerySet.as_manager()
    scope_region_field = "grid"

    class Meta:
        verbose_name = _("户")
        verbose_name_plural = _("户")

    def __str__(self) -> str:
        return self.code


class PersonQuerySet(ScopedQuerySet):
    def search(self, query: str) -> "PersonQuerySet":
        """Name, pinyin (full or initials, prefix), last 4 of ID or phone, full ID or phone.

        Everything is an indexed equality or prefix match: no scan of the whole table."""
        from fangyi.people.validation import normalise_document_number

        text = "".join((query or "").split())
        if not text:
            return self
        compact = normalise_document_number(text)
        if re.fullmatch(r"\d{3}[\dX]", compact):
            return self.filter(
                Q(id_last4_hash=crypto.keyed_hash(compact, ID_LAST4))
                | Q(phone_last4_hash=crypto.keyed_hash(compact, PHONE_LAST4))
            )
        if compact.isdigit() and len(compact) in (11, 12):
            return self.filter(phone_hash=crypto.keyed_hash(compact, PHONE))
        if text.isascii() and text.isalpha():
            key = text.lower()
            return self.filter(Q(name_initials__startswith=key) | Q(name_pinyin__startswith=key))
        if text.isascii() and text.isalnum():
            return self.filter(id_number_hash=crypto.keyed_hash(compact, ID_NUMBER))
        return self.filter(name__startswith=text)


class Person(models.Model):
    class IdType(models.TextChoices):
        RESIDENT_ID = "resident_id", _("居民身份证")
        PASSPORT = "passport", _("护照")
        OTHER = "other", _("其他证件")
        NONE = "none", _("无证件")

    class Sex(models.TextChoices):
        MALE = "male", _("男")
        FEMALE = "female", _("女")
        UNKNOWN = "unknown", _("未知")

    class Category(models.TextChoices):
        RESIDENT = "resident", _("常住人口")
        FLOATING = "floating", _("流动人口")
        KEY = "key", _("重点人员")

    name = models.CharField(_("姓名"), max_length=64)
    # Indexed for prefix search; PostgreSQL also gets a pattern-ops index from db_index.
    name_pinyin = models.CharField(max_length=128, db_index=True, editable=False)
    name_initials = models.CharField(max_length=32, db_index=True, editable=False)
    id_type = models.CharField(
        _("证件类型"), max_length=16, choices=IdType.choices, default=IdType.RESIDENT_ID
    )
    # Personal data: encrypted, with keyed hashes for exact lookup (core.crypto).
    id_number_encrypted = models.TextField(blank=True, editable=False)
    # Hashes are only compared for equality: indexed in Meta, without pattern-ops twins.
    id_number_hash = models.CharField(max_length=32, null=True, editable=False)
    id_last4_hash = models.CharField(max_length=32, blank=True, editable=False)
    phone_encrypted = models.TextField(blank=True, editable=False)
    phone_hash = models.CharField(max_length=32, blank=True, editable=False)
    phone_last4_hash = models.CharField(max_length=32, blank=True, editable=False)
    sex = models.CharField(_("性别"), max_length=8, choices=Sex.choices, default=Sex.UNKNOWN)
    birth_date = models.DateField(_("出生日期"), null=True, blank=True)
    nationality = models.CharField(_("国籍"), max_length=64, blank=True, default="中国")
    address = models.CharField(_("现住址"), max_length=255, blank=True)
    grid = models.ForeignKey(
        "geo.Region", verbose_name=_("所属网格"), on_delete=models.PROTECT, related_name="persons"
    )
    household = models.ForeignKey(
        Household,
        verbose_name=_("户"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="members",
    )
    category = models.CharField(
        _("人口类别"), max_length=16, choices=Category.choices, default=Category.RESIDENT
    )
    workplace = models.CharField(_("工作单位"), max_length=128, blank=True)
    key_groups = models.ManyToManyField(
        KeyGroup, verbose_name=_("重点人群"), blank=True, related_name="persons"
    )
    created_at = models.DateTimeField(_("登记时间"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("更新时间"), default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )

    objects = PersonQuerySet.as_manager()
    scope_region_field = "grid"

    class Meta:
        verbose_name = _("人员")
        verbose_name_plural = _("人员")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["id_number_hash"], name="person_unique_id_number")
        ]
        indexes = [
            models.Index(fields=["id_last4_hash"], name="person_id_last4"),
            models.Index(fields=["phone_hash"], name="person_phone"),
            models.Index(fields=["phone_last4_hash"], name="person_phone_last4"),
        ]

    def __str__(self) -> str:
        return self.name

    # The clear values exist only in memory, decrypted on demand.
    @property
    def id_number(self) -> str:
        return crypto.decrypt(self.id_number_encrypted)

    @property
    def phone(self) -> str:
        return crypto.decrypt(self.phone_encrypted)

    @property
    def id_number_masked(self) -> str:
        return mask_id_number(self.id_number)

    @property
    def phone_masked(self) -> str:
        return mask_phone(self.phone)

    def set_id_number(self, number: str) -> None:
        self.id_number_encrypted = crypto.encrypt(number)
        self.id_number_hash = crypto.keyed_hash(number, ID_NUMBER) or None
        self.id_last4_hash = crypto.keyed_hash(number[-4:], ID_LAST4)

    def set_phone(self, phone: str) -> None:
        self.phone_encrypted = crypto.encrypt(phone)
        self.phone_hash = crypto.keyed_hash(phone, PHONE)
        self.phone_last4_hash = crypto.keyed_hash(phone[-4:], PHONE_LAST4)

    def age(self, on=None) -> int | None:
        if self.birth_date is None:
            return None
        on = on or timezone.localdate()
        before_birthday = (on.month, on.day) < (self.birth_date.month, self.birth_date.day)
        return on.year - self.birth_date.year - before_birthday

    def audit_snapshot(self) -> dict[str, str]:
        """Field → display value for the change log; personal data only masked."""
        return {
            "name": self.name,
            "id_type": self.get_id_type_display(),
            "id_number": self.id_number_masked,
            "sex": self.get_sex_display(),
            "birth_date": self.birth_date.isoformat() if self.birth_date else "",
            "phone": self.phone_masked,
            "nationality": self.nationality,
            "address": self.address,
            "grid": self.grid.name if self.grid_id else "",
            "household": self.household.code if self.household_id else "",
            "category": self.get_category_display(),
            "workplace": self.workplace,
            "key_groups": "、".join(sorted(g.name for g in self.key_groups.all()))
            if self.pk
            else "",
        }
