"""Records as the history holds them: parsed with their place, and put in the order printed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from consumer.history.records import Located, arranged, located, order_key
from consumer.report import InputPosition, Outcome, Stage, StatusRecord

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def status(
    event_id: str, stage: Stage, outcome: Outcome, minutes: float, notice: str | None = None
) -> StatusRecord:
    return StatusRecord(
        event_id=event_id,
        event_type="payment_notice.issued",
        rule="tari",
        service="tari",
        stage=stage,
        outcome=outcome,
        notice_number=notice,
        input=InputPosition(topic="in", partition=0, offset=1),
        at=T0 + timedelta(minutes=minutes),
    )


def at(record: StatusRecord, partition: int = 0, offset: int = 0) -> Located:
    return Located("status", partition, offset, record, record.model_dump_json())


def test_a_status_record_is_located_with_its_place_and_its_json_kept_whole() -> None:
    record = status("E1", Stage.DELIVERY, Outcome.SUBMITTED, 0, notice="302000000000000001")
    raw = record.model_dump_json()[:-1] + ', "added_later": 1}'

    found = located("status", 2, 40, raw.encode())

    assert found is not None
    assert (found.topic, found.partition, found.offset) == ("status", 2, 40)
    assert found.record == record
    assert found.raw == raw


def test_what_is_no_status_record_is_none() -> None:
    assert located("status", 0, 1, None) is None
    assert located("status", 0, 1, b"") is None
    assert located("status", 0, 1, b"\xff\xfe") is None
    assert located("status", 0, 1, b'{"event_id": "E1"}') is None
    assert located("status", 0, 1, b"not json") is None


def test_a_record_without_stage_is_a_delivery_record() -> None:
    record = status("E1", Stage.DELIVERY, Outcome.SUBMITTED, 0)
    old = record.model_dump_json(exclude={"stage", "notice_number"}).encode()

    found = located("status", 0, 0, old)

    assert found is not None
    assert found.record.stage is Stage.DELIVERY
    assert found.record.notice_number is None


def test_delivery_comes_before_lifecycle_even_when_written_later() -> None:
    processed = at(status("E1", Stage.PROCESSING, Outcome.PROCESSED, 1), offset=1)
    duplicate = at(status("E1", Stage.DELIVERY, Outcome.DUPLICATE, 5), offset=2)
    submitted = at(status("E1", Stage.DELIVERY, Outcome.SUBMITTED, 0), offset=0)

    ordered = sorted([processed, duplicate, submitted], key=order_key)

    assert [i.record.outcome for i in ordered] == [
        Outcome.SUBMITTED,
        Outcome.DUPLICATE,
        Outcome.PROCESSED,
    ]


def test_ties_in_time_follow_the_place() -> None:
    first = at(status("E1", Stage.READING, Outcome.READ, 3), partition=0, offset=9)
    second = at(status("E1", Stage.PAYMENT, Outcome.PAID, 3), partition=1, offset=2)

    assert sorted([second, first], key=order_key) == [first, second]


def test_events_are_grouped_the_earliest_first() -> None:
    late = [
        at(status("LATE", Stage.PROCESSING, Outcome.PROCESSED, 11), offset=5),
        at(status("LATE", Stage.DELIVERY, Outcome.SUBMITTED, 10), offset=4),
    ]
    early = [
        at(status("EARLY", Stage.PAYMENT, Outcome.PAID, 20), offset=6),
        at(status("EARLY", Stage.DELIVERY, Outcome.SUBMITTED, 1), offset=1),
    ]

    records = arranged([late[0], early[0], late[1], early[1]])

    assert [(r.event_id, r.outcome) for r in records] == [
        ("EARLY", Outcome.SUBMITTED),
        ("EARLY", Outcome.PAID),
        ("LATE", Outcome.SUBMITTED),
        ("LATE", Outcome.PROCESSED),
    ]
