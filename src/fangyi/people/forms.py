from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from fangyi.geo.models import Region
from fangyi.people import services
from fangyi.people.models import KeyGroup, Person
from fangyi.people.validation import (
    resident_id_facts,
    validate_passport,
    validate_phone,
    validate_resident_id,
)


class PersonForm(forms.ModelForm):
    """The one validation of a person's data, used by the pages and by the API."""

    id_number = forms.CharField(label=_("证件号码"), max_length=32, required=False)
    phone = forms.CharField(label=_("联系电话"), max_length=32, required=False)
    key_groups = forms.ModelMultipleChoiceField(
        label=_("重点人群"),
        queryset=KeyGroup.objects.all(),
        to_field_name="code",
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = Person
        fields = [
            "name",
            "id_type",
            "id_number",
            "sex",
            "birth_date",
            "phone",
            "nationality",
            "grid",
            "address",
            "category",
            "workplace",
            "key_groups",
        ]
        widgets = {
            "birth_date": forms.DateInput(attrs={"type": "date"}),
        }
        error_messages = {
            "name": {"required": _("请填写姓名。")},
            "grid": {
                "required": _("请选择所属网格。"),
                "invalid_choice": _("所选网格不存在或不在您的管辖范围内。"),
            },
        }

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        # The registered person holding the same number, when the user may see them.
        self.duplicate_of: Person | None = None
        self.fields["grid"].queryset = (
            Region.objects.visible_to(user).filter(level=Region.Level.GRID).order_by("path")
        )
        self.fields["grid"].label_from_instance = lambda region: region.full_name
        self.fields["sex"].required = False
        if self.instance.pk:
            self.initial.setdefault("id_number", self.instance.id_number)
            self.initial.setdefault("phone", self.instance.phone)

    @classmethod
    def field_labels(cls) -> dict[str, str]:
        """Labels of the audited fields (Person.audit_snapshot keys) for the history."""
        labels = {name: field.label for name, field in cls.base_fields.items()}
        return labels | {"household": Person._meta.get_field("household").verbose_name}

    def _post_clean(self):
        # Only validation here: the people service applies the data (and audits it), so the
        # instance must keep its old values until then.
        pass

    def clean_name(self):
        name = " ".join(self.cleaned_data["name"].split())
        if not name:
            raise ValidationError(_("请填写姓名。"))
        return name

    def clean_phone(self):
        return validate_phone(self.cleaned_data.get("phone", ""))

    def clean(self):
        data = super().clean()
        id_type = data.get("id_type")
        raw_number = data.get("id_number", "")
        try:
            if id_type == Person.IdType.RESIDENT_ID:
                if not raw_number:
                    raise ValidationError(_("请填写身份证号码；没有身份证的请选择其他证件类型。"))
                data["id_number"] = validate_resident_id(raw_number)
                data["sex"], data["birth_date"] = resident_id_facts(data["id_number"])
            elif id_type in (Person.IdType.PASSPORT, Person.IdType.OTHER):
                data["id_number"] = validate_passport(raw_number)
            elif id_type == Person.IdType.NONE:
                data["id_number"] = ""
        except ValidationError as error:
            self.add_error("id_number", error)
            return data
        if id_type != Person.IdType.RESIDENT_ID:
            data["sex"] = data.get("sex") or Person.Sex.UNKNOWN
            if not data.get("birth_date"):
                self.add_error("birth_date", _("没有身份证号码时，请填写出生日期。"))
        if data.get("id_number"):
            self._refuse_duplicate(data["id_number"])
        return data

    def _refuse_duplicate(self, id_number: str) -> None:
        existing = services.find_duplicate(id_number, exclude=self.instance)
        if existing is None:
            return
        if Person.objects.visible_to(self.user).filter(pk=existing.pk).exists():
            self.duplicate_of = existing
            message = _("该证件号码已登记，不能重复登记。")
        else:
            # Another jurisdiction's record: say it exists, but show nothing of it.
            message = _("该证件号码已在其他辖区登记，请联系上级单位核实。")
        self.add_error("id_number", ValidationError(message, code="duplicate"))
