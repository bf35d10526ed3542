"""The loop: poll → schedule → (process → report) → commit, with backpressure.

    poll        a batch from the source (in its own thread, so IO calls go on meanwhile)
    schedule    one job per record; same key in order, different keys side by side
    process     decode, route, render, deliver (see process.py)
    report      status and DLQ records, acknowledged by Kafka before the record is done
    commit      the contiguous done prefix of each partition, at an interval, on revoke and
                at shutdown, with the ledger's replay point in the metadata

When `max_in_flight` records are held, the loop waits for room before polling again, and
pauses the partitions if that lasts (see backpressure.py). A record that arrives for a
paused partition is rewound, not held.

With tracking on, the same loop reads the tracking topic (see tracking.py): its records wait
in the book, not in the scheduler, until their check is due; a full book pauses the tracking
partitions only.

Every `probe_interval_s` the broker is asked for the owned partitions' watermarks (see
probe.py), for the lag metric and readiness.

After the process was frozen, submits wait until the group has said whether their
partitions are still this replica's (see freeze.py).

Partitions come and go as rebalance.py says; revoke, loss and shutdown stop jobs as
drain.py says: at once, except a submit whose request
is out, which gets its answer until the deadline and is reported UNKNOWN past it. A
shutdown drains once, by `shutdown_timeout_s`, before it commits and closes: the revoke
that closing the consumer calls finds nothing left to wait for.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from consumer.errors import DecodeError, FatalError
from consumer.events import InputRecord
from consumer.runtime.backpressure import Backpressure
from consumer.runtime.commit import CommitPolicy, OffsetTracker, TopicPartition
from consumer.runtime.drain import Jobs
from consumer.runtime.freeze import FreezeGuard
from consumer.runtime.handle import Handler
from consumer.runtime.intake import Intake
from consumer.runtime.ledger import (
    DEFAULT_LOOKBACK,
    Ledger,
    StatusLog,
    commit_metadata,
)
from consumer.runtime.observer import NoRuntimeObserver, RuntimeObserver
from consumer.runtime.probe import BrokerProbe
from consumer.runtime.process import EventProcessor
from consumer.runtime.rebalance import Committed, Rebalance
from consumer.runtime.scheduler import Lane
from consumer.runtime.sink import Sink
from consumer.runtime.source import Offsets, Source
from consumer.runtime.tracking import TrackingFeed
from consumer.track import Held

log = logging.getLogger(__name__)

_POLL_TIMEOUT_S = 0.25
"""How long a poll waits for the first record. A record is handed over as soon as it comes
(see KafkaSource._fetch): this is only how often an idle loop turns, for a stop, the commit
interval and due tracking checks. 0.1 s cost ten thread hand-offs a second, idle. (0.5 s
made the paced latency of bench.delivery_throughput jump to a p50 of 1.3 s, for a reason
not found yet: measure before raising it.)"""
# A shutdown: submits are cut off this long before its deadline, for their reports.
_SHUTDOWN_REPORT_GRACE_S = 2.0
_STATE_EVERY_S = 0.25


@dataclass(frozen=True, slots=True)
class StopWhen:
    """When the loop ends by itself: on a stop signal, or after being idle (a burst run)."""

    idle_for_s: float | None = None


@dataclass(frozen=True, slots=True)
class RelayLimits:
    max_in_flight: int = 256
    drain_timeout_s: float = 20.0
    shutdown_timeout_s: float = 30.0
    ledger_lookback: int = DEFAULT_LOOKBACK
    session_timeout_s: float = 45.0
    """The group's (session.timeout.ms): a freeze this long has cost the membership."""


@dataclass(frozen=True, slots=True)
class RelayHealth:
    """What readiness is judged on."""

    assigned: int
    broker_reachable: bool | None
    """None until the first probe."""
    stopping: bool
    fault: str | None


