"""The ledger's bookkeeping: what it reads back, and the replay point each commit stores."""

from __future__ import annotations

from collections.abc import Iterator

from consumer.report import InputPosition, Outcome, Stage, StatusRecord
from consumer.runtime.commit import OffsetTracker
from consumer.runtime.ledger import (
    Assignment,
    Ledger,
    commit_metadata,
    replay_point_in,
)

TOPIC = "events"
PARTITION = (TOPIC, 0)


class ListLog:
    """A status topic as lists of records, one per partition."""

    def __init__(self, partitions: int = 1, first: int = 0) -> None:
        self.records: dict[int, list[bytes]] = {p: [] for p in range(partitions)}
        self.first = first  # offsets below it were deleted by retention
        self.reads: list[tuple[int, int, int]] = []

    def append(self, status_partition: int, record: StatusRecord) -> int:
        self.records[status_partition].append(record.to_bytes())
        return len(self.records[status_partition]) - 1

    def span(self, partition: int) -> tuple[int, int]:
        return self.first, len(self.records[partition])

    def read(self, partition: int, begin: int, end: int) -> Iterator[tuple[int, bytes]]:
        self.reads.append((partition, begin, end))
        for offset in range(max(begin, self.first), end):
            yield offset, self.records[partition][offset]


def status(offset: int, outcome: Outcome = Outcome.SUBMITTED, rule: str = "r") -> StatusRecord:
    return StatusRecord(
        event_id=f"e{offset}",
        event_type="t",
        rule=rule,
        service="s",
        outcome=outcome,
        input=InputPosition(topic=TOPIC, partition=0, offset=offset),
    )


def test_metadata_names_its_status_partitions_and_reads_the_old_form() -> None:
    assert replay_point_in(commit_metadata({0: 42, 3: 7}), 5) == {0: 42, 3: 7}
    assert replay_point_in('{"status_offset": 42}', 5) == {5: 42}  # before it named them
    assert commit_metadata({}) is None
    garbage = (None, "", "not json", "[1]", '{"status_offset": -1}', '{"status": {"x": 1}}')
    for text in (*garbage, '{"status": {"1": "3"}}', '{"status": {"1": true}}'):
        assert replay_point_in(text, 0) is None, text


def test_an_event_read_again_and_still_in_flight_holds_the_replay_point_down() -> None:
    """Offsets 10..12 were handled and reported before a crash, none committed. After the
    restart 10 is in flight again (nothing new written for it) while 11 and 12 are done and
    write again; a commit at 10 must still point at 10's first record."""
    log = ListLog()
    first = log.append(0, status(10))
    log.append(0, status(11))
    log.append(0, status(12))
    ledger = Ledger()
    ledger.load(log, {PARTITION: Assignment(10, {0: first}, 0)})
    assert ledger.prior(TOPIC, 0, 10)["r"].outcome is Outcome.SUBMITTED

    ledger.written(PARTITION, 11, 0, log.append(0, status(11, Outcome.DUPLICATE)))
    ledger.written(PARTITION, 12, 0, log.append(0, status(12, Outcome.DUPLICATE)))

    assert ledger.replay_point(PARTITION, 10) == {0: first}
    # Committed past 10 and 11: what is below 12's first record is no one's business now.
    assert ledger.replay_point(PARTITION, 12) == {0: 2}
    assert ledger.prior(TOPIC, 0, 10) == {}


def test_with_nothing_pending_the_replay_point_is_the_end_of_what_was_written() -> None:
    log = ListLog()
    for offset in range(5):
        log.append(0, status(offset))
    ledger = Ledger()
    ledger.load(log, {PARTITION: Assignment(5, {0: 0}, 0)})

    assert ledger.replay_point(PARTITION, 5) == {0: 5}
    assert ledger.prior(TOPIC, 0, 4) == {}  # committed past: never read again, not kept


