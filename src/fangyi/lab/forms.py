"""Forms of the collection and result pages: the sample list filters, a scanned person,
a single tube, a pooled tube, an environmental swab and a typed result."""

from datetime import datetime, time, timedelta

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import F, Prefetch, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fangyi.core.forms import CLOCK_SKEW, DATE_WIDGET, DATETIME_WIDGET, EVERYTHING
from fangyi.core.masking import mask_name
from fangyi.geo.models import Organisation, Place
from fangyi.lab.imports import GENES
from fangyi.lab.models import (
    POOL_CHOICES,
    CollectionSite,
    Examinee,
    Method,
    Purpose,
    Result,
    Sample,
    SampleType,
)
from fangyi.lab.services import CT_RANGE, normalise_barcode
from fangyi.people.models import Person
from fangyi.people.validation import normalise_document_number

# Clocks of phones and scanners drift; a time a few minutes "in the future" is fine.
# A name or last-4 search that finds more than this asks for the full ID number instead.
CANDIDATE_LIMIT = 8
PENDING = "pending"
PERSON_PURPOSES = [
    (value, label) for value, label in Purpose.choices if value != Purpose.ENVIRONMENTAL
]
PERSON_SAMPLE_TYPES = [
    (value, label) for value, label in SampleType.choices if value != SampleType.ENVIRONMENTAL
]
POOLED = [choice for choice in POOL_CHOICES if choice[0] > 1]


def scan_input(placeholder, **attrs) -> forms.TextInput:
    """A field a scanner types into: no autocomplete, no spell check, no capitalising."""
    return forms.TextInput(
        attrs={
            "autocomplete": "off",
            "autocapitalize": "characters",
            "spellcheck": "false",
            "placeholder": placeholder,
            **attrs,
        }
    )


def barcode_field(label) -> forms.CharField:
    # The format itself is the service's rule (services.check_barcode).
    return forms.CharField(
        label=label,
        max_length=40,
        error_messages={"required": _("请扫描或输入条码。")},
        widget=scan_input(_("扫描条码"), autofocus=True),
    )


def lab_field() -> forms.ModelChoiceField:
    # Labs serve a whole county or city: a collector anywhere may send tubes to any of
    # them, so the choice is not narrowed to the collector's jurisdiction.
    return forms.ModelChoiceField(
        label=_("送检实验室"),
        queryset=Organisation.objects.filter(type=Organisation.Type.LAB),
        required=False,
        empty_label=_("（由实验室接收时确定）"),
    )


class SiteChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, site: CollectionSite) -> str:
        return f"{site.campaign.name} · {site.name}"


def site_field(user) -> SiteChoiceField:
    return SiteChoiceField(
        label=_("采样点"),
        queryset=CollectionSite.objects.visible_to(user).select_related("campaign"),
        required=False,
        empty_label=_("（不属于筛查采样点）"),
    )


def is_document_number(text: str) -> bool:
    """A scanned or typed ID number (not a name, last 4 digits or a phone number)."""
    compact = normalise_document_number(text)
    if not (compact.isascii() and compact.isalnum()) or len(compact) < 6:
        return False
    if compact.isdigit() and len(compact) in (11, 12):
        return False  # a phone number
    return any(c.isdigit() for c in compact)


class PersonScanForm(forms.Form):
    """The person of a swab: an ID number scanned or typed, or a name or last 4 digits
    searched in the user's jurisdiction; several matches are offered as choices."""

    person = forms.CharField(
        label=_("受检者"),
        max_length=64,
        required=False,
        widget=scan_input(_("扫描或输入证件号；也可输入姓名、证件后4位")),
    )
    person_pk = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.candidates: list[Person] = []
        chosen = str(self["person_pk"].value() or "")
        self.chosen = self._visible().filter(pk=chosen).first() if chosen.isdigit() else None
        if self.chosen is not None:
            self.chosen.masked_name = mask_name(self.chosen.name)

    def _visible(self):
        return Person.objects.visible_to(self.user).select_related("grid")

    def clean(self):
        cleaned = super().clean()
        text = (cleaned.get("person") or "").strip()
        if cleaned.get("person_pk"):
            matches = [self.chosen] if self.chosen else []
        elif not text:
            self.add_error(
                "person", ValidationError(_("请扫描或输入受检者证件号。"), code="required")
            )
            return cleaned
        elif is_document_number(text):
            # An exact ID number is looked up in the whole registry: a collection site or a
            # fever clinic tests whoever comes, from any grid. Only the masked name is shown.
            matches = list(
                Person.objects.search(normalise_document_number(text)).select_related("grid")[:2]
            )
        else:
            matches = list(self._visible().search(text)[: CANDIDATE_LIMIT + 1])
        if len(matches) == 1:
            cleaned["examinee"] = matches[0]
        elif not matches:
            self.add_error(
                "person",
                ValidationError(
                    _("未找到此人。请核对证件号，或先在“人员”中登记。"), code="unknown_person"
                ),
            )
        else:
            self.candidates = matches[:CANDIDATE_LIMIT]
            for person in self.candidates:
                person.masked_name = mask_name(person.name)
            self.add_error(
                "person",
                ValidationError(
                    _("找到多人，请扫描完整证件号或在下面选择。"), code="several_persons"
                ),
            )
        return cleaned


