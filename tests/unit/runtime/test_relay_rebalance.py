"""The relay's revoke, loss and shutdown, against in-memory fakes (see fakes.py).

Timeouts here are hang guards, never measurements: a drain that waits when it should not
runs into a guard far shorter than its `drain_timeout_s`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import pytest

from consumer.report import Outcome
from consumer.runtime.commit import CommitPolicy, TopicPartition
from consumer.runtime.ledger import commit_metadata, replay_point_in
from consumer.runtime.relay import Relay, RelayLimits
from tests.unit.runtime.fakes import (
    RULE,
    TOPIC,
    FakeSink,
    FakeSource,
    MemoryStatusLog,
    record,
    status_of,
)
from tests.unit.runtime.scripted import Mode, ScriptedProcessor

GUARD_S = 5.0
P0: TopicPartition = (TOPIC, 0)
P1: TopicPartition = (TOPIC, 1)


@dataclass
class Rig:
    relay: Relay
    source: FakeSource
    sink: FakeSink
    log: MemoryStatusLog
    processor: ScriptedProcessor


def rig(
    *,
    drain_timeout_s: float = 30.0,
    shutdown_timeout_s: float = 0.2,
    max_in_flight: int = 16,
    ack_delay_s: float = 0.0,
    log: MemoryStatusLog | None = None,
) -> Rig:
    """A relay on fakes, committing at every turn of its loop."""
    log = log or MemoryStatusLog()
    sink = FakeSink(log, ack_delay_s=ack_delay_s)
    processor = ScriptedProcessor()
    relay = Relay(
        processor=processor,
        sink=sink,
        status_log=log,
        commit_policy=CommitPolicy(0.0),
        limits=RelayLimits(
            max_in_flight=max_in_flight,
            drain_timeout_s=drain_timeout_s,
            shutdown_timeout_s=shutdown_timeout_s,
        ),
    )
    source = FakeSource(relay.on_assign, relay.on_revoke)
    relay.attach(source)
    return Rig(relay, source, sink, log, processor)


@asynccontextmanager
async def running(r: Rig) -> AsyncIterator[None]:
    """The relay's loop in the background; stopped (and its shutdown awaited) on exit."""
    task = asyncio.create_task(r.relay.run())
    try:
        yield
    except BaseException:  # the test failed already: do not wait on a loop that may hang
        task.cancel()
        await asyncio.wait({task})
        raise
    r.relay.stop()
    async with asyncio.timeout(GUARD_S):
        await task


async def until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(GUARD_S):
        while True:
            if condition():
                return
            await asyncio.sleep(0.002)


async def entered(r: Rig, *positions: tuple[int, int]) -> None:
    async with asyncio.timeout(GUARD_S):
        for position in positions:
            await r.processor.scripts[position].entered.wait()


async def test_a_revoke_drops_queued_jobs_and_cancels_running_ones_with_no_submit_out() -> None:
    """Nothing of them reached IO, so nothing is lost by stopping them now: the group should
    not wait for work that can be redone by the next owner."""
    r = rig(drain_timeout_s=30.0)
    r.processor.script(0, 0, Mode.WAIT_BEFORE_SUBMIT)  # key a, running
    r.processor.script(0, 2, Mode.WAIT_BEFORE_SUBMIT)  # key b, running
    r.source.feed(record(0, 0, b"a"), record(0, 1, b"a"), record(0, 2, b"b"))  # 1 waits for 0
    async with running(r):
        await r.source.assign({P0: (0, None)})
        await entered(r, (0, 0), (0, 2))

        async with asyncio.timeout(GUARD_S):  # far below drain_timeout_s
            offsets = await r.source.revoke([P0])

        assert r.processor.scripts[(0, 0)].cancelled.is_set()
        assert r.processor.scripts[(0, 2)].cancelled.is_set()
    assert sorted(r.processor.calls) == [(0, 0), (0, 2)]  # the queued one never ran
    assert [r.sink.statuses_of(0, o) for o in (0, 1, 2)] == [[], [], []]
    assert {p: o for p, (o, _meta) in offsets.items()} == {P0: 0}
    assert all(offset == 0 for offset, _meta in r.source.commits_of(P0))


