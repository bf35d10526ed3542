from __future__ import annotations

from datetime import datetime

import pytest

from consumer.io import GaveUp, MessageNotFound, MessageOutcome, MessageState, Refused
from consumer.io.models import MessageStatus, PaymentStatus, ReadStatus
from consumer.report import Outcome, Stage, StatusRecord
from consumer.report.status import LIFECYCLE_OUTCOMES
from consumer.track import Seen, Step, TrackingRecord, TrackingSchedule, judge
from tests.unit.track.records import INPUT, after, tracking_record

SCHEDULE = TrackingSchedule(horizon_s=7200.0, premium_horizon_s=86_400.0)

PROCESSED = MessageState(MessageStatus.PROCESSED)
UNREAD_NOT_PAID = MessageState(MessageStatus.PROCESSED, ReadStatus.UNREAD, PaymentStatus.NOT_PAID)


def check(
    tracked: TrackingRecord, answer: MessageOutcome | None, now: datetime | None = None
) -> Step:
    step = judge(tracked, answer, now or after(30), SCHEDULE)
    for status in step.statuses:
        assert (status.stage, status.outcome) in LIFECYCLE_OUTCOMES
    return step


def published(step: Step) -> list[tuple[Stage, Outcome]]:
    return [(status.stage, status.outcome) for status in step.statuses]


def test_an_accepted_answer_publishes_nothing_and_schedules_the_next_check() -> None:
    step = check(tracking_record(), MessageState(MessageStatus.ACCEPTED), now=after(30))

    assert step.statuses == []
    assert step.next is not None
    assert step.next.checks == 1
    assert step.next.next_check_at == after(120)
    assert step.next.seen == Seen()


def test_a_processed_standard_message_ends_tracking_with_one_record() -> None:
    now = after(120)

    step = check(tracking_record(checks=1), PROCESSED, now=now)

    assert step.next is None
    assert step.statuses == [
        StatusRecord(
            event_id="evt-1",
            event_type="payment.due",
            rule="payments",
            service="tari",
            stage=Stage.PROCESSING,
            outcome=Outcome.PROCESSED,
            io_message_id="01MSG",
            attempts=2,
            http_status=200,
            error=None,
            input=INPUT,
            at=now,
        )
    ]


@pytest.mark.parametrize(
    ("status", "outcome"),
    [(MessageStatus.REJECTED, Outcome.REJECTED), (MessageStatus.FAILED, Outcome.FAILED)],
)
def test_a_rejected_or_failed_message_ends_tracking_with_its_outcome(
    status: MessageStatus, outcome: Outcome
) -> None:
    step = check(tracking_record(advanced=True, pays=True), MessageState(status))

    assert published(step) == [(Stage.PROCESSING, outcome)]
    assert step.next is None


def test_a_throttled_answer_publishes_nothing_but_remembers_the_status() -> None:
    step = check(tracking_record(), MessageState(MessageStatus.THROTTLED))

    assert step.statuses == []
    assert step.next is not None
    assert step.next.seen.status is MessageStatus.THROTTLED


def test_a_processed_premium_message_with_payment_publishes_processed_and_goes_on() -> None:
    step = check(tracking_record(advanced=True, pays=True), UNREAD_NOT_PAID, now=after(30))

    assert published(step) == [(Stage.PROCESSING, Outcome.PROCESSED)]
    assert step.next is not None
    assert step.next.seen == Seen(status=MessageStatus.PROCESSED)
    assert step.next.next_check_at == after(120)


def test_read_is_published_once_then_never_again() -> None:
    first = check(tracking_record(advanced=True, pays=True), UNREAD_NOT_PAID)
    assert first.next is not None
    read = MessageState(MessageStatus.PROCESSED, ReadStatus.READ, PaymentStatus.NOT_PAID)

    second = check(first.next, read, now=after(120))
    assert second.next is not None
    third = check(second.next, read, now=after(600))

    assert published(second) == [(Stage.READING, Outcome.READ)]
    assert second.statuses[0].attempts == 2
    assert third.statuses == []
    assert third.next is not None
    assert third.next.checks == 3


def test_an_unavailable_read_status_publishes_read_unavailable() -> None:
    processed = tracking_record(advanced=True, seen=Seen(status=MessageStatus.PROCESSED), checks=1)

    step = check(processed, MessageState(MessageStatus.PROCESSED, ReadStatus.UNAVAILABLE))

    assert published(step) == [(Stage.READING, Outcome.READ_UNAVAILABLE)]
    assert step.next is None  # no payment data: reading was the last open stage


def test_paid_publishes_a_payment_record_and_leaves_reading_open() -> None:
    processed = tracking_record(advanced=True, pays=True, seen=Seen(status=MessageStatus.PROCESSED))
    paid = MessageState(MessageStatus.PROCESSED, ReadStatus.UNREAD, PaymentStatus.PAID)

    step = check(processed, paid)

    assert published(step) == [(Stage.PAYMENT, Outcome.PAID)]
    assert step.next is not None
    assert step.next.seen.payment_status is PaymentStatus.PAID


def test_processed_read_and_paid_in_one_answer_publish_three_records_and_end() -> None:
    everything = MessageState(MessageStatus.PROCESSED, ReadStatus.READ, PaymentStatus.PAID)

    step = check(tracking_record(advanced=True, pays=True), everything)

    assert published(step) == [
        (Stage.PROCESSING, Outcome.PROCESSED),
        (Stage.READING, Outcome.READ),
        (Stage.PAYMENT, Outcome.PAID),
    ]
    assert step.next is None