def test_records_below_the_committed_offset_and_lifecycle_records_are_not_kept() -> None:
    log = ListLog()
    log.append(0, status(1))
    processed = status(2).model_copy(
        update={"stage": Stage.PROCESSING, "outcome": Outcome.PROCESSED}
    )
    log.append(0, processed)
    log.append(0, status(3, Outcome.SKIPPED, rule="x"))
    ledger = Ledger()

    read = ledger.load(log, {PARTITION: Assignment(2, {0: 0}, 0)})

    assert read == 3
    assert ledger.prior(TOPIC, 0, 1) == {}
    assert ledger.prior(TOPIC, 0, 2) == {}
    assert set(ledger.prior(TOPIC, 0, 3)) == {"x"}
    assert ledger.replay_point(PARTITION, 2) == {0: 2}


def test_without_metadata_it_looks_back_a_bounded_stretch() -> None:
    log = ListLog()
    for offset in range(5_000):
        log.append(0, status(offset))
    ledger = Ledger(lookback=1_000)

    read = ledger.load(log, {PARTITION: Assignment(-1001, None, 0)})

    assert read == 1_000
    assert log.reads == [(0, 4_000, 5_000)]
    assert ledger.prior(TOPIC, 0, 3_999) == {}
    assert ledger.prior(TOPIC, 0, 4_000)["r"].event_id == "e4000"


def test_a_replay_point_deleted_by_retention_reads_from_the_first_record_kept() -> None:
    log = ListLog()
    for offset in range(10):
        log.append(0, status(offset))
    log.first = 6
    ledger = Ledger()

    read = ledger.load(log, {PARTITION: Assignment(3, {0: 2}, 0)})

    assert read == 4
    assert log.reads == [(0, 6, 10)]


def test_after_status_partitions_were_added_the_old_partition_is_still_read() -> None:
    """Input partition 0 wrote to status partition 0; after a change of the status topic it
    maps to status partition 2. Its commit names partition 0, so that one is read; new
    records go to 2, and the replay point names both until 0's events are committed past."""
    log = ListLog(partitions=3)
    old = log.append(0, status(7))
    ledger = Ledger()
    ledger.load(log, {PARTITION: Assignment(7, {0: old}, 2)})
    assert ledger.prior(TOPIC, 0, 7)["r"].event_id == "e7"
    log.append(2, status(1))  # another input partition's record, in 2 already
    # Nothing of this partition acknowledged in 2 yet, but a record may be on its way.
    assert ledger.replay_point(PARTITION, 7) == {0: old, 2: 0}

    ledger.written(PARTITION, 8, 2, log.append(2, status(8)))

    assert ledger.replay_point(PARTITION, 7) == {0: old, 2: 1}
    assert ledger.replay_point(PARTITION, 9) == {2: 2}


def test_an_event_with_records_in_two_status_partitions_keeps_both_in_the_replay_point() -> None:
    log = ListLog(partitions=2)
    ledger = Ledger()
    ledger.load(log, {PARTITION: Assignment(0, None, 1)})
    ledger.written(PARTITION, 0, 0, 5)
    ledger.written(PARTITION, 0, 1, 9)

    assert ledger.replay_point(PARTITION, 0) == {0: 5, 1: 9}


def test_in_flight_and_position_follow_the_records() -> None:
    tracker = OffsetTracker()
    partition = ("events", 0)
    for offset in (5, 6, 7):
        tracker.started(partition, offset)
    tracker.done(partition, 6)

    assert tracker.in_flight(partition) == 2
    assert tracker.position(partition) == 5
    tracker.done(partition, 5)
    assert tracker.position(partition) == 7
    assert tracker.in_flight(("events", 9)) == 0
    assert tracker.position(("events", 9)) is None


def test_a_failed_commit_is_offered_again() -> None:
    tracker = OffsetTracker()
    tracker.started(PARTITION, 0)
    tracker.done(PARTITION, 0)
    assert tracker.committable() == {PARTITION: 1}
    assert tracker.committable() == {}

    tracker.uncommitted([PARTITION, ("gone", 0)])

    assert tracker.committable() == {PARTITION: 1}