async def test_a_revoke_waits_for_a_submit_out_and_its_status_is_acknowledged_first() -> None:
    """IO may be creating the message: its answer, once written, keeps the next owner from
    sending it again, so the revoke returns only after the sink acknowledged it."""
    r = rig(drain_timeout_s=30.0, ack_delay_s=0.05)
    out = r.processor.script(0, 0, Mode.SUBMIT_OUT)
    r.source.feed(record(0, 0), record(0, 1))

    async def answer_once_revoking() -> None:
        await r.source.revoking.wait()
        out.release.set()

    async with running(r):
        await r.source.assign({P0: (0, None)})
        await entered(r, (0, 0))
        await until(lambda: bool(r.sink.statuses_of(0, 1)))
        answering = asyncio.create_task(answer_once_revoking())

        async with asyncio.timeout(GUARD_S):
            offsets = await r.source.revoke([P0])

        await answering
        # Acknowledged by the sink by the time the revoke returned.
        assert [s.outcome for s in r.sink.statuses_of(0, 0)] == [Outcome.SUBMITTED]
    assert not out.cancelled.is_set()
    assert offsets[P0][0] == 2  # past the answered submit
    assert r.source.commits_of(P0)[-1] == offsets[P0]
    assert r.source.revokes[0].via == "rebalance"


async def test_a_submit_out_at_the_drain_deadline_is_reported_unknown_and_not_committed_past() -> (
    None
):
    """Past the deadline the answer is given up, but never silently: UNKNOWN is never sent
    again, and the uncommitted offset makes the next owner find it."""
    r = rig(drain_timeout_s=0.2, ack_delay_s=0.05)
    out = r.processor.script(0, 0, Mode.SUBMIT_OUT)  # never answered
    r.source.feed(record(0, 0), record(0, 1))
    async with running(r):
        await r.source.assign({P0: (0, None)})
        await entered(r, (0, 0))
        await until(lambda: bool(r.sink.statuses_of(0, 1)))

        async with asyncio.timeout(GUARD_S):
            offsets = await r.source.revoke([P0])

        assert out.cancelled.is_set()
        [unknown] = r.sink.statuses_of(0, 0)  # acknowledged before the revoke returned
    assert unknown.outcome is Outcome.UNKNOWN
    assert unknown.error is not None
    assert unknown.error.type == "answer_abandoned"
    offset, metadata = offsets[P0]
    assert offset == 0
    assert all(o == 0 for o, _meta in r.source.commits_of(P0))

    # The next owner reads the UNKNOWN back, so it never sends that message again.
    heir = rig(log=r.log)
    heir.relay.on_assign({P0: (offset, metadata)})
    assert heir.relay.ledger.prior(TOPIC, 0, 0)[RULE].outcome is Outcome.UNKNOWN


async def test_lost_partitions_are_cancelled_at_once_and_nothing_is_committed_for_them() -> None:
    """Offset 0 is done and committed; then 1 has its submit out, 2 waits before its submit
    and 3 waits its turn behind 2: once lost, nothing of the partition is committed again."""
    r = rig(drain_timeout_s=30.0)
    out = r.processor.script(0, 1, Mode.SUBMIT_OUT)  # never answered
    before = r.processor.script(0, 2, Mode.WAIT_BEFORE_SUBMIT)
    r.source.feed(record(0, 0), record(0, 1), record(0, 2, b"k"), record(0, 3, b"k"))
    async with running(r):
        await r.source.assign({P0: (0, None), P1: (0, None)})
        await entered(r, (0, 1), (0, 2))
        await until(lambda: r.source.committed.get(P0, (0, None))[0] == 1)
        committed_before = r.source.commits_of(P0)

        async with asyncio.timeout(GUARD_S):  # far below drain_timeout_s
            offsets = await r.source.revoke([P0], lost=True)

        assert offsets == {}
        async with asyncio.timeout(GUARD_S):  # cancelled, not waited for
            await out.cancelled.wait()
            await before.cancelled.wait()
        # The loop goes on with the partition that stays, and commits it.
        r.source.feed(record(1, 0))
        await until(lambda: r.source.committed.get(P1, (0, None))[0] == 1)
    assert (0, 3) not in r.processor.calls
    # The submit cut off by the loss reports nothing: the new owner read its ledger without
    # this job's word, and an UNKNOWN now would be a second terminal record.
    assert r.sink.statuses_of(0, 1) == []
    assert [o for o, _meta in committed_before] == [1]
    assert r.source.commits_of(P0) == committed_before
    assert [c for c in r.source.commits if c.via == "revoke"] == []  # the loss commits nothing
    assert r.source.revokes[0].lost


