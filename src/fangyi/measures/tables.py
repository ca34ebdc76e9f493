"""The daily tables a community reports to the street office by 13:00 (seed 003), signed by
the party branch secretary and stamped: the health monitoring table (健康监测表) of everyone
under control that day and the release table (解除隔离表) of those released that day.

Rows are built set-based — one query for the measures with their persons, one for the
day's checks, one for the tests — whatever the number of rows. Personal data is masked.
The same rows make the page and the Excel file.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, time

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from fangyi.geo.models import Organisation, Region, inside_or_above
from fangyi.measures.documents import phase_label, place_of, tests_summary
from fangyi.measures.models import HealthCheck, Measure, MeasureTest, Symptom
from fangyi.measures.services import local_day_range

# A reading before noon (local time) is the morning reading, from noon the afternoon one.
NOON = time(12)
LONG_TEXT = 12  # characters
NEVER_STARTED = (Measure.Status.PLANNED, Measure.Status.CANCELLED)
FOOTER = gettext_lazy("填报人：　　　　　审核人（支部书记签字）：　　　　　（盖章）")

MONITORING_COLUMNS = [
    gettext_lazy("序号"),
    gettext_lazy("姓名"),
    gettext_lazy("性别"),
    gettext_lazy("年龄"),
    gettext_lazy("联系电话"),
    gettext_lazy("现住址/管控地址"),
    gettext_lazy("管控类型"),
    gettext_lazy("开始日期"),
    gettext_lazy("第几天"),
    gettext_lazy("上午体温"),
    gettext_lazy("下午体温"),
    gettext_lazy("症状"),
    gettext_lazy("是否异常"),
    gettext_lazy("核酸检测（当日）"),
    gettext_lazy("备注"),
]
RELEASE_COLUMNS = [
    gettext_lazy("序号"),
    gettext_lazy("姓名"),
    gettext_lazy("性别"),
    gettext_lazy("年龄"),
    gettext_lazy("身份证号"),
    gettext_lazy("管控类型"),
    gettext_lazy("隔离地点"),
    gettext_lazy("开始日期"),
    gettext_lazy("解除日期"),
    gettext_lazy("管控天数"),
    gettext_lazy("核酸检测次数及结果"),
    gettext_lazy("解除后措施"),
    gettext_lazy("备注"),
]


@dataclass
class Row:
    cells: list
    abnormal: bool = False


@dataclass
class DailyTable:
    title: str
    sheet: str
    community: Region
    day: date
    unit: str
    columns: list
    rows: list[Row] = field(default_factory=list)

    @property
    def footer(self) -> str:
        return str(FOOTER)

    def labelled(self):
        """Rows of (column, value, is long text) for the page: cells are labelled on phones,
        and only long text (addresses, notes) wraps on wider screens."""
        for row in self.rows:
            yield (
                row,
                [
                    (column, value, len(str(value)) > LONG_TEXT)
                    for column, value in zip(self.columns, row.cells, strict=True)
                ],
            )

    def sheet_rows(self) -> tuple[list, list[list]]:
        """The Excel layout: title, date and unit above the columns, the signature line
        below (the title comes first, as xlsx_response's first row)."""
        lines = [
            [_("日期：%(day)s") % {"day": self.day.isoformat()}],
            [_("填报单位：%(unit)s") % {"unit": self.unit}],
            [str(column) for column in self.columns],
            *(row.cells for row in self.rows),
            [],
            [self.footer],
        ]
        return [self.title], lines


def communities_for(user):
    """Communities (village level) whose tables the user may fill: those inside their
    jurisdiction, or the one their grid belongs to (rows stay limited to their scope)."""
    villages = Region.objects.filter(level=Region.Level.VILLAGE)
    return inside_or_above(villages, user, field="").order_by("path")


def _filling_unit(community: Region) -> str:
    committee = Organisation.objects.filter(
        region=community, type=Organisation.Type.VILLAGE_COMMITTEE
    ).first()
    return committee.name if committee else community.name


def _in_community(model, user, community: Region):
    return model.objects.visible_to(user).filter(region__path__startswith=community.path)


def under_control_on(day: date) -> Q:
    """Measures in force at the end of that day (started, not ended before the next day):
    a measure released that day is on the release table; the phase that follows it is
    under control from that day."""
    return (
        Q(start_date__lte=day)
        & ~Q(status__in=NEVER_STARTED)
        & (Q(ended_at__isnull=True) | Q(ended_at__gte=local_day_range(day)[1]))
    )


def person_cells(number: int, person, day: date) -> list:
    """The first columns of every daily table: 序号, 姓名, 性别, 年龄 (on the day; blank
    when the birth date is unknown)."""
    age = person.age(day) if person.birth_date else ""
    return [number, person.name, person.get_sex_display(), age]


def _yes_no(value: bool) -> str:
    return _("是") if value else _("否")


def _test_cell(tests: list[tuple]) -> str:
    results = dict(MeasureTest.Result.choices)
    cells = []
    for due_date, sampled_at, result in tests:
        day = timezone.localdate(sampled_at) if sampled_at else due_date
        status = results.get(result) or (_("已采样") if sampled_at else _("待采样"))
        cells.append(f"{day:%m-%d}/{status}")
    return "；".join(cells)


def monitoring_table(user, community: Region, day: date) -> DailyTable:
    measures = list(
        _in_community(Measure, user, community)
        .filter(under_control_on(day))
        .select_related("person", "facility", "room")
        .order_by("region__path", "start_date", "pk")
    )
    readings = defaultdict(list)
    for measure_id, *reading in (
        _in_community(HealthCheck, user, community)
        .filter(day=day)
        .order_by("checked_at")
        .values_list("measure_id", "checked_at", "temperature", "symptoms", "abnormal", "note")
    ):
        readings[measure_id].append(reading)
    tests = defaultdict(list)
    for measure_id, *test in (
        _in_community(MeasureTest, user, community)
        .filter(due_date=day, kind=MeasureTest.Kind.PERSON)
        .values_list("measure_id", "due_date", "sampled_at", "result")
    ):
        tests[measure_id].append(test)

    rows = []
    for number, measure in enumerate(measures, start=1):
        person, day_readings = measure.person, readings[measure.pk]
        morning = [r for r in day_readings if timezone.localtime(r[0]).time() < NOON]
        afternoon = [r for r in day_readings if timezone.localtime(r[0]).time() >= NOON]
        codes = {code for r in day_readings for code in r[2] if code in Symptom.values}
        symptoms = [str(label) for code, label in Symptom.choices if code in codes]
        abnormal = any(r[3] for r in day_readings)
        notes = [r[4] for r in day_readings if r[4]]
        if len(day_readings) < measure.checks_per_day:
            notes.insert(
                0,
                _("已测%(done)s次/应测%(due)s次")
                % {"done": len(day_readings), "due": measure.checks_per_day},
            )
        cells = [
            *person_cells(number, person, day),
            person.phone_masked,
            place_of(measure),
            measure.get_type_display(),
            measure.start_date.isoformat(),
            _("第%(n)s天") % {"n": (day - measure.start_date).days + 1},
            str(morning[0][1]) if morning else "",
            str(afternoon[-1][1]) if afternoon else "",
            "、".join(symptoms) or (_("无") if day_readings else ""),
            _yes_no(abnormal) if day_readings else "",
            _test_cell(tests[measure.pk]),
            "；".join(notes),
        ]
        rows.append(Row(cells, abnormal))
    return DailyTable(
        title=_("%(community)s 返乡人员健康监测表") % {"community": community.name},
        sheet=_("健康监测表"),
        community=community,
        day=day,
        unit=_filling_unit(community),
        columns=MONITORING_COLUMNS,
        rows=rows,
    )


def release_table(user, community: Region, day: date) -> DailyTable:
    start, end = local_day_range(day)
    released = _in_community(Measure, user, community).filter(
        status=Measure.Status.RELEASED, ended_at__gte=start, ended_at__lt=end
    )
    measures = list(
        released.select_related("person", "facility", "room").order_by("ended_at", "pk")
    )
    results = defaultdict(list)
    for measure_id, result in MeasureTest.objects.filter(
        measure__in=released.values("pk"), kind=MeasureTest.Kind.PERSON
    ).values_list("measure_id", "result"):
        results[measure_id].append(result)
    following = {
        (phase.course_start_id, phase.phase): phase
        for phase in Measure.objects.filter(
            course_start__in={measure.course_start_id or measure.pk for measure in measures}
        ).exclude(status=Measure.Status.CANCELLED)
    }

    rows = []
    for number, measure in enumerate(measures, start=1):
        person = measure.person
        released_on = timezone.localdate(measure.ended_at)
        after = following.get((measure.course_start_id or measure.pk, measure.phase + 1))
        rows.append(
            Row(
                [
                    *person_cells(number, person, day),
                    person.id_number_masked,
                    measure.get_type_display(),
                    place_of(measure),
                    measure.start_date.isoformat(),
                    released_on.isoformat(),
                    (released_on - measure.start_date).days,
                    tests_summary(results[measure.pk]),
                    phase_label(after) if after else _("无"),
                    measure.end_note,
                ]
            )
        )
    return DailyTable(
        title=_("%(community)s 人员解除隔离表") % {"community": community.name},
        sheet=_("解除隔离表"),
        community=community,
        day=day,
        unit=_filling_unit(community),
        columns=RELEASE_COLUMNS,
        rows=rows,
    )
