"""Risk areas over the API: the areas in force on a day, publishing a list (all or nothing,
422 with each line's problem), "was this address in a risk area on that day", and the
grids' flags (scoped, masked) with their handling. Errors carry `detail`
[{loc, type, msg, msg_en}] like the other modules."""

from datetime import date, datetime

from django.http import Http404
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _
from ninja import Field, Router, Schema, Status
from ninja.pagination import PageNumberPagination, paginate

from fangyi.accounts.roles import Capability
from fangyi.core.access import get_visible_or_404, require_capability
from fangyi.core.api_errors import bilingual
from fangyi.core.masking import mask_name
from fangyi.core.rules import RuleError
from fangyi.travel import area_lists, matching
from fangyi.travel.addresses import name_of
from fangyi.travel.matching import AreaEntry
from fangyi.travel.models import RiskArea, RiskFlag

router = Router(tags=["travel"])

MAX_LINES = area_lists.MAX_LINES


# Schemas ----------------------------------------------------------------------------------


class AreaOut(Schema):
    id: int
    name: str = Field(description="as published")
    level: str = Field(description="high, medium or low")
    scale: str = Field(description="province, city, district or locality")
    adcode: str
    region_name: str = Field(description="the county-level division the code names")
    locality: str = Field(description="street, town or compound below the district")
    effective_from: date
    effective_to: date | None = Field(description="last day; null while in force")
    area_list: int


class LineIn(Schema):
    text: str = Field(description="the area, e.g. 湖北省武汉市江汉区花楼街道")
    level: str = Field(
        "", description="high/medium/low or 高风险/中风险/低风险/封控区/管控区/防范区"
    )
    action: str = Field("add", description="add or lift (新增/解除)")


class AreaListIn(Schema):
    title: str = Field(max_length=200)
    effective_from: date
    source: str = ""
    lines: list[LineIn] = Field(min_length=1, max_length=MAX_LINES)


class AreaListOut(Schema):
    id: int
    title: str
    effective_from: date
    published_at: datetime
    areas_added: int
    areas_lifted: int
    persons_flagged: int
    flag_seconds: float | None


class CheckOut(Schema):
    address: str
    on: date
    adcode: str
    region_name: str
    detail: str
    level: str = Field(description="the highest level in force that day; empty when none")
    areas: list[AreaOut]


class FlagOut(Schema):
    id: int
    person: int
    name: str = Field(description="masked")
    id_number: str = Field(description="masked")
    phone: str = Field(description="masked")
    grid: int
    grid_name: str
    area: int
    area_name: str
    level: str
    stay_address: str
    stay_from: date
    stay_to: date
    flagged_at: datetime
    status: str = Field(description="open, verified or dismissed")
    note: str


class FlagIn(Schema):
    status: str = Field(description="verified or dismissed")
    note: str = Field("", description="required to dismiss")


class ErrorsOut(Schema):
    detail: list[dict]


def error(location: list, message, code: str = "invalid", **extra) -> dict:
    return {"loc": ["body", *location], "type": code, **bilingual(message), **extra}


def area_out(area: RiskArea) -> dict:
    return {
        "id": area.pk,
        "name": area.name,
        "level": area.level,
        "scale": area.scale,
        "adcode": area.adcode,
        "region_name": name_of(area.adcode),
        "locality": area.locality,
        "effective_from": area.effective_from,
        "effective_to": area.effective_to,
        "area_list": area.area_list_id,
    }


# Areas ------------------------------------------------------------------------------------


@router.get("/risk-areas", response=list[AreaOut])
def list_areas(request, on: date | None = None, level: str = ""):
    """The areas in force on `on` (default today; any past day answers from history)."""
    require_capability(request.user, Capability.VIEW_ARRIVALS)
    areas = RiskArea.objects.on(on or timezone.localdate())
    if level:
        areas = areas.filter(level=level)
    return [area_out(area) for area in areas.order_by("name")]


@router.post("/risk-areas/lists", response={201: AreaListOut, 422: ErrorsOut})
def publish_list(request, payload: AreaListIn):
    """Publish a list: every line resolved or none published (422 with each line's problem
    at ["body", "lines", index]). Persons whose stays match are flagged at once."""
    require_capability(request.user, Capability.PUBLISH_RISK_AREAS)
    entries, errors = [], []
    for index, line in enumerate(payload.lines):
        level = area_lists.level_of(line.level) if line.level else ""
        action = area_lists.ACTIONS.get(line.action.strip().lower())
        if level is None:
            errors.append(error(["lines", index, "level"], _("无法识别的风险等级。")))
        elif action is None:
            errors.append(error(["lines", index, "action"], _("操作应为 add 或 lift。")))
        else:
            entries.append(AreaEntry(line=index + 1, text=line.text, level=level, action=action))
    if errors:
        return Status(422, {"detail": errors})
    problems = bilingual_problems(entries)
    if problems:
        return Status(422, {"detail": problems})
    try:
        area_list = matching.publish(
            request.user,
            title=payload.title,
            effective_from=payload.effective_from,
            entries=entries,
            source=payload.source,
        )
    except RuleError as refused:  # a line resolved differently between check and publish
        return Status(422, {"detail": [error([], refused.message, refused.code)]})
    return Status(201, area_list)