class CollectForm(PersonScanForm):
    """One person's tube at the barcode-first collection page."""

    barcode = barcode_field(_("样本条码"))
    purpose = forms.ChoiceField(
        label=_("检测目的"),
        choices=PERSON_PURPOSES,
        error_messages={"required": _("请选择检测目的。")},
    )
    sample_type = forms.ChoiceField(label=_("样本类型"), choices=PERSON_SAMPLE_TYPES)

    field_order = ["barcode", "person", "person_pk", "purpose", "sample_type", "site", "lab"]
    # What stays chosen from one tube to the next.
    STICKY = ("purpose", "sample_type", "site", "lab")

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, user=user, **kwargs)
        self.fields["site"] = site_field(user)
        self.fields["lab"] = lab_field()
        self.order_fields(self.field_order)

    def sticky(self) -> dict:
        return sticky_values(self.cleaned_data, self.STICKY)

    def settings(self) -> list:
        """The fields kept from one tube to the next, shown below the scan fields."""
        return [self[name] for name in self.STICKY]


def sticky_values(cleaned: dict, names) -> dict:
    """Choices kept in the session for the next tube (model choices by their key)."""
    values = {}
    for name in names:
        value = cleaned.get(name)
        values[name] = getattr(value, "pk", value) or ""
    return values


class MemberForm(PersonScanForm):
    """One more person scanned into a pooled tube."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["person"].widget.attrs["autofocus"] = True


def focus_first_error(form: forms.Form) -> None:
    """After a refusal the cursor goes to the field at fault, so the next scan fixes it."""
    wrong = next((name for name in form.fields if name in form.errors), None)
    if wrong is None:
        return
    for field in form.fields.values():
        field.widget.attrs.pop("autofocus", None)
    form.fields[wrong].widget.attrs["autofocus"] = True


class TubeForm(forms.Form):
    """A new pooled tube (混采): its barcode scanned, its members scanned in afterwards."""

    barcode = barcode_field(_("采样管条码"))
    pool_size = forms.TypedChoiceField(label=_("混采比例"), choices=POOLED, coerce=int)
    purpose = forms.ChoiceField(label=_("检测目的"), choices=PERSON_PURPOSES)
    sample_type = forms.ChoiceField(label=_("样本类型"), choices=PERSON_SAMPLE_TYPES)

    STICKY = ("pool_size", "purpose", "sample_type", "site", "lab")

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["site"] = site_field(user)
        self.fields["lab"] = lab_field()

    def sticky(self) -> dict:
        return sticky_values(self.cleaned_data, self.STICKY)

    def settings(self) -> list:
        """The fields kept from one tube to the next, shown below the scan fields."""
        return [self[name] for name in self.STICKY]


class PlaceChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, place: Place) -> str:
        return f"{place.name}（{place.region.name}）"


class EnvironmentForm(forms.Form):
    """An environmental swab: a place and what was swabbed there, instead of a person."""

    barcode = barcode_field(_("样本条码"))
    place = PlaceChoiceField(
        label=_("采样场所"),
        queryset=Place.objects.none(),
        error_messages={"required": _("请选择采样场所。"), "invalid_choice": _("场所不存在。")},
    )
    object_description = forms.CharField(
        label=_("采样对象"),
        max_length=128,
        error_messages={"required": _("请填写采样对象，如摊位号、货品或物体表面。")},
        widget=forms.TextInput(attrs={"placeholder": _("如：3号摊位冷冻虾外包装")}),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["place"].queryset = (
            Place.objects.visible_to(user).select_related("region").order_by("region__path", "name")
        )
        self.fields["lab"] = lab_field()


class ResultForm(forms.Form):
    """One result typed on a tube's page: the value, when, Ct per target gene, method and
    reviewer. Whether it fits the tube is the service's rule (services.record_result)."""

    result = forms.ChoiceField(
        label=_("检测结果"),
        choices=[("", "—"), *Result.choices],
        error_messages={"required": _("请选择检测结果。")},
    )
    result_at = forms.DateTimeField(
        label=_("结果时间"),
        required=False,
        widget=DATETIME_WIDGET,
        error_messages={"invalid": _("请输入有效的时间。")},
    )
    method = forms.ChoiceField(
        label=_("检测方法"), choices=[("", "—"), *Method.choices], required=False
    )
    reviewer = forms.CharField(label=_("审核人"), max_length=64, required=False)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("initial", {"result_at": timezone.localtime().replace(second=0)})
        super().__init__(*args, **kwargs)
        low, high = CT_RANGE
        for gene in GENES:
            self.fields[f"ct_{gene}"] = forms.FloatField(
                label=_("Ct 值（%(gene)s）") % {"gene": gene},
                required=False,
                min_value=low,
                max_value=high,
                error_messages={
                    "invalid": _("Ct 值应为数字，如 28.5。"),
                    "min_value": _("Ct 值须在 0–50 之间。"),
                    "max_value": _("Ct 值须在 0–50 之间。"),
                },
                widget=forms.NumberInput(attrs={"step": "0.01", "inputmode": "decimal"}),
            )
        self.order_fields(["result", "result_at", *(f"ct_{g}" for g in GENES)])

    def clean_result_at(self):
        result_at = self.cleaned_data.get("result_at") or timezone.now()
        if result_at > timezone.now() + CLOCK_SKEW:
            raise ValidationError(_("结果时间不能晚于当前时间。"), code="future")
        return result_at

    def values(self) -> dict:
        data = self.cleaned_data
        return {
            "result": data["result"],
            "result_at": data["result_at"],
            "ct_values": {
                gene: data[f"ct_{gene}"] for gene in GENES if data.get(f"ct_{gene}") is not None
            },
            "method": data["method"],
            "reviewer": data["reviewer"].strip(),
        }


