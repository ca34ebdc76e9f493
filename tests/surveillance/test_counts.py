"""Daily counts from the other modules' records: cases by the local day of diagnosis, lab
tubes by the day of collection; every refresh recomputes, so corrections reach the counts."""

from datetime import timedelta

import pytest
from django.utils import timezone

from fangyi.cases.models import CaseReport
from fangyi.core.deadlines import tasks_of
from fangyi.core.models import Duty
from fangyi.lab import services as lab
from fangyi.lab.models import Purpose
from fangyi.surveillance import counts, detection
from fangyi.surveillance.models import DailyCount, Signal, Source
from tests.builders import report_case

pytestmark = pytest.mark.django_db


def count(source, topic, region=None, day=None):
    rows = DailyCount.objects.filter(source=source, topic=topic, imported=False)
    if region is not None:
        rows = rows.filter(region=region)
    if day is not None:
        rows = rows.filter(day=day)
    return sum(rows.values_list("count", flat=True))


def test_reported_cards_count_in_the_patients_township_by_day_of_diagnosis(
    users, residents, clean_slate, today
):
    person, other = residents("grid_a1", 2)
    township = counts.township_of(person.grid)
    # Diagnosed now, not an hour ago: just after local midnight that is yesterday.
    report_case(users["clinician"], person, "influenza", diagnosed_at=timezone.now())
    report_case(users["clinician"], other, "influenza", submit=False)  # a draft: not reported
    counts.refresh(Source.CASES, [today])
    assert count(Source.CASES, "influenza", township, today) == 1


def test_a_deleted_card_leaves_the_counts_at_the_next_refresh(users, residents, clean_slate, today):
    person = residents("grid_a1", 1)[0]
    case = report_case(users["clinician"], person, "mumps")
    counts.refresh_recent(today)
    assert count(Source.CASES, "mumps") == 1
    CaseReport.objects.filter(pk=case.pk).update(status=CaseReport.Status.DELETED)
    counts.refresh_recent(today)
    assert count(Source.CASES, "mumps") == 0


def test_imported_history_survives_a_refresh(history, townships, today):
    history(Source.CASES, "mumps", townships[0], [3, 4], today)
    counts.refresh_recent(today)
    assert DailyCount.objects.filter(imported=True, topic="mumps").count() == 2


def test_a_reported_plague_case_raises_the_single_case_signal_within_the_hour(
    users, residents, clean_slate, today
):
    person = residents("grid_a1", 1)[0]
    report_case(users["clinician"], person, "plague", diagnosed_at=timezone.now())
    detection.run_if_due()  # the hourly job: single-case rules on today
    signal = Signal.objects.get(source=Source.CASES, topic="plague", day=today)
    assert signal.topic_label == "鼠疫" and signal.observed == 1
    task = tasks_of(signal, Duty.VERIFY_SIGNAL).get()
    assert task.due_at - task.started_at == timedelta(hours=2)


def test_lab_tubes_count_tested_and_positive_by_day_of_collection(
    users, residents, clean_slate, today
):
    people = residents("grid_a1", 3)
    collected_at = timezone.now()
    tubes = [
        lab.collect_sample(
            users["clinician"],
            barcode=f"SV{person.pk:08d}",
            purpose=Purpose.VOLUNTARY,
            persons=[person],
            pool_size=None,
            collected_at=collected_at,
        )
        for person in people
    ]
    rows = [
        lab.ResultRow(line=i + 1, barcode=t.barcode, result=r, result_at=timezone.now())
        for i, (t, r) in enumerate(zip(tubes, ["negative", "negative", "positive"], strict=True))
    ]
    lab.store_results(None, users["lab_staff"].organisation, rows)
    day = timezone.localdate(collected_at)
    counts.refresh(Source.LAB, [day])
    assert count(Source.LAB, "tested", day=day) == 3
    assert count(Source.LAB, "positive", day=day) == 1
