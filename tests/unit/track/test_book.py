from __future__ import annotations

from consumer.track import TrackingBook, TrackingRecord
from tests.unit.track.records import after as at
from tests.unit.track.records import tracking_record

P0 = ("tracking", 0)
P1 = ("tracking", 1)


def record(message_id: str, due_s: float) -> TrackingRecord:
    return tracking_record(message_id=message_id, next_check_at=at(due_s))


def hold(book: TrackingBook, offset: int, key: str, due_s: float, partition: str = "p0") -> None:
    settled = book.hold(P0 if partition == "p0" else P1, offset, key, record(key, due_s))
    assert settled == []


def test_a_held_record_is_popped_only_once_due() -> None:
    book = TrackingBook(capacity=10)
    hold(book, 5, "a", due_s=30)

    assert book.pop_due(at(29), limit=10) == []
    taken = book.pop_due(at(30), limit=10)

    assert [(held.partition, held.offset, held.record.message_id) for held in taken] == [
        (P0, 5, "a")
    ]
    assert len(book) == 0
    assert book.pop_due(at(60), limit=10) == []


def test_due_records_come_earliest_first_up_to_the_limit() -> None:
    book = TrackingBook(capacity=10)
    for offset, (key, due) in enumerate([("c", 90), ("a", 30), ("d", 999), ("b", 60)]):
        hold(book, offset, key, due_s=due)

    first = book.pop_due(at(100), limit=2)
    rest = book.pop_due(at(100), limit=2)

    assert [held.record.message_id for held in first] == ["a", "b"]
    assert [held.record.message_id for held in rest] == ["c"]
    assert len(book) == 1


def test_a_later_record_of_a_message_replaces_the_earlier_and_settles_its_offset() -> None:
    book = TrackingBook(capacity=10)
    hold(book, 3, "a", due_s=30)

    settled = book.hold(P0, 8, "a", record("a", 600))

    assert settled == [(P0, 3)]
    assert len(book) == 1
    assert book.held_in(P0) == 1
    assert book.pop_due(at(300), limit=10) == []  # the replaced record's due time is gone
    assert [held.offset for held in book.pop_due(at(600), limit=10)] == [8]


def test_a_tombstone_settles_the_earlier_offset_and_its_own() -> None:
    book = TrackingBook(capacity=10)
    hold(book, 3, "a", due_s=30)

    settled = book.hold(P0, 9, "a", None)

    assert settled == [(P0, 3), (P0, 9)]
    assert len(book) == 0
    assert book.held_in(P0) == 0
    assert book.pop_due(at(30), limit=10) == []


def test_a_tombstone_of_an_unknown_message_settles_only_itself() -> None:
    assert TrackingBook(capacity=10).hold(P0, 4, "nobody", None) == [(P0, 4)]


def test_a_successor_in_another_partition_settles_the_earlier_in_its_own() -> None:
    book = TrackingBook(capacity=10)
    hold(book, 3, "a", due_s=30)

    settled = book.hold(P1, 7, "a", record("a", 600))  # the topic gained partitions

    assert settled == [(P0, 3)]
    assert (book.held_in(P0), book.held_in(P1)) == (0, 1)


def test_held_in_counts_per_partition() -> None:
    book = TrackingBook(capacity=10)
    hold(book, 0, "a", due_s=30)
    hold(book, 1, "b", due_s=30)
    hold(book, 0, "c", due_s=99, partition="p1")

    book.pop_due(at(30), limit=1)

    assert (book.held_in(P0), book.held_in(P1)) == (1, 1)


