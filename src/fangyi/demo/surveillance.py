"""Demo surveillance on the demo county (`build.build_demo`, best after the outbreak demo):
what the duty epidemiologist finds on opening the early-warning pages.

- Two years of daily syndromic counts per township before the system (imported history,
  `DailyCount.imported`): pharmacy sales by drug category, fever-clinic visits by syndrome,
  school absences by syndrome; Poisson around a level per township with winter peaks of
  fever and respiratory illness and a summer peak of diarrhoea. Three years of imported case
  counts for the common diseases end where the outbreak demo's cards begin, so the CIDARS
  moving percentile has its baseline years.
- The last `RECORD_DAYS` days as records through the real write paths
  (`surveillance.sources`): real-name pharmacy sales (a few buyers with fever, handed to
  their grid), fever-clinic visits of residents, school absences on school days.
- An injected outbreak: a norovirus-like diarrhoea outbreak at the school of the second
  township, yesterday and today —
  absences, antidiarrhoeal sales and clinic visits for diarrhoea rising together — which
  this morning's run on yesterday finds. Today's records cover the hours so far.
- The detectors ran on each of the last `RUN_DAYS` days (`detection.run_day`), each day's
  run at 06:00 the next morning as the hourly job does: the outbreak's signal (raised this
  morning, its repeat today merged into it) waits for verification; the earlier signals
  were answered within hours, most dismissed, one followed to a confirmed event linked to
  the demo's cluster.
- The duty roster: the demo CDC epidemiologist on duty for the county this month.

Draws come from `numpy.random.default_rng(seed)` and `random.Random(seed)`; the same seed on
the same county (and the same `now`) gives the same data.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import numpy as np
from django.db import transaction
from django.utils import timezone

from fangyi.accounts.models import User
from fangyi.core.deadlines import tasks_of
from fangyi.core.models import Duty
from fangyi.geo.models import Organisation, Region
from fangyi.measures.models import Symptom
from fangyi.people.models import Person
from fangyi.surveillance import counts, detection, signals, sources
from fangyi.surveillance.models import (
    DailyCount,
    DrugCategory,
    DutyRoster,
    FeverClinicVisit,
    Signal,
    Source,
    Syndrome,
)

HISTORY_DAYS = 730
CASE_HISTORY_DAYS = 3 * 365 + 60
CASE_RECORDS_DAYS = 125  # the outbreak demo's cards cover about the last 120 days
RECORD_DAYS = 28
OUTBREAK_DAYS = 2  # yesterday and today
RUN_DAYS = 14
OUTBREAK_TOWNSHIP = 1  # index in code order: the second township

# (source, topic) → (level per township per day, seasonal amplitude, peak day of year)
SYNDROMIC = {
    (Source.PHARMACY, DrugCategory.ANTIPYRETIC): (4.0, 0.5, 20),
    (Source.PHARMACY, DrugCategory.COUGH): (5.0, 0.6, 20),
    (Source.PHARMACY, DrugCategory.ANTIDIARRHOEAL): (1.5, 0.4, 220),
    (Source.PHARMACY, DrugCategory.ANTIBIOTIC): (3.0, 0.2, 20),
    (Source.FEVER_CLINIC, "visits"): (6.0, 0.5, 20),
    (Source.FEVER_CLINIC, Syndrome.FEVER): (5.0, 0.5, 20),
    (Source.FEVER_CLINIC, Syndrome.RESPIRATORY): (4.0, 0.6, 20),
    (Source.FEVER_CLINIC, Syndrome.DIARRHOEA): (0.6, 0.4, 220),
    (Source.SCHOOL_ABSENCE, Syndrome.FEVER): (3.0, 0.6, 20),
    (Source.SCHOOL_ABSENCE, Syndrome.RESPIRATORY): (2.5, 0.6, 20),
    (Source.SCHOOL_ABSENCE, Syndrome.DIARRHOEA): (0.8, 0.4, 220),
    (Source.SCHOOL_ABSENCE, Syndrome.OTHER): (1.0, 0.0, 0),
}
# Imported case history per township per day (CIDARS baseline years).
CASE_LEVELS = {
    "influenza": (0.8, 0.9, 15),
    "hfmd": (0.4, 0.8, 150),
    "other_infectious_diarrhoea": (0.3, 0.5, 210),
    "mumps": (0.1, 0.4, 120),
    "scarlet_fever": (0.08, 0.5, 330),
    "bacillary_dysentery": (0.05, 0.6, 220),
}
DRUGS = {
    DrugCategory.ANTIPYRETIC: ["布洛芬缓释胶囊", "对乙酰氨基酚片"],
    DrugCategory.COUGH: ["复方甘草片", "右美沙芬糖浆"],
    DrugCategory.ANTIDIARRHOEAL: ["蒙脱石散", "盐酸小檗碱片"],
    DrugCategory.ANTIBIOTIC: ["阿莫西林胶囊", "头孢克肟片"],
}
SYMPTOMS_OF = {
    DrugCategory.ANTIPYRETIC: [Symptom.FEVER],
    DrugCategory.COUGH: [Symptom.DRY_COUGH, Symptom.SORE_THROAT],
    DrugCategory.ANTIDIARRHOEAL: [Symptom.DIARRHOEA],
    DrugCategory.ANTIBIOTIC: [Symptom.SORE_THROAT],
}


@dataclass
class SurveillanceSummary:
    history_counts: int
    sales: int
    visits: int
    absences: int
    signals: int
    outbreak_signals: int

    def __str__(self) -> str:
        return (
            f"{self.history_counts} history counts, {self.sales} pharmacy sales, "
            f"{self.visits} fever-clinic visits, {self.absences} absence rows, "
            f"{self.signals} signals ({self.outbreak_signals} on the injected outbreak)"
        )


def seasonal_mean(level: float, amplitude: float, peak: int, days: list[date]) -> np.ndarray:
    doy = np.array([d.timetuple().tm_yday for d in days])
    return level * (1 + amplitude * np.cos(2 * np.pi * (doy - peak) / 365.25))


def build_surveillance(seed: int, *, now: datetime | None = None) -> SurveillanceSummary:
    now = now or timezone.now().replace(minute=0, second=0, microsecond=0)
    today = timezone.localdate(now)
    if DailyCount.objects.filter(imported=True).exists():
        raise ValueError("the surveillance demo is already built")
    rng = np.random.default_rng(seed)
    pick = random.Random(seed)
    townships = list(Region.objects.filter(level=Region.Level.TOWNSHIP).order_by("code"))
    users = {u.username: u for u in User.objects.select_related("region", "organisation")}
    with transaction.atomic():
        history = import_history(rng, townships, today)
        sales = pharmacy_sales(rng, pick, townships, today, now)
        visits = clinic_visits(rng, pick, townships, today, now)
        absences = school_absences(rng, townships, today, now)
        DutyRoster.objects.create(
            region=Region.objects.get(parent__isnull=True),
            user=users["cdc_epi"],
            start_date=today.replace(day=1),
            end_date=today + timedelta(days=30),
        )
    with transaction.atomic():
        for n in range(RUN_DAYS - 1, -1, -1):
            day = today - timedelta(days=n)
            morning = timezone.make_aware(datetime.combine(day + timedelta(days=1), time(6)))
            detection.run_day(day, now=min(morning, now))
        respond_to_earlier(pick, users["cdc_epi"], today)
    outbreak = townships[OUTBREAK_TOWNSHIP]
    return SurveillanceSummary(
        history_counts=history,
        sales=sales,
        visits=visits,
        absences=absences,
        signals=Signal.objects.primary().count(),
        outbreak_signals=outbreak_signals(outbreak, today).count(),
    )


def outbreak_signals(township: Region, today: date):
    """The signals on the injected outbreak: diarrhoea in its township since yesterday."""
    return Signal.objects.filter(
        region=township,
        day__gte=today - timedelta(days=1),
        topic__in=[Syndrome.DIARRHOEA, DrugCategory.ANTIDIARRHOEAL],
    )


def import_history(rng, townships: list[Region], today: date) -> int:
    rows = []
    end = today - timedelta(days=RECORD_DAYS)
    days = [end - timedelta(days=n) for n in range(HISTORY_DAYS, 0, -1)]
    for (source, topic), (level, amplitude, peak) in SYNDROMIC.items():
        mean = seasonal_mean(level, amplitude, peak, days)
        for township in townships:
            scale = rng.uniform(0.6, 1.4)
            values = rng.poisson(mean * scale)
            if source == Source.SCHOOL_ABSENCE:
                values[[d.weekday() >= 5 for d in days]] = 0
            rows += _count_rows(source, topic, township, days, values)
    case_end = today - timedelta(days=CASE_RECORDS_DAYS)
    case_days = [case_end - timedelta(days=n) for n in range(CASE_HISTORY_DAYS, 0, -1)]
    for disease, (level, amplitude, peak) in CASE_LEVELS.items():
        mean = seasonal_mean(level, amplitude, peak, case_days)
        for township in townships:
            rows += _count_rows(Source.CASES, disease, township, case_days, rng.poisson(mean))
    created, _updated = counts.import_history(rows)
    return created


def _count_rows(source, topic, region, days, values) -> list[counts.HistoryRow]:
    return [
        counts.HistoryRow(source, topic, region.pk, day, int(n))
        for day, n in zip(days, values, strict=True)
        if n
    ]


def _outbreak_boost(township_index: int, day: date, today: date, peak: int) -> int:
    """Extra events of the injected outbreak on that day: `peak` from yesterday on."""
    ago = (today - day).days
    return peak if township_index == OUTBREAK_TOWNSHIP and ago < OUTBREAK_DAYS else 0


def _share(day: date, now: datetime) -> float:
    """The part of the day gone by: 1 for past days, the hours so far today."""
    start = timezone.make_aware(datetime.combine(day, time.min))
    return min(max((now - start) / timedelta(days=1), 0.0), 1.0)


def _moment(pick: random.Random, day: date, now: datetime) -> datetime:
    """A time in the day's opening hours (8–20 h), or so far today."""
    start = timezone.make_aware(datetime.combine(day, time(8)))
    if start + timedelta(hours=12) <= now:
        return start + timedelta(minutes=pick.randrange(0, 12 * 60))
    midnight = timezone.make_aware(datetime.combine(day, time.min))
    return midnight + (now - midnight) * pick.random()


