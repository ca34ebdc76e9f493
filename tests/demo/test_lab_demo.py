"""The demo's sampling and testing (`fangyi.demo.lab`) on the session's demo county: built
inside the test's transaction and checked for what the lab pages and the demo users rely on."""

from collections import Counter
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from fangyi.cases.models import CaseReport
from fangyi.core.models import Alert, Duty, Task
from fangyi.demo.lab import build_lab
from fangyi.lab import services
from fangyi.lab.models import (
    Campaign,
    CollectionSite,
    Examinee,
    Purpose,
    Regimen,
    Result,
    ResultImport,
    Sample,
    ScreeningTarget,
)
from fangyi.measures.models import Category, Measure
from fangyi.people.models import Person

SEED = 11
Target = ScreeningTarget.Status


@pytest.fixture
def demo(users):
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    return build_lab(SEED, now=now), now


def test_screening_round_covers_ninety_five_percent_in_ten_in_one_tubes(demo, users):
    summary, now = demo
    campaign = Campaign.objects.get(name="云溪县第1轮全员核酸筛查")
    round_ = campaign.rounds.get()
    assert round_.end_date == timezone.localdate(now) - timedelta(days=1)
    assert round_.expected == Person.objects.filter(grid__isnull=False).count() == summary.expected

    statuses = Counter(round_.targets.values_list("status", flat=True))
    assert 0.94 <= statuses[Target.TESTED] / round_.expected <= 0.96
    assert statuses[Target.UNTESTED] > 0 and statuses[Target.EXEMPT] > 0
    assert not round_.targets.filter(status=Target.EXEMPT, exempt_reason="").exists()
    assert not round_.targets.filter(status=Target.TESTED, site__isnull=True).exists()

    tubes = Sample.objects.filter(round=round_)
    assert set(tubes.values_list("pool_size", flat=True)) == {10}
    members = Counter(Examinee.objects.filter(sample__round=round_).values_list("sample_id"))
    assert max(members.values()) <= 10 and len(members) == tubes.count() == summary.tubes
    # Each tested person is in exactly one tube, collected on one of the round's days.
    tested = set(round_.targets.filter(status=Target.TESTED).values_list("person_id", flat=True))
    examined = list(Examinee.objects.filter(sample__round=round_).values_list("person_id"))
    assert len(examined) == len(tested) and {p for (p,) in examined} == tested
    days = {timezone.localdate(t) for t in tubes.values_list("collected_at", flat=True)}
    assert days <= {round_.start_date, round_.end_date}

    # Every village's site serves its grids; the grid worker's list of untested persons.
    assert CollectionSite.objects.filter(campaign=campaign).count() == summary.sites > 0
    grid_worker = users["grid_a1"]
    coverage = services.coverage_by_grid(round_, grid_worker)
    assert [row.key for row in coverage] == [grid_worker.region_id]
    assert coverage[0].tested + coverage[0].exempt + coverage[0].untested == coverage[0].expected
    county = services.coverage_by_grid(round_, users["county_admin"])
    assert sum(row.tested for row in county) == statuses[Target.TESTED]


def test_positive_pools_put_members_under_control_and_a_retest_opens_a_case(demo):
    summary, _now = demo
    pools = Sample.objects.filter(purpose=Purpose.MASS_SCREENING, result=Result.POSITIVE)
    assert 3 <= pools.count() == summary.positive_pools <= 5
    members = Examinee.objects.filter(sample__in=pools)
    assert members.count() == 10 * pools.count()
    for member in members.select_related("person"):
        measure = member.person.measures.get(status__in=("planned", "active"))
        assert measure.category == Category.POOL_POSITIVE
    retest_duties = Task.objects.filter(duty=Duty.POOL_RETEST, object_id__in=members.values("pk"))
    assert retest_duties.count() == members.count()

    # The re-tested members: their duties done, their status from their own tube.
    retests = Sample.objects.filter(purpose=Purpose.POOL_RETEST)
    assert retests.count() == summary.retests >= 2
    assert retest_duties.filter(status=Task.Status.DONE).count() == retests.count()
    assert retest_duties.filter(status=Task.Status.OPEN).exists()
    settled = members.filter(retest__isnull=False)
    assert Counter(settled.values_list("status", flat=True)) == {
        Examinee.Status.NEGATIVE: retests.count() - 1,
        Examinee.Status.POSITIVE: 1,
    }
    assert members.filter(retest__isnull=True, status=Examinee.Status.POOL_POSITIVE).exists()
    positive = retests.get(result=Result.POSITIVE)
    case = CaseReport.objects.get(pk=positive.case_id)
    assert case.status == CaseReport.Status.DRAFT and case.disease.code == "covid19"
    assert case.person_id == positive.examinees.get().person_id
    assert summary.suspected_cases == 1

    # Two invalid tubes wait for their re-sampling.
    invalid = Sample.objects.filter(purpose=Purpose.MASS_SCREENING, result=Result.INVALID)
    assert invalid.count() == summary.invalid_tubes == 2
    assert Task.objects.filter(duty=Duty.RESAMPLE, object_id__in=invalid.values("pk")).count() == 2