def bilingual_problems(entries: list[AreaEntry]) -> list[dict]:
    """The problems of the lines, in Chinese and English (the check run in each)."""
    rendered = {}
    for language in ("zh-hans", "en"):
        with translation.override(language):
            rendered[language] = area_lists.check(entries).problems
    return [
        {
            "loc": ["body", "lines", zh.line - 1, "text"],
            "type": "unresolved",
            "msg": zh.reason,
            "msg_en": en.reason,
            "text": zh.text,
        }
        for zh, en in zip(rendered["zh-hans"], rendered["en"], strict=True)
    ]


@router.get("/risk-areas/check", response={200: CheckOut, 422: ErrorsOut})
def check_address(request, address: str, on: date | None = None):
    """Was this address in a risk area on `on` (default today), at which level. An address
    that cannot be resolved, or names a district several cities share: 422."""
    require_capability(request.user, Capability.VIEW_ARRIVALS)
    day = on or timezone.localdate()
    resolution, areas = matching.areas_on(address, day)
    if not resolution.resolved:
        code = "ambiguous" if resolution.ambiguous else "unresolved"
        return Status(422, {"detail": [error(["address"], resolution.problem, code)]})
    return {
        "address": resolution.address,
        "on": day,
        "adcode": resolution.adcode,
        "region_name": resolution.region_name,
        "detail": resolution.detail,
        "level": areas[0].level if areas else "",
        "areas": [area_out(area) for area in areas],
    }


# Flags ------------------------------------------------------------------------------------


def flag_out(flag: RiskFlag) -> dict:
    person = flag.person
    return {
        "id": flag.pk,
        "person": person.pk,
        "name": mask_name(person.name),
        "id_number": person.id_number_masked,
        "phone": person.phone_masked,
        "grid": flag.grid_id,
        "grid_name": flag.grid.full_name,
        "area": flag.area_id,
        "area_name": flag.area.name,
        "level": flag.level,
        "stay_address": flag.stay.address,
        "stay_from": flag.stay.from_date,
        "stay_to": flag.stay.to_date,
        "flagged_at": flag.flagged_at,
        "status": flag.status,
        "note": flag.note,
    }


class FlagPagination(PageNumberPagination):
    """Slices first, then shapes (and masks) only the rows of the page."""

    def paginate_queryset(self, queryset, pagination, request, **params):
        page = super().paginate_queryset(queryset, pagination, request, **params)
        page[self.items_attribute] = [flag_out(flag) for flag in page[self.items_attribute]]
        return page


@router.get("/risk-flags", response=list[FlagOut])
@paginate(FlagPagination, page_size=50)
def list_flags(request, status: str = RiskFlag.Status.OPEN, level: str = ""):
    """Persons of the caller's jurisdiction whose stays matched a risk area; `status`
    open (default), verified, dismissed or `all`."""
    require_capability(request.user, Capability.VIEW_ARRIVALS)
    flags = RiskFlag.objects.visible_to(request.user)
    if status != "all":
        flags = flags.filter(status=status)
    if level:
        flags = flags.filter(level=level)
    return flags.select_related("person", "area", "stay", "grid").order_by("-flagged_at", "-id")


@router.post("/risk-flags/{flag_id}", response={200: FlagOut, 400: ErrorsOut})
def handle_flag(request, flag_id: int, payload: FlagIn):
    """Mark a flag verified (followed up) or dismissed (with the reason in `note`)."""
    user = request.user
    if not (user.can(Capability.REGISTER_ARRIVALS) or user.can(Capability.CANVASS)):
        raise Http404
    flag = get_visible_or_404(RiskFlag, user, pk=flag_id)
    handled = [RiskFlag.Status.VERIFIED, RiskFlag.Status.DISMISSED]
    if payload.status not in handled:
        message = _("核查结果应为 verified（已核查落实）或 dismissed（核查排除）。")
        return Status(400, {"detail": [error(["status"], message)]})
    try:
        matching.handle_flag(user, flag, status=payload.status, note=payload.note)
    except RuleError as refused:
        location = [refused.field] if refused.field else []
        return Status(400, {"detail": [error(location, refused.message, refused.code)]})
    return flag_out(flag)
