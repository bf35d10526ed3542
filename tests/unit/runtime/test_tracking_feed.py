from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import cast

import pytest

from consumer.errors import DecodeError
from consumer.events import InputRecord
from consumer.io import IoClient, IoService, MessageOutcome
from consumer.report import Outcome, Stage
from consumer.runtime.tracking import TrackingFeed
from consumer.track import Tracker, TrackingBook, TrackingRecord, TrackingSchedule
from consumer.track.book import Position
from tests.unit.track import records

TOPIC = "io-relay.tracking"
FAR_PAST = datetime(2000, 1, 1, tzinfo=UTC)
FAR_FUTURE = datetime(2100, 1, 1, tzinfo=UTC)
NOW = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)


class NoClient:
    async def get_message(
        self, service: IoService, fiscal_code: str, message_id: str
    ) -> MessageOutcome:
        raise AssertionError("these tests make no check against IO")


PARTITION = (TOPIC, 0)


def tracking_record(message_id: str, due: datetime) -> TrackingRecord:
    return records.tracking_record(message_id=message_id, next_check_at=due)


def kafka_record(
    offset: int, key: bytes | None, value: bytes | None, partition: int = 0
) -> InputRecord:
    return InputRecord(topic=TOPIC, partition=partition, offset=offset, key=key, value=value)


def feed(max_checks: int = 10) -> TrackingFeed:
    tracker = Tracker(cast(IoClient, NoClient()), {}, TrackingSchedule(), clock=lambda: NOW)
    return TrackingFeed(TOPIC, tracker, TrackingBook(capacity=100), max_checks)


def read(
    tracking: TrackingFeed, offset: int, message_id: str, due: datetime = NOW
) -> list[Position]:
    value = tracking_record(message_id, due).to_bytes()
    return tracking.read(kafka_record(offset, message_id.encode(), value))


def test_a_record_without_a_key_is_no_tracking_record() -> None:
    value = tracking_record("a", NOW).to_bytes()

    with pytest.raises(DecodeError, match="key"):
        feed().read(kafka_record(0, None, value))


@pytest.mark.parametrize("value", [b"not json", b'{"message_id": "a"}', b"[]"])
def test_a_value_that_is_no_tracking_record_is_a_decode_error(value: bytes) -> None:
    tracking = feed()

    with pytest.raises(DecodeError, match="not a tracking record"):
        tracking.read(kafka_record(0, b"a", value))
    assert tracking.under_tracking == 0


def test_a_record_read_is_held_in_the_book_for_its_partition() -> None:
    tracking = feed()

    assert read(tracking, 4, "a") == []

    assert tracking.book.held_in((TOPIC, 0)) == 1
    assert tracking.under_tracking == 1
    assert tracking.owns((TOPIC, 3))
    assert not tracking.owns(("events", 0))


def test_a_tombstone_settles_the_held_record_and_itself() -> None:
    tracking = feed()
    read(tracking, 4, "a")

    settled = tracking.read(kafka_record(9, b"a", None))

    assert settled == [(PARTITION, 4), (PARTITION, 9)]
    assert tracking.under_tracking == 0
    assert tracking.due(NOW) == []


def test_due_checks_stay_within_max_checks() -> None:
    tracking = feed(max_checks=2)
    for offset, name in enumerate("abc"):
        read(tracking, offset, name)

    first = tracking.due(NOW)
    assert [held.record.message_id for held in first] == ["a", "b"]
    assert tracking.due(NOW) == []
    assert tracking.under_tracking == 3

    tracking.finished(first[0])
    second = tracking.due(NOW)

    assert [held.record.message_id for held in second] == ["c"]
    assert tracking.under_tracking == 2


def test_records_not_yet_due_are_not_handed_out() -> None:
    tracking = feed()
    read(tracking, 0, "a", due=NOW + timedelta(seconds=1))

    assert tracking.due(NOW) == []
    assert len(tracking.due(NOW + timedelta(seconds=1))) == 1


def test_forget_drops_the_partitions_held_records_and_checks() -> None:
    tracking = feed()
    read(tracking, 0, "a")
    tracking.read(kafka_record(0, b"b", tracking_record("b", NOW).to_bytes(), partition=1))
    tracking.read(kafka_record(1, b"c", tracking_record("c", NOW).to_bytes(), partition=1))
    checking = tracking.due(NOW)
    assert len(checking) == 3
    read(tracking, 1, "d", due=FAR_FUTURE)
    tracking.read(kafka_record(2, b"e", tracking_record("e", FAR_FUTURE).to_bytes(), partition=1))

    tracking.forget({(TOPIC, 1)})

    assert tracking.under_tracking == 2  # a (checking) and d (held), both on partition 0
    assert tracking.book.held_in((TOPIC, 1)) == 0


async def test_a_check_is_the_trackers_check() -> None:
    tracking = feed()
    read(tracking, 0, "a")
    (held,) = tracking.due(NOW)

    step = await tracking.check(held.record)  # the service is not configured: tracking ends

    assert [(s.stage, s.outcome) for s in step.statuses] == [
        (Stage.PROCESSING, Outcome.EXPIRED_TRACKING)
    ]
    assert step.next is None


def test_nothing_is_due_within_a_window_when_the_book_is_empty_or_due_later() -> None:
    tracking = feed()
    assert tracking.nothing_due_within(60.0)

    read(tracking, 0, "a", due=FAR_FUTURE)
    assert tracking.nothing_due_within(60.0)

    read(tracking, 1, "b", due=FAR_PAST)
    assert not tracking.nothing_due_within(60.0)


def test_a_check_in_progress_means_something_is_due() -> None:
    tracking = feed()
    read(tracking, 0, "a", due=FAR_PAST)
    (held,) = tracking.due(FAR_PAST)
    assert not tracking.nothing_due_within(60.0)

    tracking.finished(held)

    assert tracking.nothing_due_within(60.0)


def test_a_successor_read_back_replaces_the_held_record_and_settles_its_offset() -> None:
    tracking = feed()
    read(tracking, 0, "a")
    successor = tracking_record("a", FAR_FUTURE).model_copy(update={"checks": 1})

    settled = tracking.read(kafka_record(5, b"a", successor.to_bytes()))

    assert settled == [(PARTITION, 0)]
    assert tracking.under_tracking == 1
    assert tracking.book.next_due() == FAR_FUTURE


def test_the_book_keeps_the_bytes_as_read_not_a_parsed_copy() -> None:
    tracking = feed()
    value = tracking_record("a", NOW).to_bytes()

    tracking.read(kafka_record(0, b"a", value))
    (held,) = tracking.due(NOW)

    assert held.raw is value  # 0.5 KB held, where a parsed record costs 2.8 KB
    assert held.record == tracking_record("a", NOW)