async def test_a_revoke_leaves_the_jobs_of_partitions_that_stay_untouched() -> None:
    """Partition 1 goes with its submit out past the drain deadline: even the cancel at the
    deadline spares partition 0's submit out, its waiting job and its queued job."""
    r = rig(drain_timeout_s=0.2)
    staying_out = r.processor.script(0, 0, Mode.SUBMIT_OUT)
    staying_wait = r.processor.script(0, 1, Mode.WAIT_BEFORE_SUBMIT)
    leaving_out = r.processor.script(1, 1, Mode.SUBMIT_OUT)  # never answered
    r.source.feed(record(0, 0), record(0, 1, b"b"), record(0, 2, b"b"))
    r.source.feed(record(1, 0), record(1, 1))
    async with running(r):
        await r.source.assign({P0: (0, None), P1: (0, None)})
        await entered(r, (0, 0), (0, 1), (1, 1))
        await until(lambda: bool(r.sink.statuses_of(1, 0)))

        async with asyncio.timeout(GUARD_S):
            offsets = await r.source.revoke([P1])

        assert leaving_out.cancelled.is_set()
        assert {p: o for p, (o, _meta) in offsets.items()} == {P1: 1}
        assert not staying_out.cancelled.is_set()
        assert not staying_wait.cancelled.is_set()
        assert (0, 2) not in r.processor.calls  # still waiting its turn, not dropped
        staying_out.release.set()
        staying_wait.release.set()
        await until(lambda: r.source.committed.get(P0, (0, None))[0] == 3)
    assert [s.outcome for o in (0, 1, 2) for s in r.sink.statuses_of(0, o)] == [
        Outcome.SUBMITTED,
        Outcome.SUBMITTED,
        Outcome.SKIPPED,
    ]
    assert [s.outcome for s in r.sink.statuses_of(1, 1)] == [Outcome.UNKNOWN]
    assert r.source.commits_of(P0)[-1][0] == 3


async def test_shutdown_drains_once_by_its_timeout_and_the_close_revoke_does_not_wait_again() -> (
    None
):
    """A shutdown must end within its own budget: the revoke that closing the consumer calls
    must not start a second, drain_timeout_s-long wait."""
    r = rig(drain_timeout_s=3600.0, shutdown_timeout_s=0.5)
    out = r.processor.script(0, 0, Mode.SUBMIT_OUT)  # never answered
    stuck = r.processor.script(0, 1, Mode.WAIT_BEFORE_SUBMIT)  # never released
    r.source.feed(record(0, 0), record(0, 1), record(0, 2))
    task = asyncio.create_task(r.relay.run())
    await r.source.assign({P0: (0, None)})
    await entered(r, (0, 0), (0, 1))
    await until(lambda: bool(r.sink.statuses_of(0, 2)))

    r.relay.stop()
    async with asyncio.timeout(GUARD_S):  # far below drain_timeout_s
        await task

    assert out.cancelled.is_set()
    assert stuck.cancelled.is_set()
    assert [s.outcome for s in r.sink.statuses_of(0, 0)] == [Outcome.UNKNOWN]
    assert r.source.closed
    [revoke] = r.source.revokes
    assert revoke.via == "close"
    assert revoke.offsets[P0][0] == 0
    assert r.sink.closed_with is not None


