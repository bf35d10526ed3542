from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from consumer.io.models import MessageStatus, PaymentStatus, ReadStatus
from consumer.report import Stage
from consumer.track import Seen, TrackingRecord, TrackingSchedule
from consumer.track.schedule import open_stages
from tests.unit.track.records import SUBMITTED, after, tracking_record


def test_checks_fall_at_the_fixed_offsets_then_every_interval() -> None:
    schedule = TrackingSchedule(checks_after_s=(30.0, 120.0, 600.0, 3600.0), then_every_s=1800.0)

    due = [
        schedule.next_check(tracking_record(), after(now))
        for now in (0, 30, 120, 600, 3600, 5400, 7200)
    ]

    assert due == [after(s) for s in (30, 120, 600, 3600, 5400, 7200, 9000)]


def test_a_late_check_is_followed_by_the_next_one_due_not_by_the_missed_ones() -> None:
    schedule = TrackingSchedule(checks_after_s=(30.0, 120.0, 600.0, 3600.0), then_every_s=1800.0)

    due = [schedule.next_check(tracking_record(), after(now)) for now in (45, 3599, 10_000)]

    assert due == [after(120), after(3600), after(10_800)]


def test_no_check_falls_past_the_horizon_and_the_last_lands_on_it() -> None:
    schedule = TrackingSchedule(horizon_s=5000.0)

    due = [
        schedule.next_check(tracking_record(), after(now)) for now in (0, 30, 120, 600, 3600, 4999)
    ]

    assert due == [after(s) for s in (30, 120, 600, 3600, 5000, 5000)]


@pytest.mark.parametrize("status", [MessageStatus.ACCEPTED, MessageStatus.THROTTLED])
def test_horizon_while_processing_is_open_counts_from_the_submit(status: MessageStatus) -> None:
    schedule = TrackingSchedule(horizon_s=1000.0, premium_horizon_s=99_000.0)
    due_date = SUBMITTED + timedelta(days=10)

    horizon = schedule.horizon(
        tracking_record(seen=Seen(status=status), advanced=True, pays=True, due_date=due_date)
    )

    assert horizon == after(1000)


@pytest.mark.parametrize(
    ("due_date", "start"),
    [
        (SUBMITTED + timedelta(days=10), SUBMITTED + timedelta(days=10)),
        (SUBMITTED - timedelta(days=10), SUBMITTED),
        (None, SUBMITTED),
    ],
    ids=["due-date-later", "due-date-earlier", "no-due-date"],
)
def test_horizon_of_a_processed_premium_message_counts_from_the_later_of_submit_and_due_date(
    due_date: datetime | None, start: datetime
) -> None:
    schedule = TrackingSchedule(horizon_s=1000.0, premium_horizon_s=99_000.0)
    processed = Seen(status=MessageStatus.PROCESSED)

    horizon = schedule.horizon(
        tracking_record(seen=processed, advanced=True, pays=True, due_date=due_date)
    )

    assert horizon == start + timedelta(seconds=99_000)


def test_checks_of_a_processed_premium_message_go_on_past_the_processing_horizon() -> None:
    schedule = TrackingSchedule(
        checks_after_s=(30.0, 120.0, 600.0, 3600.0),
        then_every_s=3600.0,
        horizon_s=5000.0,
        premium_horizon_s=20_000.0,
    )
    processed = Seen(status=MessageStatus.PROCESSED)

    due = schedule.next_check(tracking_record(seen=processed, advanced=True), after(12_000))

    assert due == after(3600 + 3 * 3600)  # 14 400 s: past horizon_s, inside premium_horizon_s


P = MessageStatus.PROCESSED


@pytest.mark.parametrize(
    ("seen", "advanced", "pays", "expected"),
    [
        (Seen(status=MessageStatus.ACCEPTED), True, True, [Stage.PROCESSING]),
        (Seen(status=MessageStatus.THROTTLED), False, False, [Stage.PROCESSING]),
        (Seen(status=MessageStatus.REJECTED), True, True, []),
        (Seen(status=MessageStatus.FAILED), True, True, []),
        (Seen(status=P), False, True, []),
        (Seen(status=P), True, False, [Stage.READING]),
        (Seen(status=P, read_status=ReadStatus.UNREAD), True, False, [Stage.READING]),
        (Seen(status=P, read_status=ReadStatus.READ), True, False, []),
        (Seen(status=P, read_status=ReadStatus.UNAVAILABLE), True, False, []),
        (Seen(status=P), True, True, [Stage.READING, Stage.PAYMENT]),
        (
            Seen(status=P, read_status=ReadStatus.UNREAD, payment_status=PaymentStatus.NOT_PAID),
            True,
            True,
            [Stage.READING, Stage.PAYMENT],
        ),
        (Seen(status=P, read_status=ReadStatus.READ), True, True, [Stage.PAYMENT]),
        (Seen(status=P, read_status=ReadStatus.UNAVAILABLE), True, True, [Stage.PAYMENT]),
        (Seen(status=P, payment_status=PaymentStatus.PAID), True, True, [Stage.READING]),
        (
            Seen(status=P, read_status=ReadStatus.READ, payment_status=PaymentStatus.PAID),
            True,
            True,
            [],
        ),
    ],
)
def test_open_stages_are_those_io_has_not_settled(
    seen: Seen, advanced: bool, pays: bool, expected: list[Stage]
) -> None:
    assert open_stages(tracking_record(seen=seen, advanced=advanced, pays=pays)) == expected


# --- what the default schedule costs ---------------------------------------------------------


def _checks_until_settled(
    schedule: TrackingSchedule, record: TrackingRecord, settled_after_s: float | None = None
) -> int:
    """IO calls the schedule makes for `record`: until the horizon, or until the first check
    at or past `settled_after_s` (IO says PROCESSED then, and a standard message is done)."""
    now, checks = SUBMITTED, 0
    horizon = schedule.horizon(record)
    while now < horizon:
        now = schedule.next_check(record, now)
        checks += 1
        if settled_after_s is not None and now >= after(settled_after_s):
            break
    return checks


@pytest.mark.parametrize(("processed_after_s", "calls"), [(10, 1), (90, 2), (300, 3)])
def test_a_standard_message_costs_a_check_or_two_once_io_processes_it(
    processed_after_s: float, calls: int
) -> None:
    record = tracking_record()  # ACCEPTED: only processing is open

    assert _checks_until_settled(TrackingSchedule(), record, processed_after_s) == calls


def test_an_unread_unpaid_premium_message_costs_at_most_50_checks_over_its_horizon() -> None:
    """Due in 30 days, never read nor paid: followed for 60 days, backing off to every 2 days,
    with one check an hour after the due date."""
    due_date = SUBMITTED + timedelta(days=30)
    record = tracking_record(
        seen=Seen(status=MessageStatus.PROCESSED), advanced=True, pays=True, due_date=due_date
    )
    schedule = TrackingSchedule()
    seen_after_due = schedule.next_check(record, due_date)

    assert _checks_until_settled(schedule, record) == 37
    assert seen_after_due == due_date + timedelta(hours=1)


def test_no_check_after_the_due_date_once_the_payment_is_settled() -> None:
    due_date = SUBMITTED + timedelta(days=30)
    paid = Seen(status=MessageStatus.PROCESSED, payment_status=PaymentStatus.PAID)
    record = tracking_record(seen=paid, advanced=True, pays=True, due_date=due_date)

    assert schedule_next(record, due_date) == due_date + timedelta(days=1)


def schedule_next(record: TrackingRecord, now: datetime) -> datetime:
    return TrackingSchedule().next_check(record, now)