def _residents(townships: list[Region]) -> dict[int, list[Person]]:
    by_township: dict[int, list[Person]] = {t.pk: [] for t in townships}
    paths = {t.path: t.pk for t in townships}
    for person in Person.objects.filter(grid__isnull=False).select_related("grid").order_by("id"):
        township = paths.get("/".join(person.grid.path.split("/")[:2]) + "/")
        if township is not None and len(by_township[township]) < 400:
            by_township[township].append(person)
    return by_township


def pharmacy_sales(rng, pick, townships, today: date, now: datetime) -> int:
    pharmacies = {
        o.region_id: o for o in Organisation.objects.filter(type=Organisation.Type.PHARMACY)
    }
    residents = _residents(townships)
    clerk = User.objects.filter(username="pharmacy_clerk").first()
    total = 0
    for index, township in enumerate(townships):
        pharmacy = pharmacies.get(township.pk)
        if pharmacy is None or not residents[township.pk]:
            continue
        for n in range(RECORD_DAYS - 1, -1, -1):
            day = today - timedelta(days=n)
            rows = []
            for category in DrugCategory:
                level, amplitude, peak = SYNDROMIC[(Source.PHARMACY, category)]
                mean = seasonal_mean(level, amplitude, peak, [day])[0]
                count = rng.poisson(mean * _share(day, now))
                if category == DrugCategory.ANTIDIARRHOEAL:
                    count += round(_outbreak_boost(index, day, today, 14) * _share(day, now))
                for _ in range(count):
                    buyer = pick.choice(residents[township.pk])
                    feverish = category == DrugCategory.ANTIPYRETIC and pick.random() < 0.08
                    rows.append(
                        sources.SaleRow(
                            receipt=f"D{pharmacy.pk:03d}{day:%Y%m%d}{len(rows):03d}",
                            sold_at=_moment(pick, day, now),
                            buyer_name=buyer.name,
                            buyer_id_number=buyer.id_number,
                            buyer_phone=buyer.phone,
                            drug_category=category,
                            drug_name=pick.choice(DRUGS[category]),
                            quantity=pick.choice([1, 1, 1, 2]),
                            symptoms=SYMPTOMS_OF[category] if pick.random() < 0.7 else [],
                            temperature=Decimal("38.1") if feverish else None,
                        )
                    )
            if rows:
                # Most pharmacies report within the hour; some days a few hours late.
                late = timedelta(hours=3) if pick.random() < 0.1 else timedelta(minutes=30)
                reported = min(max(r.sold_at for r in rows) + late, now)
                total += sources.record_sales(clerk, pharmacy, rows, now=reported).created
    _follow_up_old_buyers(today)
    return total


