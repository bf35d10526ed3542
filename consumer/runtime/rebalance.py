"""Rebalance: what the loop does when partitions come and go.

    assigned    before any of their records is read: each partition gets a new epoch, the
                tracking book learns where its records start, and the ledger reads back
                what was reported past the committed offset (see ledger.py)
    revoked     their jobs are drained (see drain.py), then what is done is committed
    lost        their jobs are cancelled at once: another member owns them already and has
                read their ledger, so nothing is committed

Either way, nothing of a partition is kept once it is gone, unless it was assigned here
again meanwhile: a job of an earlier epoch that ends late writes nothing down.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable

from consumer.runtime.commit import OffsetTracker, TopicPartition
from consumer.runtime.drain import Jobs
from consumer.runtime.intake import Intake
from consumer.runtime.ledger import Assignment, Ledger, StatusLog, replay_point_in
from consumer.runtime.scheduler import Lane
from consumer.runtime.sink import Sink
from consumer.runtime.source import Offsets, Source
from consumer.runtime.tracking import TrackingFeed

log = logging.getLogger(__name__)

# How long a job cut off at the drain's deadline may take for Kafka to acknowledge what it
# reported (within the rebalance's own bound, drain_timeout_s + 30 s).
_REPORT_GRACE_S = 15.0

Committed = dict[TopicPartition, tuple[int, str | None]]


class Rebalance:
    def __init__(
        self,
        *,
        source: Callable[[], Source],
        sink: Sink,
        status_log: StatusLog,
        ledger: Ledger,
        jobs: Jobs,
        offsets: OffsetTracker,
        intake: Intake,
        tracking: TrackingFeed | None,
        drain_timeout_s: float,
        offsets_of: Callable[[set[TopicPartition]], Offsets],
    ) -> None:
        """`offsets_of`: what to commit for partitions leaving (the done prefix, metadata)."""
        self._source = source
        self._sink = sink
        self._status_log = status_log
        self._ledger = ledger
        self._jobs = jobs
        self._offsets = offsets
        self._intake = intake
        self._tracking = tracking
        self._drain_timeout_s = drain_timeout_s
        self._offsets_of = offsets_of
        self._epochs: dict[TopicPartition, int] = {}
        self._next_epoch = itertools.count()
        # Where each partition stood when assigned: its lag before any record is done.
        self._assigned_at: dict[TopicPartition, int] = {}
        self.closing = False
        """Set once the loop has ended: a revoke from then on (the consumer closing) has
        nothing to wait for, the shutdown drained already."""

    def epoch(self, partition: TopicPartition) -> int | None:
        return self._epochs.get(partition)

    def assigned_at(self, partition: TopicPartition) -> int:
        return self._assigned_at.get(partition, -1)

    def on_assign(self, committed: Committed) -> None:
        """In the poll thread; a TransientError raised here is retried by the source."""
        assigned = sorted(committed)
        for partition in assigned:
            self._epochs[partition] = next(self._next_epoch)
            # Fresh, even if a late revoke of an earlier epoch left something behind.
            self._offsets.forget(partition)
            self._intake.forget(partition)
        tracking = self._tracking
        if tracking is not None:
            for partition, (offset, _metadata) in committed.items():
                if tracking.owns(partition):
                    # None (no answer): restoring until the consumer reports the end.
                    end = self._source().end_offset(partition)
                    tracking.book.assigned(partition, offset, end)
            committed = {p: c for p, c in committed.items() if not tracking.owns(p)}
        assignments = {}
        for partition, (offset, metadata) in committed.items():
            status_partition = self._sink.status_partition_of(partition)
            replay = replay_point_in(metadata, status_partition)
            assignments[partition] = Assignment(offset, replay, status_partition)
            self._assigned_at[partition] = offset
        read = self._ledger.load(self._status_log, assignments)
        log.info(
            "partitions assigned",
            extra={"partitions": assigned, "ledger_records_read": read},
        )

    async def on_revoke(self, partitions: list[TopicPartition], lost: bool = False) -> Offsets:
        """Stop the partitions' work; return what to commit (nothing for lost ones)."""
        leaving = set(partitions)
        epochs = {p: self._epochs.get(p) for p in leaving}

        def theirs(lane: Lane) -> bool:
            return partition_of(lane) in leaving

        try:
            if lost:
                return {}  # their jobs are cancelled below, at once
            deadline = time.monotonic() + (0.0 if self.closing else self._drain_timeout_s)
            abandoned = await self._jobs.drain(theirs, deadline, _REPORT_GRACE_S)
            if abandoned:
                log.warning(
                    "revoke: abandoned in-flight events, read again by the next owner",
                    extra={"count": abandoned},
                )
            return self._offsets_of(leaving)  # a held tracking record keeps its offset here
        finally:
            # Also when the source gave up waiting and cancelled this.
            gone = {p for p in leaving if self._epochs.get(p) == epochs[p]}
            self._forget(gone, lost)

    def _forget(self, gone: set[TopicPartition], lost: bool) -> None:
        """Drop the partitions' state; cancel what still runs of them (all of it, if lost)."""
        abandoned = self._jobs.abandon(lambda lane: partition_of(lane) in gone)
        if abandoned:
            log.warning(
                "abandoned in-flight events: their next owner reads them again",
                extra={"count": abandoned, "lost": lost},
            )
        if self._tracking is not None:
            self._tracking.forget(gone)
        for partition in gone:
            self._epochs.pop(partition, None)
            self._offsets.forget(partition)
            self._intake.forget(partition)
            self._assigned_at.pop(partition, None)
        self._ledger.forget(gone)


def partition_of(lane: object) -> TopicPartition | None:
    """The partition of a job's lane: (topic, partition, key)."""
    if isinstance(lane, tuple) and len(lane) == 3:
        return (lane[0], lane[1])
    return None
