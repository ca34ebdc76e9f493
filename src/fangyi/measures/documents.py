"""The printable documents of a measure (A4, one page, Chinese): the notice handed to the
person at the start (告知书: measure, dates, place, rules, contact phone) and the release
certificate (解除隔离证明). Also how a measure is described on paper — its place, its tests,
the measure that follows — shared with the daily tables.

Documents carry personal data: the ID number is printed in full only for a user allowed to
see it, and every download is logged (an export, and a reveal when the ID is in full)."""

from collections import Counter
from datetime import date

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from fangyi.core.audit import log_access
from fangyi.core.models import AccessLog
from fangyi.measures.models import IN_FACILITY, Measure, MeasureTest, MeasureType

NOTICE = gettext_lazy("告知书")
RELEASE_CERTIFICATE = gettext_lazy("解除隔离证明")
LEGAL_BASIS = gettext_lazy(
    "根据《中华人民共和国传染病防治法》等法律法规和疫情防控有关规定，"
    "对您依法实施以下管控措施，请予以配合。"
)

# What the person must do, by measure type; checks, tests and symptoms are added for all.
TYPE_RULES = {
    MeasureType.CENTRALISED: [
        gettext_lazy("单人单间隔离，不得离开房间，不得串门，不与其他隔离人员接触。"),
        gettext_lazy("服从隔离场所管理，生活垃圾按要求投放，配合房间清洁消毒。"),
    ],
    MeasureType.HOME_OBSERVATION: [
        gettext_lazy("单独居住或居住在通风良好的单独房间，隔离期间不得外出，不接待来访。"),
        gettext_lazy("尽量减少与共同居住人员接触，做好居室通风和日常消毒。"),
    ],
    MeasureType.HOME_MONITORING: [
        gettext_lazy("不聚集、不聚餐，不参加聚集性活动。"),
        gettext_lazy("不乘坐公共交通工具，非必要不外出，确需外出时全程规范佩戴口罩。"),
    ],
    MeasureType.HOSPITAL_ISOLATION: [
        gettext_lazy("在定点医院隔离病区接受隔离治疗，遵从医嘱，不得擅自离开病区。"),
    ],
    MeasureType.OBSERVATION_ROOM: [
        gettext_lazy("在留观室单间留观，不得离开留观室，配合采样检测，等待检测结果。"),
    ],
}
SYMPTOMS_RULE = gettext_lazy(
    "如出现发热、干咳、乏力、咽痛、嗅（味）觉减退、腹泻等症状，立即报告责任单位，"
    "不得自行前往医疗机构就诊。"
)
REFUSAL_RULE = gettext_lazy("拒不配合或擅自脱离管控的，将依法追究法律责任。")


def chinese_date(day: date | None) -> str:
    return f"{day.year}年{day.month}月{day.day}日" if day else ""


def place_of(measure: Measure) -> str:
    """Where the measure is served: the facility and room, or the home address."""
    if measure.type in IN_FACILITY and measure.facility_id:
        room = f" {measure.room.number}{_('房间')}" if measure.room_id else ""
        return f"{measure.facility.name}{room}"
    return measure.address


def phase_label(measure: Measure) -> str:
    """ "居家健康监测14天"."""
    return _("%(type)s%(days)s天") % {"type": measure.get_type_display(), "days": measure.days}


def tests_summary(results: list[str]) -> str:
    """The person tests of a measure by result: "3次，均阴性", "3次：阴性2次、待检1次"."""
    if not results:
        return _("无")
    if all(result == MeasureTest.Result.NEGATIVE for result in results):
        return _("%(n)s次，均阴性") % {"n": len(results)}
    counts = Counter(results)
    labels = [*MeasureTest.Result.choices, ("", _("待检"))]
    parts = [
        _("%(result)s%(n)s次") % {"result": label, "n": counts[code]}
        for code, label in labels
        if counts[code]
    ]
    return _("%(n)s次：") % {"n": len(results)} + "、".join(parts)


def _id_number(person, *, reveal: bool) -> str:
    return person.id_number if reveal else person.id_number_masked