def _follow_up_old_buyers(today: date) -> None:
    """Fever buyers older than two days have been followed up by their grid."""
    from fangyi.core.models import Duty, Task
    from fangyi.surveillance.models import PharmacySale

    old = PharmacySale.objects.filter(has_fever=True, day__lt=today - timedelta(days=2))
    from django.contrib.contenttypes.models import ContentType

    Task.objects.filter(
        duty=Duty.FOLLOW_UP_BUYER,
        content_type=ContentType.objects.get_for_model(PharmacySale),
        object_id__in=old.values("id"),
    ).update(status=Task.Status.DONE, done_at=timezone.now())


def clinic_visits(rng, pick, townships, today: date, now: datetime) -> int:
    centres = {
        o.region_id: o
        for o in Organisation.objects.filter(type=Organisation.Type.TOWNSHIP_HEALTH_CENTRE)
    }
    residents = _residents(townships)
    clinician = User.objects.filter(username="clinician").first()
    total = 0
    for index, township in enumerate(townships):
        centre = centres.get(township.pk)
        if centre is None or not residents[township.pk]:
            continue
        rows = []
        for n in range(RECORD_DAYS - 1, -1, -1):
            day = today - timedelta(days=n)
            level, amplitude, peak = SYNDROMIC[(Source.FEVER_CLINIC, "visits")]
            share = _share(day, now)
            count = rng.poisson(seasonal_mean(level, amplitude, peak, [day])[0] * share)
            diarrhoea = round(_outbreak_boost(index, day, today, 8) * share)
            for k in range(count + diarrhoea):
                outbreak_case = k >= count
                symptoms = (
                    [Symptom.DIARRHOEA, Symptom.FATIGUE]
                    if outbreak_case
                    else pick.choice(
                        [[Symptom.DRY_COUGH], [Symptom.SORE_THROAT, Symptom.DRY_COUGH], [], []]
                    )
                )
                temperature = Decimal(str(round(pick.uniform(37.3, 39.4), 1)))
                rows.append(
                    sources.VisitRow(
                        external_id=f"FV{centre.pk:03d}{day:%Y%m%d}{k:03d}",
                        person=pick.choice(residents[township.pk]),
                        visited_at=_moment(pick, day, now),
                        disposition=pick.choice(
                            [FeverClinicVisit.Disposition.HOME] * 6
                            + [FeverClinicVisit.Disposition.OBSERVATION]
                        ),
                        temperature=temperature,
                        symptoms=symptoms,
                        history_asked=True,
                        history="近14天无中高风险地区旅居史",
                        sample_taken=True,
                    )
                )
        total += sources.record_visits(clinician, centre, rows, now=now).created
    return total


