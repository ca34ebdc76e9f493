"""The dashboards' figures over the API: the epidemic curve with Rt, laboratory positivity and
the weekly assessment. Scoped like the pages, with the same filter forms; an invalid filter
is 422 with `detail` [{loc, type, msg, msg_en}]."""

from datetime import date

from django.utils import timezone
from ninja import Field, Query, Router, Schema, Status

from fangyi.accounts.roles import Capability
from fangyi.core.access import require_capability
from fangyi.core.api_errors import form_errors
from fangyi.diseases.models import Classification
from fangyi.surveillance import assessment, dashboards
from fangyi.surveillance.dashboard_views import CurveForm, RangeForm

router = Router(tags=["surveillance"])


class RangeQuery(Schema):
    region: int | None = Field(None, description="a township; default the jurisdiction")
    start: date | None = Field(None, alias="from", description="default 60 days before `to`")
    end: date | None = Field(None, alias="to", description="default today")

    def given(self) -> dict:
        """The filters given, as the page's form takes them."""
        return {name: value for name, value in self.model_dump().items() if value is not None}


class CurveQuery(RangeQuery):
    disease: str | None = Field(None, description="disease code; default the most reported")
    by: str | None = Field(None, description="onset (default) or report")


class WeekQuery(Schema):
    week: date | None = Field(None, description="any day of the week; default the last complete")


class ErrorsOut(Schema):
    detail: list[dict]


class SeriesOut(Schema):
    classification: str
    label: str
    data: list[int]


class RtOut(Schema):
    t_end_day: date = Field(description="last day of the 7-day window")
    mean: float
    q025: float
    q975: float


class DoublingOut(Schema):
    growing: bool
    days: float | None = Field(description="doubling time of the last 14 days")
    lower: float | None
    upper: float | None = Field(description="none: unbounded")


class CurveOut(Schema):
    disease: str | None = Field(description="disease code; none without any case reported")
    region: int | None
    by: str
    days: list[date]
    series: list[SeriesOut] = Field(description="cases per day, by classification")
    rt: list[RtOut] | None = Field(description="none: no serial interval for the disease")
    doubling: DoublingOut | None


class RateOut(Schema):
    tested: int
    positive: int
    rate: float | None
    lower: float | None = Field(description="Wilson 95% interval")
    upper: float | None


class TownshipRateOut(Schema):
    region: int
    name: str
    period: RateOut
    last_week: RateOut


class PositivityOut(Schema):
    region: int | None
    days: list[date]
    daily: list[RateOut]
    period: RateOut
    last_week: RateOut
    townships: list[TownshipRateOut]


class ChangeOut(Schema):
    current: int
    previous: int


class DiseaseWeekOut(Schema):
    disease: str
    name: str
    cases: ChangeOut
    deaths: ChangeOut


class SourceWeekOut(Schema):
    source: str
    label: str
    total: ChangeOut


class SignalWeekOut(Schema):
    id: int
    day: date
    region: int
    region_name: str
    source: str
    topic: str
    topic_label: str
    observed: float
    status: str
    minutes_to_verify: float | None
    within_limit: bool | None


class ConclusionOut(Schema):
    risk_level: str
    conclusion: str
    recommendations: str
    author: str
    updated_at: str


class AssessmentOut(Schema):
    region: int | None
    week_start: date
    week_end: date
    cases: ChangeOut
    deaths: ChangeOut
    diseases: list[DiseaseWeekOut]
    sources: list[SourceWeekOut]
    signal_status: dict[str, int]
    signals: list[SignalWeekOut]
    verified: int
    verified_within_limit: int
    median_minutes: float | None
    tested: ChangeOut
    positive: ChangeOut
    positivity: RateOut
    previous_positivity: RateOut
    main_disease: str | None
    rt: RtOut | None
    conclusion: ConclusionOut | None


def _query_errors(form, names: dict[str, str]) -> Status:
    errors = form_errors(form)
    for error in errors:
        error["loc"] = ["query", names.get(error["loc"][1], error["loc"][1])]
    return Status(422, {"detail": errors})


def _rate(rate: dashboards.Rate) -> dict:
    return {
        "tested": rate.tested,
        "positive": rate.positive,
        "rate": rate.rate,
        "lower": rate.lower,
        "upper": rate.upper,
    }


def _change(change: assessment.Change) -> dict:
    return {"current": change.current, "previous": change.previous}


def _rt(point: dashboards.RtPoint) -> dict:
    return {
        "t_end_day": point.t_end_day,
        "mean": point.mean,
        "q025": point.q025,
        "q975": point.q975,
    }