async def test_shutdown_after_a_failed_job_is_bounded_by_its_timeout_and_raises_the_failure() -> (
    None
):
    """A bug in one job stops the loop loudly, and the shutdown that follows is as bounded as
    a requested one; the failed record is neither reported nor committed past."""
    r = rig(drain_timeout_s=3600.0, shutdown_timeout_s=0.5)
    out = r.processor.script(0, 0, Mode.SUBMIT_OUT)  # never answered
    r.source.feed(record(0, 0), record(0, 1))
    task = asyncio.create_task(r.relay.run())
    await r.source.assign({P0: (0, None)})
    await entered(r, (0, 0))
    r.processor.script(0, 2, Mode.RAISE)
    r.source.feed(record(0, 2))

    async with asyncio.timeout(GUARD_S):  # far below drain_timeout_s
        with pytest.raises(RuntimeError, match="a bug"):
            await task

    assert out.cancelled.is_set()
    assert [s.outcome for s in r.sink.statuses_of(0, 0)] == [Outcome.UNKNOWN]
    assert r.sink.statuses_of(0, 2) == []
    assert r.source.closed
    assert [c.offsets[P0][0] for c in r.source.commits if P0 in c.offsets][-1] == 0


async def test_a_record_past_the_rewind_point_is_taken_when_retention_deleted_that_point() -> None:
    """Offset 1 is rewound while the partition is paused, then deleted: waiting for it would
    hold the partition forever."""
    # Full for the loop's stall delay (about a second), the partition is paused.
    r = rig(max_in_flight=1)
    holding = r.processor.script(0, 0, Mode.WAIT_BEFORE_SUBMIT)
    r.source.feed(record(0, 0), record(0, 1), record(0, 2))
    async with running(r):
        await r.source.assign({P0: (0, None)})
        await entered(r, (0, 0))
        await until(lambda: P0 in r.source.paused)
        r.source.hand_over_while_paused(P0)  # offset 1, fetched before the pause
        await until(lambda: bool(r.source.rewinds))
        assert [x.offset for x in r.source.rewinds] == [1]

        r.source.delete_before(P0, 2)  # offset 1 is gone: the consumer resumes at 2
        holding.release.set()
        await until(lambda: r.source.committed.get(P0, (0, None))[0] == 3)
    assert r.processor.calls == [(0, 0), (0, 2)]
    assert [s.outcome for s in r.sink.statuses_of(0, 2)] == [Outcome.SKIPPED]


async def test_a_record_read_again_holds_the_replay_point_at_its_status_while_in_flight() -> None:
    """Offset 5 was reported SUBMITTED before (status offset 3) and is in flight again: a
    commit meanwhile must still point a later owner at that record."""
    log = MemoryStatusLog()
    for input_offset in (1, 2, 3):  # committed past: no one's business
        log.append(0, status_of(0, input_offset, Outcome.SUBMITTED).to_bytes())
    earlier = log.append(0, status_of(0, 5, Outcome.SUBMITTED).to_bytes())
    r = rig(log=log)
    again = r.processor.script(0, 5, Mode.WAIT_BEFORE_SUBMIT)
    r.source.feed(record(0, 4), record(0, 5))
    async with running(r):
        await r.source.assign({P0: (4, commit_metadata({0: earlier}))})
        await entered(r, (0, 5))
        await until(lambda: r.source.committed.get(P0, (0, None))[0] == 5)

        in_flight = replay_point_in(r.source.committed[P0][1], 0)
        assert in_flight is not None
        assert in_flight[0] <= earlier
        assert r.processor.priors[(0, 5)][RULE].outcome is Outcome.SUBMITTED
        assert r.sink.statuses_of(0, 4) != []  # 4's own record went past `earlier`

        again.release.set()
        await until(lambda: r.source.committed.get(P0, (0, None))[0] == 6)
    done = replay_point_in(r.source.committed[P0][1], 0)
    assert done is not None
    assert done[0] > earlier  # committed past 5: its records are no one's business now