class Relay:
    def __init__(
        self,
        *,
        processor: EventProcessor,
        sink: Sink,
        status_log: StatusLog,
        commit_policy: CommitPolicy,
        limits: RelayLimits | None = None,
        observer: RuntimeObserver | None = None,
        probe_interval_s: float = 10.0,
        tracking: TrackingFeed | None = None,
        on_shutdown: Callable[[], None] | None = None,
    ) -> None:
        """`on_shutdown`: told when the shutdown starts, whatever started it (the watchdog)."""
        self._tracking = tracking
        self._on_shutdown = on_shutdown
        self._sink = sink
        self._status_log = status_log
        self._commit_policy = commit_policy
        self._limits = limits or RelayLimits()
        self._offsets = OffsetTracker()
        self._ledger = Ledger(self._limits.ledger_lookback)
        self._freeze = FreezeGuard(session_timeout_s=self._limits.session_timeout_s)
        self._freeze_watch: asyncio.Task[None] | None = None
        self._jobs = Jobs(self._limits.max_in_flight, self._freeze.clearance)
        self._scheduler = self._jobs.scheduler
        self._backpressure = Backpressure(self._scheduler, self._limits.max_in_flight, tracking)
        self._handler = Handler(
            processor=processor,
            sink=sink,
            ledger=self._ledger,
            jobs=self._jobs,
            observer=observer or NoRuntimeObserver(),
            tracking=tracking,
        )
        self._stopping = asyncio.Event()
        self._stop_deadline: float | None = None
        self._intake = Intake()
        self._state_reported_at = 0.0
        self._source: Source | None = None
        self._observer = observer or NoRuntimeObserver()
        self._probe = BrokerProbe(
            self._require_source,
            self._observer,
            probe_interval_s,
            self._position,
            self._is_tracking,
        )
        self._rebalance = Rebalance(
            source=self._require_source,
            sink=sink,
            status_log=status_log,
            ledger=self._ledger,
            jobs=self._jobs,
            offsets=self._offsets,
            intake=self._intake,
            tracking=tracking,
            drain_timeout_s=self._limits.drain_timeout_s,
            offsets_of=self._offsets_of,
        )

    @property
    def ledger(self) -> Ledger:
        return self._ledger

    def health(self) -> RelayHealth:
        failure = self._scheduler.failure
        return RelayHealth(
            assigned=len(self._source.assigned) if self._source else 0,
            broker_reachable=self._probe.reachable(),
            stopping=self._stopping.is_set(),
            fault=str(failure) if isinstance(failure, FatalError) else None,
        )

    def attach(self, source: Source) -> None:
        """Give the loop its source; separate because the source calls back into the relay."""
        self._source = source

    def stop(self) -> None:
        """Stop fetching; finish (or, past the deadline, abandon) in-flight work; commit.

        The deadline runs from now, also for a revoke draining at this moment."""
        if self._stop_deadline is None:
            self._stop_deadline = time.monotonic() + self._limits.shutdown_timeout_s
            self._jobs.cap(self._stop_deadline - _SHUTDOWN_REPORT_GRACE_S, _SHUTDOWN_REPORT_GRACE_S)
        self._stopping.set()

    async def run(self, until: StopWhen | None = None) -> None:
        source = self._require_source()
        until = until or StopWhen()
        await self._sink.start()
        await source.start()
        self._freeze_watch = asyncio.create_task(self._freeze.watch())
        last_record_at = time.monotonic()
        try:
            while not self._stopping.is_set():
                if self._scheduler.failure is not None:
                    raise self._scheduler.failure
                room = self._limits.max_in_flight - self._scheduler.held
                # Full and not paused: no poll, the backpressure step below waits for room.
                # Paused: poll on (nothing comes), so the group keeps hearing from us.
                polling = room > 0 or bool(source.paused)
                records = await source.poll(_POLL_TIMEOUT_S, room) if polling else []
                self._intake.next_batch()
                for record in records:
                    await self._take(record)
                if self._tracking is not None:
                    for partition in source.take_ends():
                        self._tracking.book.caught_up(partition)
                self._start_due_checks()
                # Stalled: the quiet starts again at the resume.
                if records or self._backpressure.stalled:
                    last_record_at = time.monotonic()
                elif self._idle_long_enough(until, last_record_at):
                    log.info("idle: stopping", extra={"idle_for_s": until.idle_for_s})
                    break
                await self._backpressure.apply(source)
                self._report_state()
                self._probe.maybe_start()
                if self._commit_policy.due():
                    await self._commit(self._committable())
                    self._commit_policy.committed()
        finally:
            await self._shut_down()

    # -- rebalance hooks (see rebalance.py) ----------------------------------------------

    def on_assign(self, committed: Committed) -> None:
        self._freeze.group_spoke()
        self._rebalance.on_assign(committed)

    async def on_revoke(self, partitions: list[TopicPartition], lost: bool = False) -> Offsets:
        self._freeze.group_spoke()
        return await self._rebalance.on_revoke(partitions, lost)

    # -- the steps ------------------------------------------------------------------------

    async def _take(self, record: InputRecord) -> None:
        """Schedule the record, unless it is not new (see intake.py) or its partition is
        held: then it is rewound, to be handed over again."""
        partition = (record.topic, record.partition)
        source = self._require_source()
        if self._is_tracking(partition):
            self._take_tracking(record)
            return
        if partition not in source.assigned or not self._intake.is_new(record):
            return  # revoked since it was fetched (the next owner reads it), or seen
        if not source.takes(partition) or self._scheduler.full:
            await source.rewind(record)
            self._intake.rewound(record)
            return
        self._intake.taken(record)
        self._offsets.started(partition, record.offset)
        lane = (record.topic, record.partition, record.key if record.key else record.offset)
        job = partial(self._handle, record, lane, self._rebalance.epoch(partition))
        self._scheduler.submit(lane, job)

    def _take_tracking(self, record: InputRecord) -> None:
        """Into the book, paused or not, full or not: a tracking record is never rewound (a
        rewind to an offset compaction removed meanwhile would wait for it forever), and
        what was fetched before a pause is bounded by the fetch queue. A record that is no
        tracking record goes to the DLQ."""
        assert self._tracking is not None
        partition = (record.topic, record.partition)
        source = self._require_source()
        if partition not in source.assigned or not self._intake.is_new(record):
            return  # revoked since it was fetched (the next owner reads it), or seen
        self._intake.taken(record)
        self._offsets.started(partition, record.offset)
        try:
            done = self._tracking.read(record)
        except DecodeError as error:
            lane = (record.topic, record.partition, record.offset)
            self._scheduler.submit(lane, partial(self._dead_letter, record, error))
            return
        for position in done:
            self._offsets.done(*position)

    def _start_due_checks(self) -> None:
        if self._tracking is None:
            return
        for held in self._tracking.due():
            lane = (held.partition[0], held.partition[1], held.key)
            self._scheduler.submit(lane, partial(self._check, held))

    async def _check(self, held: Held) -> None:
        await self._handler.check(held)
        self._offsets.done(held.partition, held.offset)

    async def _dead_letter(self, record: InputRecord, error: DecodeError) -> None:
        await self._handler.dead_letter(record, error)
        self._offsets.done((record.topic, record.partition), record.offset)

    async def _handle(self, record: InputRecord, lane: Lane, epoch: int | None) -> None:
        partition = (record.topic, record.partition)

        def current() -> bool:
            return self._rebalance.epoch(partition) == epoch

        handled = await self._handler.record(record, lane, current)
        if handled.done and current():
            self._offsets.done(partition, record.offset)
        if handled.stopped:
            raise asyncio.CancelledError

    def _report_state(self) -> None:
        """At most every `_STATE_EVERY_S`: a scrape every few seconds needs no more."""
        now = time.monotonic()
        if now - self._state_reported_at < _STATE_EVERY_S:
            return
        self._state_reported_at = now
        source = self._require_source()
        assigned = source.assigned
        self._observer.loop_state(self._scheduler.held, len(assigned), len(source.paused))
        if self._tracking is not None:
            self._tracking.owning(sum(1 for p in assigned if self._tracking.owns(p)))
            self._observer.under_tracking(self._tracking.under_tracking)

    def _is_tracking(self, partition: TopicPartition) -> bool:
        return self._tracking is not None and self._tracking.owns(partition)

    def _position(self, partition: TopicPartition) -> int:
        """Where the done prefix stands (before any record is done: where it was assigned)."""
        position = self._offsets.position(partition)
        return position if position is not None else self._rebalance.assigned_at(partition)

    async def _commit(self, offsets: Offsets) -> None:
        """A commit refused (a rebalance, a broker away) is offered again at the next turn,
        not only once the partition moves again."""
        if offsets and not await self._require_source().commit_async(offsets):
            self._offsets.uncommitted(offsets)

    def _committable(self) -> Offsets:
        moved = self._offsets.committable()
        return {p: (offset, self._metadata(p, offset)) for p, offset in moved.items()}

    def _offsets_of(self, partitions: set[TopicPartition]) -> Offsets:
        found = {p: self._offsets.position(p) for p in partitions}
        return {p: (o, self._metadata(p, o)) for p, o in found.items() if o is not None}

    def _metadata(self, partition: TopicPartition, offset: int) -> str | None:
        if self._is_tracking(partition):
            return None  # no ledger behind a tracking partition: its records say it all
        return commit_metadata(self._ledger.replay_point(partition, offset))

    def _idle_long_enough(self, until: StopWhen, last_record_at: float) -> bool:
        source = self._require_source()
        quiet_since = max(last_record_at, source.assignment_changed_at)
        return (
            until.idle_for_s is not None
            and bool(source.assigned)
            # A full tracking book may pause too, but what it holds is not due: still idle.
            and not self._backpressure.stalled
            and self._scheduler.held == 0
            and time.monotonic() - quiet_since >= until.idle_for_s
            and (self._tracking is None or self._tracking.nothing_due_within(until.idle_for_s))
        )

    async def _shut_down(self) -> None:
        """One drain, by `shutdown_timeout_s`; then commit, close the consumer (its revoke
        finds nothing to wait for) and flush the producer in what time is left."""
        source = self._require_source()
        if self._on_shutdown is not None:
            self._on_shutdown()
        if self._stop_deadline is None:  # not stopped by a signal: idle, or a fault
            self._stop_deadline = time.monotonic() + self._limits.shutdown_timeout_s
        deadline = self._stop_deadline
        await self._probe.stop()
        if self._freeze_watch is not None:
            self._freeze_watch.cancel()
        grace_s = _SHUTDOWN_REPORT_GRACE_S
        abandoned = await self._jobs.drain(lambda _lane: True, deadline - grace_s, grace_s)
        if abandoned:
            log.warning(
                "shutdown: abandoned in-flight events, read again by the next owner",
                extra={"count": abandoned},
            )
        self._rebalance.closing = True
        try:
            await self._commit(self._offsets_of(set(source.assigned)))
            await source.close()
        finally:
            await self._sink.close(max(1.0, deadline - time.monotonic()))
        window = self._handler.window
        if window.count:
            log.info("double-send window", extra=window.summary())
        failure = self._scheduler.failure
        if isinstance(failure, FatalError):
            raise failure

    def _require_source(self) -> Source:
        if self._source is None:
            raise RuntimeError("Relay.attach(source) must be called before run()")
        return self._source