def test_a_partition_being_restored_is_not_checked_until_read_to_its_end() -> None:
    book = TrackingBook(capacity=10)
    book.assigned(P0, committed=10, end=13)
    book.assigned(P1, committed=5, end=5)
    hold(book, 10, "a", due_s=30)
    hold(book, 5, "b", due_s=30, partition="p1")

    assert book.restoring(P0)
    assert not book.restoring(P1)
    assert [held.record.message_id for held in book.pop_due(at(60), limit=10)] == ["b"]

    hold(book, 11, "c", due_s=40)
    assert book.pop_due(at(60), limit=10) == []
    hold(book, 12, "d", due_s=50)  # end - 1: read to the end

    assert not book.restoring(P0)
    taken = book.pop_due(at(60), limit=10)
    assert [held.record.message_id for held in taken] == ["a", "c", "d"]


def test_a_partition_never_committed_restores_from_its_start() -> None:
    book = TrackingBook(capacity=10)
    book.assigned(P0, committed=-1001, end=2)
    book.assigned(P1, committed=-1001, end=0)

    assert book.restoring(P0)
    assert not book.restoring(P1)


def test_a_full_book_still_waits_for_the_restore() -> None:
    """The runtime never pauses a partition being restored: its restore ends by reading."""
    book = TrackingBook(capacity=2)
    book.assigned(P0, committed=0, end=100)
    hold(book, 0, "a", due_s=30)
    hold(book, 1, "b", due_s=40)
    assert book.full

    assert book.pop_due(at(60), limit=10) == []
    assert book.restoring(P0)


def test_the_end_of_the_partition_ends_its_restore_whatever_compaction_removed() -> None:
    book = TrackingBook(capacity=10)
    book.assigned(P0, committed=0, end=100)  # offsets 2..99 compacted away
    hold(book, 0, "a", due_s=30)
    hold(book, 1, "b", due_s=40)

    book.caught_up(P0)

    assert not book.restoring(P0)
    assert [held.key for held in book.pop_due(at(60), limit=10)] == ["a", "b"]


def test_a_record_read_but_not_held_ends_the_restore_at_the_last_offset() -> None:
    book = TrackingBook(capacity=10)
    book.assigned(P0, committed=0, end=10)
    hold(book, 0, "a", due_s=30)

    book.reached(P0, 9)  # the last record went to the DLQ

    assert [held.key for held in book.pop_due(at(60), limit=10)] == ["a"]


def test_forget_drops_the_partitions_records() -> None:
    book = TrackingBook(capacity=10)
    book.assigned(P1, committed=0, end=50)
    hold(book, 0, "a", due_s=30)
    hold(book, 0, "b", due_s=10, partition="p1")

    book.forget([P1])

    assert len(book) == 1
    assert book.held_in(P1) == 0
    assert not book.restoring(P1)
    assert book.next_due() == at(30)
    assert [held.record.message_id for held in book.pop_due(at(60), limit=10)] == ["a"]


def test_next_due_skips_replaced_and_taken_records() -> None:
    book = TrackingBook(capacity=10)
    assert book.next_due() is None
    hold(book, 0, "a", due_s=10)
    hold(book, 1, "b", due_s=20)
    book.hold(P0, 2, "a", record("a", 90))  # a's entry at 10 s is stale

    assert book.next_due() == at(20)
    book.pop_due(at(20), limit=10)
    assert book.next_due() == at(90)


def test_full_and_capacity_follow_what_is_held() -> None:
    book = TrackingBook(capacity=2)
    hold(book, 0, "a", due_s=10)
    assert (len(book), book.full, book.capacity) == (1, False, 2)

    hold(book, 1, "b", due_s=10)
    assert (len(book), book.full) == (2, True)

    book.pop_due(at(10), limit=1)
    assert (len(book), book.full) == (1, False)


def test_a_partition_whose_end_is_unknown_restores_until_the_consumer_reports_it() -> None:
    book = TrackingBook(capacity=10)
    book.assigned(P0, committed=0, end=None)  # the broker did not say, in time
    hold(book, 5_000_000, "a", due_s=30)
    assert book.pop_due(at(60), limit=10) == []

    book.caught_up(P0)

    assert [held.key for held in book.pop_due(at(60), limit=10)] == ["a"]