async def test_records_of_a_held_partition_in_one_batch_are_all_read_again() -> None:
    """Stalled with room for two, the partition paused: two records fetched before the pause
    come in one batch. Both are rewound; both must be read once the partition resumes."""
    r = rig(max_in_flight=6)  # stalled until no more than 3 are held
    holding = [r.processor.script(0, o, Mode.WAIT_BEFORE_SUBMIT) for o in range(6)]
    r.source.feed(*(record(0, o) for o in range(8)))
    async with running(r):
        await r.source.assign({P0: (0, None)})
        await entered(r, *((0, o) for o in range(6)))
        await until(lambda: P0 in r.source.paused)
        for script in holding[:2]:
            script.release.set()
        await until(lambda: r.source.committed.get(P0, (0, None))[0] == 2)
        r.source.hand_over_while_paused(P0, 2)  # 4 held of 6: one poll, room for both
        await until(lambda: bool(r.source.rewinds))
        assert [x.offset for x in r.source.batches[-1]] == [6, 7]
        assert r.source.rewinds[0].offset == 6

        for script in holding[2:]:
            script.release.set()
        await until(lambda: r.source.committed.get(P0, (0, None))[0] == 8)
    assert sorted(r.processor.calls) == [(0, o) for o in range(8)]


async def test_a_revoke_waits_for_a_slow_acknowledgement_of_the_unknown_it_reported() -> None:
    """The broker takes longer than a moment to acknowledge the UNKNOWN of a submit cut off at
    the deadline: the revoke still returns only once it is written, or the next owner, reading
    the status log to its end, would not find it and would send the message again."""
    r = rig(drain_timeout_s=0.1, ack_delay_s=2.5)
    r.processor.script(0, 0, Mode.SUBMIT_OUT)  # never answered
    r.source.feed(record(0, 0))
    async with running(r):
        await r.source.assign({P0: (0, None)})
        await entered(r, (0, 0))

        async with asyncio.timeout(GUARD_S):
            offsets = await r.source.revoke([P0])

        [unknown] = r.sink.statuses_of(0, 0)
        assert unknown.outcome is Outcome.UNKNOWN
    heir = rig(log=r.log)
    heir.relay.on_assign({P0: offsets[P0]})
    assert heir.relay.ledger.prior(TOPIC, 0, 0)[RULE].outcome is Outcome.UNKNOWN


async def test_a_stop_during_a_revoke_brings_the_drain_deadline_forward() -> None:
    """SIGTERM while a revoke waits for a submit's answer: the shutdown's bound holds, not
    the revoke's and then the shutdown's own."""
    r = rig(drain_timeout_s=3600.0, shutdown_timeout_s=0.5)
    out = r.processor.script(0, 0, Mode.SUBMIT_OUT)  # never answered
    r.source.feed(record(0, 0))
    task = asyncio.create_task(r.relay.run())
    await r.source.assign({P0: (0, None)})
    await entered(r, (0, 0))
    revoking = asyncio.create_task(r.source.revoke([P0]))
    await r.source.revoking.wait()

    r.relay.stop()

    async with asyncio.timeout(GUARD_S):  # far below drain_timeout_s
        offsets = await revoking
        await task
    assert out.cancelled.is_set()
    assert [s.outcome for s in r.sink.statuses_of(0, 0)] == [Outcome.UNKNOWN]
    assert offsets[P0][0] == 0


async def test_a_submit_out_cannot_be_followed_by_another_once_its_job_is_being_stopped() -> None:
    """Two rules: the first submit is out when the revoke starts and is answered during it.
    The second rule's submit never goes out: the job reports the first and stops, and the
    next owner sends only the second (the first is a DUPLICATE there)."""
    r = rig(drain_timeout_s=30.0)
    out = r.processor.script(0, 0, Mode.SUBMIT_OUT, rules=2)
    r.source.feed(record(0, 0))
    async with running(r):
        await r.source.assign({P0: (0, None)})
        await entered(r, (0, 0))
        revoking = asyncio.create_task(r.source.revoke([P0]))
        await r.source.revoking.wait()
        out.release.set()

        async with asyncio.timeout(GUARD_S):
            offsets = await revoking

    assert out.submits == 1
    assert [s.outcome for s in r.sink.statuses_of(0, 0)] == [Outcome.SUBMITTED]
    assert offsets[P0][0] == 0  # not done: the second rule is the next owner's