def test_results_went_through_the_lab_files(demo, users):
    summary, _now = demo
    logs = ResultImport.objects.filter(lab=users["lab_staff"].organisation)
    assert logs.count() == summary.result_files >= 3
    assert set(logs.values_list("outcome", flat=True)) == {ResultImport.Outcome.SAVED}
    resulted = Sample.objects.filter(result__isnull=False)
    assert not resulted.filter(result_import__isnull=True).exists()
    assert sum(logs.values_list("stored", flat=True)) == resulted.count()


def test_fever_clinic_has_late_results_and_three_late_pending(demo):
    summary, now = demo
    fever = Sample.objects.filter(purpose=Purpose.FEVER_CLINIC)
    week_ago = timezone.localdate(now) - timedelta(days=6)
    assert fever.count() >= 15 * 6
    assert {timezone.localdate(s.collected_at) >= week_ago for s in fever} == {True}
    resulted = [s for s in fever if s.result]
    late = [s for s in resulted if s.is_late]
    assert 0 < len(late) < 0.3 * len(resulted)
    assert fever.late(now).count() == summary.pending_late == 3
    # The late tubes have their duties open and the lab was alerted.
    duties = Task.objects.filter(
        duty=Duty.RESULT_SAMPLE, object_id__in=fever.late(now).values("pk")
    )
    assert duties.filter(status=Task.Status.OPEN).count() == 3
    assert Alert.objects.filter(task__in=duties).count() == 3
    assert Sample.objects.filter(purpose=Purpose.OUTPATIENT, result=Result.NEGATIVE).exists()
    assert Sample.objects.filter(purpose=Purpose.INPATIENT, result=Result.NEGATIVE).exists()


def test_environmental_positive_alerts_on_the_market(demo):
    _summary, _now = demo
    swabs = Sample.objects.filter(purpose=Purpose.ENVIRONMENTAL).select_related("place")
    assert swabs.count() == 2 and all(s.place_id for s in swabs)
    positive = swabs.get(result=Result.POSITIVE)
    assert Alert.objects.filter(message__contains=positive.barcode).exists()


def test_medical_staff_regimen_has_overdue_and_tested_persons(demo, users):
    regimen = Regimen.objects.get(key_group__code="medical_staff")
    admin = users["county_admin"]
    staff = Person.objects.filter(key_groups=regimen.key_group).count()
    overdue = services.overdue(regimen, admin).count()
    assert 0 < overdue < staff
    for person in services.overdue(regimen, admin):
        assert person.last_tested < timezone.now() - timedelta(days=6)


def test_second_run_is_refused_and_same_seed_gives_same_tubes(users):
    now = timezone.now().replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)

    def tubes():
        rows = Examinee.objects.order_by("sample__barcode", "position")
        return list(rows.values_list("sample__barcode", "person_id", "sample__result"))

    drawn = []
    for _attempt in range(2):
        with transaction.atomic():
            build_lab(SEED, now=now)
            drawn.append(tubes())
            with pytest.raises(ValueError, match="already built"):
                build_lab(SEED, now=now)
            transaction.set_rollback(True)
    assert drawn[0] == drawn[1] and len(drawn[0]) > 2000
    assert not Measure.objects.filter(category=Category.POOL_POSITIVE).exists()
