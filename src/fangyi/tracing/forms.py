from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fangyi.cases.models import CaseReport
from fangyi.core.forms import DATETIME_WIDGET, EVERYTHING
from fangyi.geo.models import Place, Region
from fangyi.people.models import Person
from fangyi.tracing.models import Contact, Investigation
from fangyi.tracing.services import REPORTED


def reported_cases(user):
    return CaseReport.objects.visible_to(user).filter(status__in=REPORTED)


class InvestigationForm(forms.ModelForm):
    """The investigation of a case, for the page and the API."""

    class Meta:
        model = Investigation
        fields = [
            "exposure_history",
            "travel_history",
            "suspected_source_type",
            "source_case",
            "source_place",
            "notes",
        ]
        labels = {"source_case": _("来源病例（报告卡编号）")}
        widgets = {
            "exposure_history": forms.Textarea(attrs={"rows": 3}),
            "travel_history": forms.Textarea(attrs={"rows": 3}),
            # A number, not a list of every visible card.
            "source_case": forms.NumberInput,
            "notes": forms.Textarea(attrs={"rows": 3}),
        }
        error_messages = {
            "source_case": {
                "invalid_choice": _("该报告卡不存在、不在您的管辖范围内，或就是本病例。")
            },
            "source_place": {"invalid_choice": _("所选场所不存在或不在您的管辖范围内。")},
        }

    def __init__(self, *args, user, case: CaseReport, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["source_case"].queryset = reported_cases(user).exclude(pk=case.pk)
        self.fields["source_place"].queryset = Place.objects.visible_to(user)

    def _post_clean(self):
        # Only validation here: the tracing service applies the data and audits it.
        pass

    def clean(self):
        data = super().clean()
        source_type = data.get("suspected_source_type")
        missing_case = not data.get("source_case") and "source_case" not in self.errors
        if source_type == Investigation.SourceType.CASE and missing_case:
            self.add_error("source_case", _("请填写来源病例的报告卡编号。"))
        if source_type == Investigation.SourceType.PLACE and not data.get("source_place"):
            self.add_error("source_place", _("请选择来源场所。"))
        return data


class TrajectoryForm(forms.Form):
    place = forms.ModelChoiceField(
        label=_("场所"),
        queryset=Place.objects.none(),
        required=False,
        empty_label=_("（未登记的场所，请在下方填写）"),
        error_messages={"invalid_choice": _("所选场所不存在或不在您的管辖范围内。")},
    )
    place_text = forms.CharField(label=_("地点"), max_length=255, required=False)
    start = forms.DateTimeField(
        label=_("开始"), widget=DATETIME_WIDGET, error_messages={"required": _("请填写开始时间。")}
    )
    end = forms.DateTimeField(
        label=_("结束"), widget=DATETIME_WIDGET, error_messages={"required": _("请填写结束时间。")}
    )
    notes = forms.CharField(label=_("备注"), max_length=255, required=False)

    def __init__(self, *args, user, **kwargs):
        # Shown on the investigation page next to its form: distinct element ids.
        kwargs.setdefault("auto_id", "id_trajectory_%s")
        super().__init__(*args, **kwargs)
        self.fields["place"].queryset = Place.objects.visible_to(user)

    def clean(self):
        data = super().clean()
        if not data.get("place") and not data.get("place_text", "").strip():
            self.add_error("place_text", _("请选择场所或填写地点。"))
        start, end = data.get("start"), data.get("end")
        if start and end and start >= end:
            self.add_error("end", _("结束时间必须晚于开始时间。"))
        return data


class ContactForm(forms.Form):
    """A contact's details. On the pages the case or close contact comes from the URL
    (`case=` / `source_contact=`); the API chooses it by id. Without `with_person` the
    person is registered at the same time through PersonForm."""

    person = forms.ModelChoiceField(
        label=_("接触者"),
        queryset=Person.objects.none(),
        widget=forms.HiddenInput,
        error_messages={
            "required": _("请先查找并选择接触者。"),
            "invalid_choice": _("所选人员不存在或不在您的管辖范围内。"),
        },
    )
    case = forms.ModelChoiceField(
        label=_("指示病例"),
        queryset=CaseReport.objects.none(),
        required=False,
        error_messages={"invalid_choice": _("该报告卡不存在或不在您的管辖范围内。")},
    )
    source_contact = forms.ModelChoiceField(
        label=_("所接触的密接"),
        queryset=Contact.objects.none(),
        required=False,
        error_messages={"invalid_choice": _("所接触的密接不存在或不在您的管辖范围内。")},
    )
    relation = forms.CharField(label=_("关系"), max_length=64, required=False)
    setting = forms.ChoiceField(
        label=_("接触场景"),
        choices=Contact.Setting.choices,
        error_messages={
            "required": _("请选择接触场景。"),
            "invalid_choice": _("接触场景无效。"),
        },
    )
    last_exposure_at = forms.DateTimeField(
        label=_("末次接触时间"),
        widget=DATETIME_WIDGET,
        error_messages={
            "required": _("请填写末次接触时间。"),
            "invalid": _("末次接触时间格式不正确。"),
        },
    )
    found_by = forms.ChoiceField(
        label=_("发现方式"),
        choices=Contact.FoundBy.choices,
        initial=Contact.FoundBy.INVESTIGATION,
        error_messages={"invalid_choice": _("发现方式无效。")},
    )
    assistance_address = forms.CharField(
        label=_("外地（需协查）地址"),
        max_length=255,
        required=False,
        help_text=_("已离开本地、需请外地协查时填写，将列入协查名单。"),
    )

    def __init__(
        self,
        *args,
        user,
        case: CaseReport | None = None,
        source_contact: Contact | None = None,
        with_person: bool = True,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.fixed_source = {"case": case, "source_contact": source_contact}
        if case is not None or source_contact is not None:
            del self.fields["case"], self.fields["source_contact"]
        else:
            self.fields["case"].queryset = reported_cases(user)
            self.fields["source_contact"].queryset = Contact.objects.visible_to(user).filter(
                case__isnull=False
            )
        if with_person:
            self.fields["person"].queryset = Person.objects.visible_to(user).select_related("grid")
        else:
            del self.fields["person"]

    def clean_last_exposure_at(self):
        moment = self.cleaned_data["last_exposure_at"]
        if moment > timezone.now():
            raise ValidationError(_("末次接触时间不能晚于现在。"), code="future")
        return moment

    def clean(self):
        data = super().clean()
        choosing = "case" in self.fields and not self.errors.keys() & {"case", "source_contact"}
        if choosing and bool(data.get("case")) == bool(data.get("source_contact")):
            self.add_error("case", _("请指定指示病例或所接触的密接（二选一）。"))
        return data

    def details(self) -> dict:
        """Keyword arguments of services.register_contact (without the person)."""
        data = self.cleaned_data
        address = data["assistance_address"].strip()
        source = (
            self.fixed_source
            if "case" not in self.fields
            else {"case": data.get("case"), "source_contact": data.get("source_contact")}
        )
        return {
            **source,
            "relation": data["relation"],
            "setting": data["setting"],
            "last_exposure_at": data["last_exposure_at"],
            "found_by": data["found_by"],
            "source_note": address,
            "needs_assistance": bool(address),
        }


class ContactFilterForm(forms.Form):
    """Filters of the contact list; the page, its export and the API share them."""

    q = forms.CharField(label=_("搜索"), required=False, max_length=64)
    case = forms.IntegerField(label=_("报告卡编号"), required=False, min_value=1)
    degree = forms.ChoiceField(
        label=_("类别"),
        choices=[*EVERYTHING, ("1", _("密接")), ("2", _("次密接"))],
        required=False,
    )
    controlled = forms.ChoiceField(
        label=_("管控"),
        choices=[*EVERYTHING, ("yes", _("已落实管控")), ("no", _("未落实管控"))],
        required=False,
    )
    overdue = forms.BooleanField(label=_("管控超时"), required=False)
    region = forms.ModelChoiceField(
        label=_("区划"), queryset=Region.objects.none(), required=False, empty_label=_("全部")
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["region"].queryset = Region.objects.visible_to(user).exclude(
            level=Region.Level.BUILDING
        )
        self.fields["region"].label_from_instance = lambda region: region.full_name

    def contacts(self):
        """Contacts the user may see (living in their jurisdiction), narrowed by the valid
        filters, with what a list row shows."""
        contacts = (
            Contact.objects.visible_to(self.user)
            .with_control_due()
            .with_index_case()
            .select_related("person", "region")
        )
        data = self.cleaned_data if self.is_valid() else {}
        if case := data.get("case"):
            contacts = contacts.of_case(case)
        if degree := data.get("degree"):
            contacts = contacts.filter(case__isnull=degree == "2")
        if controlled := data.get("controlled"):
            contacts = contacts.filter(controlled_at__isnull=controlled == "no")
        if data.get("overdue"):
            contacts = contacts.control_overdue()
        if region := data.get("region"):
            contacts = contacts.filter(region__path__startswith=region.path)
        if query := data.get("q"):
            # Contacts are already scoped; the search only names the persons.
            contacts = contacts.filter(person__in=Person.objects.search(query).values("pk"))
        return contacts

    def applied(self) -> dict[str, str]:
        if not self.is_valid():
            return {}
        return {k: str(v) for k, v in self.cleaned_data.items() if v}


class ContactImportForm(forms.Form):
    file = forms.FileField(
        label=_("名单文件（.xlsx 或 .csv）"),
        error_messages={"required": _("请选择要导入的文件。")},
    )
    found_by = forms.ChoiceField(
        label=_("名单来源"),
        choices=[
            (Contact.FoundBy.INVESTIGATION, Contact.FoundBy.INVESTIGATION.label),
            (Contact.FoundBy.BIG_DATA, Contact.FoundBy.BIG_DATA.label),
            (Contact.FoundBy.ASSISTANCE, _("外地协查")),
            (Contact.FoundBy.OTHER, Contact.FoundBy.OTHER.label),
        ],
        initial=Contact.FoundBy.INVESTIGATION,
    )
    sending_jurisdiction = forms.CharField(
        label=_("发来协查的地区或单位"),
        max_length=100,
        required=False,
        help_text=_("名单来源为外地协查时必填，例如“某某市疾控中心”。"),
    )

    def clean(self):
        data = super().clean()
        if (
            data.get("found_by") == Contact.FoundBy.ASSISTANCE
            and not data.get("sending_jurisdiction", "").strip()
        ):
            self.add_error("sending_jurisdiction", _("请填写发来协查的地区或单位。"))
        return data

    def source_note(self) -> str:
        if self.cleaned_data["found_by"] != Contact.FoundBy.ASSISTANCE:
            return ""
        return str(
            _("来自%(sender)s协查") % {"sender": self.cleaned_data["sending_jurisdiction"].strip()}
        )