def _issuer(measure: Measure, user) -> str:
    organisation = measure.responsible_organisation or user.organisation
    return organisation.name if organisation else ""


def _phone(measure: Measure) -> str:
    unit = measure.responsible_organisation
    return (unit.phone if unit else "") or (measure.facility.phone if measure.facility_id else "")


def measure_rules(measure: Measure) -> list[str]:
    """The rules printed on the notice: by type, then checks, test days and symptoms."""
    rules = [str(rule) for rule in TYPE_RULES.get(measure.type, [])]
    if measure.checks_per_day == 2:
        rules.append(_("每日早、晚各测量体温1次，如实报告体温和健康状况。"))
    else:
        rules.append(
            _("每日测量体温%(n)s次，如实报告体温和健康状况。") % {"n": measure.checks_per_day}
        )
    tests = measure.tests.filter(kind=MeasureTest.Kind.PERSON).order_by("due_date")
    days = [
        _("第%(day)s天（%(date)s）")
        % {"day": test.course_day, "date": f"{test.due_date.month}月{test.due_date.day}日"}
        for test in tests
    ]
    if days:
        rules.append(_("按要求接受核酸检测：%(days)s。") % {"days": "、".join(days)})
    rules += [str(SYMPTOMS_RULE), str(REFUSAL_RULE)]
    return rules


def notice(measure: Measure, user, *, reveal: bool) -> dict:
    """The context of the notice (告知书) at the start of a measure."""
    return {
        "measure": measure,
        "person": measure.person,
        "id_number": _id_number(measure.person, reveal=reveal),
        "place": place_of(measure),
        "rules": measure_rules(measure),
        "legal_basis": LEGAL_BASIS,
        "phone": _phone(measure),
        "issuer": _issuer(measure, user),
        "start": chinese_date(measure.start_date),
        "end": chinese_date(measure.planned_end),
        "issued_on": chinese_date(measure.start_date),
    }


def next_phase_of(measure: Measure) -> Measure | None:
    return (
        Measure.objects.filter(course_start=measure.course, phase=measure.phase + 1)
        .exclude(status=Measure.Status.CANCELLED)
        .first()
    )


def certificate_number(measure: Measure) -> str:
    return f"JC-{timezone.localdate(measure.ended_at).year}-{measure.pk:06d}"


def release_certificate(measure: Measure, user, *, reveal: bool) -> dict:
    """The context of the release certificate (解除隔离证明) of a released measure."""
    released_on = timezone.localdate(measure.ended_at)
    tests = list(measure.tests.all())
    person_results = [t.result for t in tests if t.kind == MeasureTest.Kind.PERSON]
    samples = [t for t in tests if t.kind != MeasureTest.Kind.PERSON]
    following = next_phase_of(measure)
    return {
        "measure": measure,
        "person": measure.person,
        "id_number": _id_number(measure.person, reveal=reveal),
        "place": place_of(measure),
        "start": chinese_date(measure.start_date),
        "released_on": chinese_date(released_on),
        "days_served": (released_on - measure.start_date).days,
        "tests": tests_summary(person_results),
        "samples_negative": bool(samples)
        and all(t.result == MeasureTest.Result.NEGATIVE for t in samples),
        "next_phase": following,
        "next_label": phase_label(following) if following else "",
        "next_start": chinese_date(following.start_date) if following else "",
        "next_end": chinese_date(following.planned_end) if following else "",
        "issuer": _issuer(measure, user),
        "number": certificate_number(measure),
    }


def log_download(user, measure: Measure, document, *, revealed: bool, request=None) -> None:
    """A document holds personal data: its download is an export, and a reveal when the ID
    number is printed in full."""
    detail = {"document": str(document), "measure": measure.pk}
    label = f"{document}：{measure.person.name}"
    log_access(
        user,
        AccessLog.Action.EXPORT,
        obj=measure,
        label=label,
        region=measure.region,
        detail={**detail, "revealed": ["id_number"] if revealed else []},
        request=request,
    )
    if revealed:
        log_access(
            user,
            AccessLog.Action.REVEAL,
            obj=measure.person,
            label=label,
            region=measure.region,
            detail={**detail, "fields": ["id_number"]},
            request=request,
        )
