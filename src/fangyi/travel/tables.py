"""The arrivals screening table (外来返X人员排查表) a community reports to the street by 13:00
with the health monitoring and release tables (seed 003), in the same form as
`measures.tables`: the community's arrivals of the day and of the look-back window before it
(14 days by default, as data), personal data masked, one query whatever the number of rows.
"""

from datetime import date, timedelta

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from fangyi.geo.models import Region
from fangyi.measures.models import symptom_labels
from fangyi.measures.tables import DailyTable, Row, _filling_unit, person_cells
from fangyi.travel.models import Arrival, MatchRule
from fangyi.travel.services import outcome_text, unwell

SCREENING_COLUMNS = [
    gettext_lazy("序号"),
    gettext_lazy("姓名"),
    gettext_lazy("性别"),
    gettext_lazy("年龄"),
    gettext_lazy("身份证号"),
    gettext_lazy("联系电话"),
    gettext_lazy("来源地"),
    gettext_lazy("旅居地风险等级"),
    gettext_lazy("返回日期"),
    gettext_lazy("交通方式及车次"),
    gettext_lazy("现住址"),
    gettext_lazy("健康状况"),
    gettext_lazy("是否持核酸证明"),
    gettext_lazy("管控措施"),
    gettext_lazy("备注"),
]


def _health(arrival: Arrival) -> str:
    """ "正常 (36.5℃)" or the temperature and symptoms of an arrival reported unwell."""
    symptoms = symptom_labels(arrival.symptoms)
    temperature = f"{arrival.temperature}℃" if arrival.temperature is not None else ""
    if unwell(arrival.temperature, arrival.symptoms):
        return "、".join(filter(None, [temperature, *symptoms]))
    return f"{_('正常')}（{temperature}）" if temperature else _("正常")


def screening_table(user, community: Region, day: date) -> DailyTable:
    """Arrivals of the community who arrived on or before `day` and are still within the
    look-back window on it (arrived less than 14 days before)."""
    first_day = day - timedelta(days=MatchRule.look_back(day) - 1)
    arrivals = (
        Arrival.objects.visible_to(user)
        .filter(grid__path__startswith=community.path, arrival_date__range=(first_day, day))
        .select_related("person", "measure")
        .order_by("arrival_date", "pk")
    )
    rows = []
    for number, arrival in enumerate(arrivals, start=1):
        person = arrival.person
        certificate = _("是") if arrival.has_certificate else _("否")
        if arrival.certificate_missing:
            certificate = _("否（应持）")
        rows.append(
            Row(
                [
                    *person_cells(number, person, day),
                    person.id_number_masked,
                    person.phone_masked,
                    arrival.origin,
                    arrival.get_origin_level_display() or _("非风险地区"),
                    arrival.arrival_date.isoformat(),
                    " ".join(
                        filter(None, [arrival.get_transport_display(), arrival.transport_number])
                    ),
                    arrival.destination,
                    _health(arrival),
                    certificate,
                    outcome_text(arrival),
                    arrival.note,
                ],
                abnormal=unwell(arrival.temperature, arrival.symptoms),
            )
        )
    return DailyTable(
        title=_("%(community)s 外来返乡人员排查表") % {"community": community.name},
        sheet=_("排查表"),
        community=community,
        day=day,
        unit=_filling_unit(community),
        columns=SCREENING_COLUMNS,
        rows=rows,
    )