class SampleFilterForm(forms.Form):
    """Filters of the sample list; the page and its export share them."""

    barcode = forms.CharField(label=_("条码"), required=False, max_length=40)
    purpose = forms.ChoiceField(
        label=_("检测目的"), choices=[*EVERYTHING, *Purpose.choices], required=False
    )
    state = forms.ChoiceField(
        label=_("结果"),
        choices=[*EVERYTHING, (PENDING, _("待出结果")), *Result.choices],
        required=False,
    )
    late = forms.BooleanField(label=_("仅看超时"), required=False)
    collected_from = forms.DateField(
        label=_("采样日期自"),
        required=False,
        widget=DATE_WIDGET,
        error_messages={"invalid": _("请输入有效的日期。")},
    )
    collected_to = forms.DateField(
        label=_("至"),
        required=False,
        widget=DATE_WIDGET,
        error_messages={"invalid": _("请输入有效的日期。")},
    )

    def __init__(self, data=None, *, user, **kwargs):
        super().__init__(data, **kwargs)
        self.user = user

    def samples(self, now: datetime | None = None):
        """Tubes the user may see, narrowed by the valid filters, with what a row shows."""
        samples = (
            Sample.objects.visible_to(self.user)
            .select_related("site", "collecting_organisation", "lab", "place")
            .prefetch_related(
                Prefetch(
                    "examinees",
                    queryset=Examinee.objects.select_related("person").order_by("position"),
                )
            )
        )
        data = self.cleaned_data if self.is_valid() else {}
        if barcode := normalise_barcode(data.get("barcode", "")):
            samples = samples.filter(barcode__startswith=barcode)
        if purpose := data.get("purpose"):
            samples = samples.filter(purpose=purpose)
        if (state := data.get("state")) == PENDING:
            samples = samples.pending()
        elif state:
            samples = samples.filter(result=state)
        if data.get("late"):
            # As `Sample.is_late`: still waiting past the limit, or resulted after it.
            now = now or timezone.now()
            samples = samples.filter(
                Q(result__isnull=True, due_at__lt=now) | Q(result_at__gt=F("due_at"))
            )
        if first := data.get("collected_from"):
            samples = samples.filter(collected_at__gte=_start_of(first))
        if last := data.get("collected_to"):
            samples = samples.filter(collected_at__lt=_start_of(last + timedelta(days=1)))
        return samples

    def applied(self) -> dict[str, str]:
        if not self.is_valid():
            return {}
        return {k: str(v) for k, v in self.cleaned_data.items() if v}


def _start_of(day) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))
