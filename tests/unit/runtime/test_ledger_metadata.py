from consumer.runtime.commit import OffsetTracker
from consumer.runtime.ledger import commit_metadata, status_offset_in


def test_commit_metadata_round_trips_and_tolerates_garbage() -> None:
    assert status_offset_in(commit_metadata(42)) == 42
    assert commit_metadata(None) is None
    for garbage in (None, "", "not json", "[1]", '{"status_offset": -1}', '{"status_offset": "3"}'):
        assert status_offset_in(garbage) is None


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