def test_a_premium_message_without_payment_data_never_publishes_paid() -> None:
    everything = MessageState(MessageStatus.PROCESSED, ReadStatus.UNREAD, PaymentStatus.PAID)

    step = check(tracking_record(advanced=True, pays=False), everything)

    assert published(step) == [(Stage.PROCESSING, Outcome.PROCESSED)]
    assert step.next is not None
    assert step.next.seen.payment_status is None


@pytest.mark.parametrize(
    "answer",
    [MessageNotFound(), GaveUp("timeout"), Refused(403, "forbidden")],
    ids=["not-found", "gave-up", "refused"],
)
def test_an_answer_without_a_state_changes_nothing_and_schedules_the_next_check(
    answer: MessageOutcome,
) -> None:
    tracked = tracking_record(checks=2, seen=Seen(status=MessageStatus.THROTTLED))

    step = check(tracked, answer, now=after(600))

    assert step.statuses == []
    assert step.next is not None
    assert step.next.seen == tracked.seen
    assert step.next.checks == 3
    assert step.next.next_check_at == after(3600)


def test_a_late_check_schedules_the_next_one_due_not_the_ones_it_missed() -> None:
    step = check(tracking_record(), MessageState(MessageStatus.ACCEPTED), now=after(500))

    assert step.next is not None
    assert step.next.next_check_at == after(600)  # not 120 s: that one is past


@pytest.mark.parametrize("late", [0, 1])
def test_at_the_horizon_an_unprocessed_message_expires(late: int) -> None:
    step = check(
        tracking_record(checks=4), MessageState(MessageStatus.ACCEPTED), now=after(7200 + late)
    )

    assert published(step) == [(Stage.PROCESSING, Outcome.EXPIRED_TRACKING)]
    error = step.statuses[0].error
    assert error is not None
    assert error.type == "tracking_horizon"
    assert error.detail == "after 5 checks IO still reported status ACCEPTED"
    assert step.statuses[0].http_status is None
    assert step.next is None


def test_at_the_horizon_every_open_premium_stage_expires() -> None:
    tracked = tracking_record(
        advanced=True, pays=True, checks=9, seen=Seen(status=MessageStatus.PROCESSED)
    )

    step = check(tracked, MessageNotFound(), now=after(86_400))

    assert published(step) == [
        (Stage.READING, Outcome.EXPIRED_TRACKING),
        (Stage.PAYMENT, Outcome.EXPIRED_TRACKING),
    ]
    for status in step.statuses:
        assert status.error is not None
        assert status.error.type == "tracking_horizon"
        assert status.error.detail == (
            "after 10 checks IO last answered 404 (message not found); it had reported "
            "status PROCESSED, read_status UNREAD, payment_status NOT_PAID"
        )
    assert step.next is None


@pytest.mark.parametrize(
    ("answer", "detail"),
    [
        (
            MessageNotFound(),
            "after 5 checks IO last answered 404 (message not found); "
            "it had reported status ACCEPTED",
        ),
        (
            GaveUp("IO answered 503, 6 attempts", 503, 6),
            "after 5 checks the last check got no answer "
            "(gave up: IO answered 503, 6 attempts); IO had reported status ACCEPTED",
        ),
        (
            Refused(403, "the service may not read this message"),
            "after 5 checks IO last refused the check "
            "(403: the service may not read this message); it had reported status ACCEPTED",
        ),
    ],
    ids=["not_found", "gave_up", "refused"],
)
def test_at_the_horizon_the_detail_says_what_the_last_check_got(
    answer: MessageOutcome, detail: str
) -> None:
    step = check(tracking_record(checks=4), answer, now=after(7200))

    assert published(step) == [(Stage.PROCESSING, Outcome.EXPIRED_TRACKING)]
    error = step.statuses[0].error
    assert error is not None
    assert error.type == "tracking_horizon"
    assert error.detail == detail
    assert "still reported" not in error.detail


def test_a_refusal_at_the_horizon_keeps_fiscal_codes_out_of_the_detail() -> None:
    refusal = Refused(403, "no message AAAAAA00A00A000A/01MSG for this service")

    step = check(tracking_record(checks=4), refusal, now=after(7200))

    error = step.statuses[0].error
    assert error is not None
    assert "AAAAAA00A00A000A" not in error.detail
    assert "AAA**********00A/01MSG" in error.detail


def test_a_change_seen_at_the_horizon_is_published_before_the_rest_expires() -> None:
    read = MessageState(MessageStatus.PROCESSED, ReadStatus.READ, PaymentStatus.NOT_PAID)
    tracked = tracking_record(advanced=True, pays=True, seen=Seen(status=MessageStatus.PROCESSED))

    step = check(tracked, read, now=after(86_400))

    assert published(step) == [
        (Stage.READING, Outcome.READ),
        (Stage.PAYMENT, Outcome.EXPIRED_TRACKING),
    ]
    assert step.next is None


def test_a_service_no_longer_configured_expires_tracking() -> None:
    step = check(tracking_record(), None, now=after(30))

    assert published(step) == [(Stage.PROCESSING, Outcome.EXPIRED_TRACKING)]
    error = step.statuses[0].error
    assert error is not None
    assert error.type == "service_gone"
    assert "'tari'" in error.detail
    assert step.next is None
