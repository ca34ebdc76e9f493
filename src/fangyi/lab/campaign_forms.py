"""Forms of the mass-screening pages: a campaign, a round, a collection site, an exemption,
and the workplace filter of a regimen's overdue list. The rules stay in services; a site
holds no personal data and is saved here, with its change in the audit trail."""

from __future__ import annotations

from django import forms
from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from fangyi.accounts.models import User
from fangyi.accounts.roles import ROLE_CAPABILITIES, Capability
from fangyi.core.audit import diff, record_change
from fangyi.core.forms import DATE_WIDGET, EVERYTHING
from fangyi.core.models import ChangeLog
from fangyi.geo.models import Organisation, Region, inside_or_above
from fangyi.lab.models import Campaign, CollectionSite, ScreeningTarget

TIME_WIDGET = forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
# Areas a campaign may cover: a county, a street (township) or a community (village).
CAMPAIGN_LEVELS = (Region.Level.COUNTY, Region.Level.TOWNSHIP, Region.Level.VILLAGE)
# Organisations that send staff to swab at a site.
COLLECTING_TYPES = (
    Organisation.Type.CDC,
    Organisation.Type.DESIGNATED_HOSPITAL,
    Organisation.Type.RESERVE_HOSPITAL,
    Organisation.Type.HOSPITAL,
    Organisation.Type.TOWNSHIP_HEALTH_CENTRE,
    Organisation.Type.VILLAGE_CLINIC,
    Organisation.Type.LAB,
)
COLLECTOR_ROLES = [
    role
    for role, capabilities in ROLE_CAPABILITIES.items()
    if Capability.COLLECT_SAMPLES in capabilities
]


def full_name(region: Region) -> str:
    return region.full_name


class CampaignForm(forms.Form):
    name = forms.CharField(
        label=_("名称"),
        max_length=128,
        error_messages={"required": _("请填写筛查名称。")},
    )
    region = forms.ModelChoiceField(
        label=_("筛查范围"),
        queryset=Region.objects.none(),
        error_messages={
            "required": _("请选择筛查范围。"),
            "invalid_choice": _("所选区划不存在或不在您的管辖范围内。"),
        },
    )
    start_date = forms.DateField(
        label=_("开始日期"), widget=DATE_WIDGET, error_messages={"required": _("请填写开始日期。")}
    )
    end_date = forms.DateField(
        label=_("结束日期"), widget=DATE_WIDGET, error_messages={"required": _("请填写结束日期。")}
    )
    pool_size = forms.TypedChoiceField(
        label=_("混采比例"),
        choices=Campaign._meta.get_field("pool_size").choices,
        coerce=int,
        initial=10,
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["region"].queryset = Region.objects.visible_to(user).filter(
            level__in=CAMPAIGN_LEVELS
        )
        self.fields["region"].label_from_instance = full_name


class RoundForm(forms.Form):
    start_date = forms.DateField(
        label=_("开始日期"), widget=DATE_WIDGET, error_messages={"required": _("请填写开始日期。")}
    )
    end_date = forms.DateField(
        label=_("结束日期"), widget=DATE_WIDGET, error_messages={"required": _("请填写结束日期。")}
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "id_round_%s")
        super().__init__(*args, **kwargs)


class StaffChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, user: User) -> str:
        unit = user.organisation.name if user.organisation_id else ""
        return f"{user} {unit}".strip()