@router.get("/surveillance/epicurve", response={200: CurveOut, 422: ErrorsOut})
def epicurve(request, filters: Query[CurveQuery]):
    require_capability(request.user, Capability.VIEW_SURVEILLANCE)
    form = CurveForm(filters.given(), user=request.user)
    if not form.is_valid():
        return _query_errors(form, {"start": "from", "end": "to"})
    data = form.cleaned_data
    if data["disease"] is None:
        return {
            "disease": None,
            "region": filters.region,
            "by": data["by"],
            "days": dashboards.days_between(data["start"], data["end"]),
            "series": [],
            "rt": [],
            "doubling": None,
        }
    curve = dashboards.epicurve(
        request.user,
        data["disease"],
        start=data["start"],
        end=data["end"],
        by=data["by"],
        region=data["region"],
    )
    labels = dict(Classification.choices)
    growth = curve.doubling
    return {
        "disease": curve.disease.code,
        "region": filters.region,
        "by": curve.by,
        "days": curve.days,
        "series": [
            {"classification": kind, "label": str(labels[kind]), "data": counts}
            for kind, counts in curve.series.items()
        ],
        "rt": [_rt(point) for point in curve.rt.points] if curve.rt else None,
        "doubling": {
            "growing": growth.growing,
            "days": growth.days if growth.growing else None,
            "lower": growth.lower if growth.growing else None,
            "upper": growth.upper if growth.growing else None,
        }
        if growth.estimated
        else None,
    }


@router.get("/surveillance/positivity", response={200: PositivityOut, 422: ErrorsOut})
def positivity(request, filters: Query[RangeQuery]):
    require_capability(request.user, Capability.VIEW_SURVEILLANCE)
    form = RangeForm(filters.given(), user=request.user)
    if not form.is_valid():
        return _query_errors(form, {"start": "from", "end": "to"})
    data = form.cleaned_data
    figures = dashboards.positivity(
        request.user, start=data["start"], end=data["end"], region=data["region"]
    )
    return {
        "region": filters.region,
        "days": figures.days,
        "daily": [_rate(rate) for rate in figures.daily],
        "period": _rate(figures.period),
        "last_week": _rate(figures.last_week),
        "townships": [
            {
                "region": row.region_id,
                "name": row.name,
                "period": _rate(row.period),
                "last_week": _rate(row.last_week),
            }
            for row in figures.townships
        ],
    }


@router.get("/surveillance/assessment", response=AssessmentOut)
def weekly_assessment(request, filters: Query[WeekQuery]):
    require_capability(request.user, Capability.VIEW_SURVEILLANCE)
    if filters.week:
        start = assessment.week_start_of(filters.week)
    else:
        start = assessment.last_complete_week(timezone.localdate())
    f = assessment.weekly_figures(request.user, start)
    saved = assessment.assessment_of(f.region, start)
    return {
        "region": f.region.pk if f.region else None,
        "week_start": f.week_start,
        "week_end": f.week_end,
        "cases": _change(f.cases),
        "deaths": _change(f.deaths),
        "diseases": [
            {
                "disease": row.disease.code,
                "name": row.disease.name,
                "cases": _change(row.cases),
                "deaths": _change(row.deaths),
            }
            for row in f.diseases
        ],
        "sources": [
            {"source": row.source, "label": row.label, "total": _change(row.total)}
            for row in f.sources
        ],
        "signal_status": {status: n for status, _label, n in f.signal_status},
        "signals": [
            {
                "id": row.signal.pk,
                "day": row.signal.day,
                "region": row.signal.region_id,
                "region_name": row.signal.region.name,
                "source": row.signal.source,
                "topic": row.signal.topic,
                "topic_label": row.signal.topic_label,
                "observed": row.signal.observed,
                "status": row.signal.status,
                "minutes_to_verify": row.minutes_to_verify,
                "within_limit": row.within_limit,
            }
            for row in f.signals
        ],
        "verified": f.verified,
        "verified_within_limit": f.verified_within_limit,
        "median_minutes": f.median_minutes,
        "tested": _change(f.tested),
        "positive": _change(f.positive),
        "positivity": _rate(f.positivity),
        "previous_positivity": _rate(f.previous_positivity),
        "main_disease": f.main_disease.code if f.main_disease else None,
        "rt": _rt(f.rt) if f.rt else None,
        "conclusion": {
            "risk_level": saved.risk_level,
            "conclusion": saved.conclusion,
            "recommendations": saved.recommendations,
            "author": str(saved.author),
            "updated_at": saved.updated_at.isoformat(),
        }
        if saved
        else None,
    }
