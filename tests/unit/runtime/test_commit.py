from consumer.runtime.commit import CommitPolicy, OffsetTracker

P0 = ("events", 0)
P1 = ("events", 1)


def test_only_the_contiguous_done_prefix_is_committable() -> None:
    tracker = OffsetTracker()
    for offset in (10, 11, 12, 13):
        tracker.started(P0, offset)

    tracker.done(P0, 11)
    tracker.done(P0, 13)
    assert tracker.committable() == {}

    tracker.done(P0, 10)
    assert tracker.committable() == {P0: 12}  # 10 and 11 done: the next to read is 12

    tracker.done(P0, 12)
    assert tracker.committable() == {P0: 14}
    assert tracker.committable() == {}  # nothing new since


def test_partitions_advance_independently() -> None:
    tracker = OffsetTracker()
    tracker.started(P0, 0)
    tracker.started(P1, 5)

    tracker.done(P1, 5)

    assert tracker.committable() == {P1: 6}


def test_forgotten_partition_ignores_late_completions() -> None:
    tracker = OffsetTracker()
    tracker.started(P0, 0)
    tracker.forget(P0)

    tracker.done(P0, 0)

    assert tracker.committable() == {}


def test_commit_policy_is_due_after_its_interval() -> None:
    now = [100.0]
    policy = CommitPolicy(interval_s=1.0, clock=lambda: now[0])

    assert not policy.due()
    now[0] = 101.0
    assert policy.due()
    policy.committed()
    assert not policy.due()