class SiteForm(forms.Form):
    """A collection site in a community (village) of the campaign's area, serving some of
    its grids. The grid choices follow the chosen community (`for_region`)."""

    name = forms.CharField(
        label=_("采样点名称"), max_length=128, error_messages={"required": _("请填写采样点名称。")}
    )
    region = forms.ModelChoiceField(
        label=_("所在村（社区）"),
        queryset=Region.objects.none(),
        error_messages={
            "required": _("请选择采样点所在的村（社区）。"),
            "invalid_choice": _("所选村（社区）不在本次筛查范围或您的管辖范围内。"),
        },
    )
    grids = forms.ModelMultipleChoiceField(
        label=_("服务网格"),
        queryset=Region.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"invalid_choice": _("所选网格不属于该村（社区）。")},
    )
    address = forms.CharField(label=_("地址"), max_length=255, required=False)
    opens_at = forms.TimeField(label=_("开放时间"), widget=TIME_WIDGET, initial="07:00")
    closes_at = forms.TimeField(label=_("关闭时间"), widget=TIME_WIDGET, initial="20:00")
    organisation = forms.ModelChoiceField(
        label=_("采样单位"),
        queryset=Organisation.objects.none(),
        required=False,
        error_messages={"invalid_choice": _("所选单位不存在或不在您的管辖范围内。")},
    )
    staff = StaffChoiceField(
        label=_("采样人员"),
        queryset=User.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"invalid_choice": _("所选人员不存在或不在您的管辖范围内。")},
    )

    def __init__(self, *args, user, campaign: Campaign, site: CollectionSite | None = None, **kw):
        if site is not None:
            kw.setdefault("initial", site_initial(site))
        super().__init__(*args, **kw)
        self.campaign, self.site = campaign, site
        villages = Region.objects.visible_to(user).filter(
            level=Region.Level.VILLAGE, path__startswith=campaign.region.path
        )
        self.fields["region"].queryset = villages
        self.fields["region"].label_from_instance = full_name
        # Picking the community brings its grids as the choices (htmx).
        self.fields["region"].widget.attrs.update(
            {
                "hx-get": reverse("lab_site_grids", args=[campaign.pk]),
                "hx-target": "#field-grids",
                "hx-swap": "outerHTML",
            }
        )
        self.fields["grids"].queryset = Region.objects.filter(
            level=Region.Level.GRID, parent__in=villages, parent_id=self.chosen_region_id()
        )
        self.fields["organisation"].queryset = inside_or_above(
            Organisation.objects.filter(type__in=COLLECTING_TYPES), user
        )
        self.fields["staff"].queryset = (
            inside_or_above(
                User.objects.filter(is_active=True, roles__code__in=COLLECTOR_ROLES), user
            )
            .select_related("organisation")
            .distinct()
            .order_by("organisation__name", "last_name", "first_name", "pk")
        )

    def chosen_region_id(self) -> int | None:
        value = self["region"].value()
        try:
            return int(value) if value not in (None, "") else None
        except (TypeError, ValueError):
            return None

    def clean(self):
        data = super().clean()
        opens, closes = data.get("opens_at"), data.get("closes_at")
        if opens and closes and closes <= opens:
            self.add_error("closes_at", _("关闭时间须晚于开放时间。"))
        name = (data.get("name") or "").strip()
        taken = CollectionSite.objects.filter(campaign=self.campaign, name=name)
        if self.site is not None:
            taken = taken.exclude(pk=self.site.pk)
        if name and taken.exists():
            self.add_error("name", _("本次筛查已有同名采样点。"))
        return data

    @transaction.atomic
    def save(self, actor) -> CollectionSite:
        data = self.cleaned_data
        site = self.site or CollectionSite(campaign=self.campaign)
        before = site_snapshot(site) if self.site else {}
        site.name = data["name"].strip()
        site.region = data["region"]
        site.address = data["address"].strip()
        site.opens_at, site.closes_at = data["opens_at"], data["closes_at"]
        site.organisation = data["organisation"]
        fields = ["name", "region", "address", "opens_at", "closes_at", "organisation"]
        if self.site is None:
            site.save()
        else:
            site.save(update_fields=fields)
        site.grids.set(data["grids"])
        site.staff.set(data["staff"])
        record_change(
            actor,
            site,
            ChangeLog.Action.UPDATE if self.site else ChangeLog.Action.CREATE,
            diff(before, site_snapshot(site)),
            region=site.region,
        )
        return site


def site_initial(site: CollectionSite) -> dict:
    return {
        "name": site.name,
        "region": site.region_id,
        "grids": list(site.grids.all()),
        "address": site.address,
        "opens_at": site.opens_at,
        "closes_at": site.closes_at,
        "organisation": site.organisation_id,
        "staff": list(site.staff.all()),
    }


def site_snapshot(site: CollectionSite) -> dict[str, str]:
    """Field → display value for the change log."""
    return {
        "name": site.name,
        "region": site.region.full_name,
        "grids": "、".join(sorted(g.name for g in site.grids.all())),
        "address": site.address,
        "hours": f"{site.opens_at:%H:%M}–{site.closes_at:%H:%M}",
        "organisation": site.organisation.name if site.organisation_id else "",
        "staff": "、".join(sorted(str(u) for u in site.staff.all())),
    }


class ExemptForm(forms.Form):
    reason = forms.ChoiceField(
        label=_("免检原因"),
        choices=ScreeningTarget.ExemptReason.choices,
        error_messages={"required": _("请选择免检原因。")},
    )
    note = forms.CharField(label=_("说明"), max_length=255, required=False)

    def __init__(self, *args, target: ScreeningTarget, **kwargs):
        kwargs.setdefault("auto_id", f"id_%s_{target.pk}")
        super().__init__(*args, **kwargs)


class WorkplaceFilterForm(forms.Form):
    """The overdue list of one workplace (unit); the choices carry their counts."""

    # The choice for people whose workplace is not filled in ("" already means all).
    NO_WORKPLACE = "-"

    workplace = forms.ChoiceField(label=_("工作单位"), required=False)

    def __init__(self, *args, workplaces: list[tuple[str, int]], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["workplace"].choices = EVERYTHING + [
            (name or self.NO_WORKPLACE, f"{name or _('（未填写单位）')}（{count}）")
            for name, count in workplaces
        ]

    def chosen(self) -> str | None:
        """The chosen workplace ("" for people without one), or None for all."""
        if not self.is_valid() or not self.cleaned_data["workplace"]:
            return None
        value = self.cleaned_data["workplace"]
        return "" if value == self.NO_WORKPLACE else value
