from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fangyi.cases.models import CaseReport
from fangyi.diseases.models import Disease
from fangyi.people.models import Person


class CaseForm(forms.ModelForm):
    """The one validation of a report card, for the pages and the API."""

    class Meta:
        model = CaseReport
        fields = [
            "person",
            "disease",
            "classification",
            "onset_date",
            "diagnosed_at",
            "death_date",
            "occupation",
            "address_at_onset",
            "reporting_doctor",
            "remark",
        ]
        widgets = {
            "person": forms.HiddenInput,
            "onset_date": forms.DateInput(attrs={"type": "date"}),
            "diagnosed_at": forms.DateTimeInput(attrs={"type": "datetime-local"}),
            "death_date": forms.DateInput(attrs={"type": "date"}),
            "remark": forms.Textarea(attrs={"rows": 2}),
        }
        error_messages = {
            "person": {
                "required": _("请先查找并选择患者。"),
                "invalid_choice": _("所选患者不存在或不在您的管辖范围内。"),
            },
            "disease": {"required": _("请选择病种。")},
            "classification": {"required": _("请选择病例分类。")},
            "diagnosed_at": {"required": _("请填写诊断时间。")},
        }

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["person"].queryset = Person.objects.visible_to(user)
        self.fields["disease"].queryset = Disease.objects.filter(is_active=True)
        self.fields["disease"].to_field_name = "code"  # stable across databases, used by the API

    def _post_clean(self):
        # Only validation here: the cases service applies and audits the data.
        pass

    def clean(self):
        data = super().clean()
        disease, classification = data.get("disease"), data.get("classification")
        onset, diagnosed, death = (
            data.get("onset_date"),
            data.get("diagnosed_at"),
            data.get("death_date"),
        )
        if disease and classification and not disease.allows(classification):
            self.add_error(
                "classification",
                ValidationError(
                    _("%(disease)s不使用“%(classification)s”这一病例分类。"),
                    code="classification",
                    params={
                        "disease": disease.name,
                        "classification": CaseReport(
                            classification=classification
                        ).get_classification_display(),
                    },
                ),
            )
        if diagnosed and diagnosed > timezone.now():
            self.add_error(
                "diagnosed_at", ValidationError(_("诊断时间不能晚于现在。"), code="future")
            )
        if onset and diagnosed and onset > timezone.localtime(diagnosed).date():
            self.add_error(
                "onset_date",
                ValidationError(_("发病日期不能晚于诊断时间。"), code="onset_after_diagnosis"),
            )
        if death and onset and death < onset:
            self.add_error(
                "death_date",
                ValidationError(_("死亡日期不能早于发病日期。"), code="death_before_onset"),
            )
        if death and death > timezone.localdate():
            self.add_error(
                "death_date", ValidationError(_("死亡日期不能晚于今天。"), code="future")
            )
        return data