def school_absences(rng, townships, today: date, now: datetime) -> int:
    schools = {o.region_id: o for o in Organisation.objects.filter(type=Organisation.Type.SCHOOL)}
    doctor = User.objects.filter(username="school_doctor").first()
    total = 0
    for index, township in enumerate(townships):
        school = schools.get(township.pk)
        if school is None:
            continue
        rows = []
        for n in range(RECORD_DAYS - 1, -1, -1):
            day = today - timedelta(days=n)
            # Schools report on school days, by mid-morning.
            if day.weekday() >= 5 or _share(day, now) < 0.4:
                continue
            for syndrome in (Syndrome.FEVER, Syndrome.RESPIRATORY, Syndrome.DIARRHOEA):
                level, amplitude, peak = SYNDROMIC[(Source.SCHOOL_ABSENCE, syndrome)]
                absent = rng.poisson(seasonal_mean(level, amplitude, peak, [day])[0])
                if syndrome == Syndrome.DIARRHOEA:
                    absent += _outbreak_boost(index, day, today, 24)
                rows.append(sources.AbsenceRow(day, syndrome, int(absent), enrolled=1200))
        total += sources.record_absences(doctor, school, rows, now=now)
    return total


def respond_to_earlier(pick: random.Random, epi: User, today: date) -> None:
    """The signals before yesterday were answered: the COVID-19 one followed to a confirmed
    event linked to the demo's cluster, the others dismissed after checking."""
    from fangyi.tracing.models import Cluster

    earlier = list(
        Signal.objects.primary()
        .filter(status=Signal.Status.RAISED, day__lt=today - timedelta(days=1))
        .order_by("day", "id")
    )
    cluster = Cluster.objects.order_by("id").first()
    for signal in earlier:
        confirm = cluster is not None and (signal.source, signal.topic) == (Source.CASES, "covid19")
        _answer(epi, signal, confirm=confirm, cluster=cluster)
        # Answered within hours of the alert, not now: move the times back.
        answered = signal.raised_at + timedelta(minutes=pick.randrange(15, 600))
        Signal.objects.filter(pk=signal.pk).update(verified_at=answered)
        tasks_of(signal, Duty.VERIFY_SIGNAL).update(done_at=answered)


def _answer(epi: User, signal: Signal, *, confirm: bool, cluster) -> None:
    if not confirm:
        signals.verify(
            epi,
            signal,
            suspected=False,
            notes="核对原始记录并电话联系报告单位。",
            reason="散发病例，无流行病学关联；数据波动。",
        )
        return
    signals.verify(
        epi, signal, suspected=True, notes="核对报告卡并电话联系报告单位，病例间有共同暴露史。"
    )
    signals.start_investigation(epi, signal, notes="派出现场流调小组。")
    signals.conclude(
        epi, signal, confirmed=True, notes="现场调查确认为聚集性疫情。", cluster=cluster
    )
