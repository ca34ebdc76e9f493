"""The daily detector run: which series alarm, idempotent re-runs, merged repeats, the
duty epidemiologist's alert, task and SMS, single-case rules."""

from datetime import timedelta

import pytest

from fangyi.core.deadlines import tasks_of
from fangyi.core.models import Alert, Duty, Task
from fangyi.surveillance import detection
from fangyi.surveillance.models import (
    DetectorRule,
    DutyRoster,
    Method,
    Notification,
    RegionLevel,
    Signal,
    Source,
)

pytestmark = pytest.mark.django_db


def spike_history(history, noisy, townships, end, *, spikes):
    """60 days of fever-clinic fever counts ≈ 5/day per township; `spikes` maps
    (township index, days before end) → count."""
    for index, township in enumerate(townships):
        values = noisy(60)
        for (where, ago), count in spikes.items():
            if where == index:
                values[-1 - ago] = count
        history(Source.FEVER_CLINIC, "fever", township, values, end)


def township_signals(**filters):
    return Signal.objects.filter(
        source=Source.FEVER_CLINIC, rule__level=RegionLevel.TOWNSHIP, **filters
    )


def test_a_spike_in_one_township_raises_a_signal_there_only(history, noisy, townships, today):
    spike_history(history, noisy, townships, today, spikes={(0, 0): 40})
    run = detection.run_day(today)
    raised = township_signals(day=today)
    assert [s.region for s in raised] == [townships[0]]
    signal = raised.get()
    assert signal.method == Method.EARS_C2 and signal.observed == 40
    assert signal.threshold < 40 and signal.topic_label == "发热"
    assert run.new_signals >= 1 and run.alarms >= 1 and run.series >= len(townships)
    task = tasks_of(signal, Duty.VERIFY_SIGNAL).get()
    assert task.status == Task.Status.OPEN
    assert task.due_at - task.started_at == timedelta(hours=24)


def test_running_the_same_day_again_adds_nothing(history, noisy, townships, today):
    spike_history(history, noisy, townships, today, spikes={(0, 0): 40})
    detection.run_day(today)
    signals, tasks, alerts = Signal.objects.count(), Task.objects.count(), Alert.objects.count()
    run = detection.run_day(today)
    assert run.runs == 2 and run.new_signals == signals
    assert (Signal.objects.count(), Task.objects.count(), Alert.objects.count()) == (
        signals,
        tasks,
        alerts,
    )


def test_a_repeat_within_the_merge_window_is_merged_without_a_new_alert(
    history, noisy, townships, today
):
    spike_history(history, noisy, townships, today, spikes={(0, 1): 40, (0, 0): 45})
    detection.run_day(today - timedelta(days=1))
    first = township_signals().get()
    alerts = Alert.objects.count()
    detection.run_day(today)
    repeat = township_signals(day=today).get()
    first.refresh_from_db()
    assert repeat.merged_into == first
    assert first.repeat_count == 1 and first.last_repeat_day == today
    assert Alert.objects.count() == alerts
    assert not tasks_of(repeat).exists()


def test_a_repeat_after_a_dismissal_is_a_new_signal(history, noisy, townships, today, users):
    from fangyi.surveillance import signals

    spike_history(history, noisy, townships, today, spikes={(0, 1): 40, (0, 0): 45})
    detection.run_day(today - timedelta(days=1))
    first = township_signals().get()
    signals.verify(users["cdc_epi"], first, suspected=False, notes="已电话核实", reason="重复就诊")
    detection.run_day(today)
    again = township_signals(day=today).get()
    assert again.merged_into is None and tasks_of(again, Duty.VERIFY_SIGNAL).exists()


def test_the_duty_epidemiologist_is_alerted_and_texted(history, noisy, townships, today, users):
    epi = users["cdc_epi"]
    DutyRoster.objects.create(
        region=townships[0].parent, user=epi, start_date=today, end_date=today
    )
    spike_history(history, noisy, townships, today, spikes={(0, 0): 40})
    detection.run_day(today)
    signal = township_signals(day=today).get()
    assert signal.assigned_to == epi
    assert tasks_of(signal, Duty.VERIFY_SIGNAL).get().responsible_user == epi
    assert Alert.objects.filter(user=epi, message__contains=townships[0].name).exists()
    sms = Notification.objects.filter(user=epi).latest("sent_at")
    assert sms.status == Notification.Status.SENT and townships[0].name in sms.message


def test_a_failing_sms_gateway_is_recorded_and_the_signal_still_raised(
    history, noisy, townships, today, users, settings
):
    settings.FANGYI_NOTIFIER = "tests.surveillance.test_detection.BrokenGateway"
    DutyRoster.objects.create(
        region=townships[0], user=users["cdc_epi"], start_date=today, end_date=today
    )
    spike_history(history, noisy, townships, today, spikes={(0, 0): 40})
    detection.run_day(today)
    assert township_signals(day=today).exists()
    failed = Notification.objects.get(user=users["cdc_epi"])
    assert failed.status == Notification.Status.FAILED and "timeout" in failed.error


class BrokenGateway:
    channel = "sms"

    def deliver(self, user, message):
        raise TimeoutError("gateway timeout")


def test_a_single_plague_case_raises_a_two_hour_signal(history, townships, today):
    history(Source.CASES, "plague", townships[2], [1], today)
    detection.run_day(today)
    signal = Signal.objects.get(source=Source.CASES, topic="plague")
    assert signal.rule.single_case and signal.method == Method.FIXED_THRESHOLD
    assert signal.region == townships[2].parent  # CIDARS: county level
    task = tasks_of(signal, Duty.VERIFY_SIGNAL).get()
    assert task.due_at - task.started_at == timedelta(hours=2)


def test_the_moving_percentile_uses_the_disease_percentile(history, noisy, townships, today):
    # Scarlet fever is a P90 disease: 3 years and a month of history, ~2 cases a day.
    values = noisy(3 * 366 + 40, mean=2.0)
    values[-7:] = 8  # a week far above the same weeks of the three previous years
    history(Source.CASES, "scarlet_fever", townships[0], values, today)
    detection.run_day(today)
    signal = Signal.objects.get(source=Source.CASES, topic="scarlet_fever")
    rule = DetectorRule.objects.get(source=Source.CASES, topic="scarlet_fever")
    assert rule.params["percentile"] == 90 and signal.rule == rule
    assert signal.observed == 56 and 7 < signal.threshold < 56


def test_an_inactive_rule_watches_nothing(history, noisy, townships, today):
    DetectorRule.objects.filter(source=Source.FEVER_CLINIC).update(is_active=False)
    spike_history(history, noisy, townships, today, spikes={(0, 0): 40})
    detection.run_day(today)
    assert not Signal.objects.filter(source=Source.FEVER_CLINIC).exists()
