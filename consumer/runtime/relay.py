"""The loop: poll → schedule → (process → report) → commit, with backpressure.

    poll        a batch from the source (in its own thread, so IO calls go on meanwhile)
    schedule    one job per record; same key in order, different keys side by side
    process     decode, route, render, deliver (see process.py)
    report      status and DLQ records, acknowledged by Kafka before the record is done
    commit      the contiguous done prefix of each partition, at an interval, on revoke and
                at shutdown, with the ledger's replay point in the metadata

When `max_in_flight` records are held, the loop waits for one to finish before polling
again. Held for over a second (IO slow, throttled or down), the input partitions are
paused and polling goes on, so the group never sees a silent member; they resume when half
the room is free. A record that arrives for a paused partition is rewound, not held.

With tracking on, the same loop reads the tracking topic (see tracking.py): its records wait
in the book, not in the scheduler, until their check is due; a full book pauses the tracking
partitions only.

Every `probe_interval_s` the broker is asked for the owned partitions' watermarks: the lag
(high watermark minus the done prefix) and whether the broker answers at all, for metrics
and readiness. Tracking partitions have no lag figure: their records wait on purpose.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial

from consumer.errors import DecodeError, FatalError
from consumer.events import InputRecord
from consumer.report import Outcome, dead_letter
from consumer.runtime.commit import CommitPolicy, OffsetTracker, TopicPartition
from consumer.runtime.ledger import Ledger, commit_metadata, status_offset_in
from consumer.runtime.observer import NoRuntimeObserver, RuntimeObserver
from consumer.runtime.process import EventProcessor
from consumer.runtime.scheduler import KeyedScheduler
from consumer.runtime.sink import ReportSink
from consumer.runtime.source import KafkaSource, Offsets
from consumer.runtime.tracking import TrackingFeed
from consumer.track import Held

log = logging.getLogger(__name__)

_POLL_TIMEOUT_S = 0.1
_PROBE_TIMEOUT_S = 2.0
_STATE_EVERY_S = 0.25
# Full with no room for this long: pause the partitions and keep polling (the group must
# hear from us).
_PAUSE_AFTER_S = 1.0


@dataclass(frozen=True, slots=True)
class StopWhen:
    """When the loop ends by itself: on a stop signal, or after being idle (a burst run)."""

    idle_for_s: float | None = None


@dataclass(frozen=True, slots=True)
class RelayLimits:
    max_in_flight: int = 256
    drain_timeout_s: float = 20.0
    shutdown_timeout_s: float = 30.0


@dataclass(frozen=True, slots=True)
class RelayHealth:
    """What readiness is judged on."""

    assigned: int
    broker_reachable: bool | None
    """None until the first probe."""
    stopping: bool
    fault: str | None


@dataclass
class WindowStats:
    """Seconds from IO's 201 to the status record's acknowledgement (the last 10,000): a
    crash inside this window is the one way a message can be sent twice. Logged at
    shutdown; the histogram io_relay_double_send_window_seconds has it live."""

    count: int = 0
    recent: deque[float] = field(default_factory=lambda: deque(maxlen=10_000))

    def add(self, seconds: float) -> None:
        self.count += 1
        self.recent.append(max(0.0, seconds))

    def summary(self) -> dict[str, float]:
        ordered = sorted(self.recent)

        def at(share: float) -> float:
            return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000, 2)

        return {"count": self.count, "p50_ms": at(0.5), "p99_ms": at(0.99), "max_ms": at(1.0)}


class Relay:
    def __init__(
        self,
        *,
        processor: EventProcessor,
        sink: ReportSink,
        commit_policy: CommitPolicy,
        limits: RelayLimits | None = None,
        observer: RuntimeObserver | None = None,
        probe_interval_s: float = 10.0,
        tracking: TrackingFeed | None = None,
    ) -> None:
        self._processor = processor
        self._tracking = tracking
        # Paused because the loop is stalled (input partitions) or the book is full (tracking).
        self._stalled = False
        self._book_full = False
        self._sink = sink
        self._commit_policy = commit_policy
        self._limits = limits or RelayLimits()
        self._offsets = OffsetTracker()
        self._ledger = Ledger()
        self._scheduler = KeyedScheduler(self._limits.max_in_flight)
        self._stopping = asyncio.Event()
        self._progress = asyncio.Event()
        self._window = WindowStats()
        # The next offset each partition should hand over: older ones were handed over before.
        self._expected: dict[TopicPartition, int] = {}
        self._rewound_to: dict[TopicPartition, int] = {}
        self._state_reported_at = 0.0
        self._source: KafkaSource | None = None
        self._observer = observer or NoRuntimeObserver()
        self._probe_interval_s = probe_interval_s
        self._probed_at: float | None = None
        self._probe: asyncio.Task[None] | None = None
        self._broker_reachable: bool | None = None
        self._answered_at: float | None = None
        # Where each partition stood when assigned: its lag before any record is done.
        self._assigned_at_offset: dict[TopicPartition, int] = {}

    @property
    def ledger(self) -> Ledger:
        return self._ledger

    def health(self) -> RelayHealth:
        failure = self._scheduler.failure
        return RelayHealth(
            assigned=len(self._source.assigned) if self._source else 0,
            broker_reachable=self._broker_answers(),
            stopping=self._stopping.is_set(),
            fault=str(failure) if isinstance(failure, FatalError) else None,
        )

    def _broker_answers(self) -> bool | None:
        """As of the last probe, unless even that is overdue (a probe stuck is no answer)."""
        if self._broker_reachable is None or self._answered_at is None:
            return self._broker_reachable
        overdue = 2 * self._probe_interval_s + _PROBE_TIMEOUT_S
        return self._broker_reachable and time.monotonic() - self._answered_at <= overdue

    def attach(self, source: KafkaSource) -> None:
        """Give the loop its source; separate because the source calls back into the relay."""
        self._source = source

    def stop(self) -> None:
        """Stop fetching; finish (or, past the deadline, abandon) in-flight work; commit."""
        self._stopping.set()

    async def run(self, until: StopWhen | None = None) -> None:
        source = self._require_source()
        until = until or StopWhen()
        await self._sink.start()
        await source.start()
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
                for record in records:
                    await self._take(record)
                if self._tracking is not None:
                    for partition in source.take_ends():
                        self._tracking.book.caught_up(partition)
                self._start_due_checks()
                if records or self._stalled:  # stalled: the quiet starts again at resume
                    last_record_at = time.monotonic()
                elif self._idle_long_enough(until, last_record_at):
                    log.info("idle: stopping", extra={"idle_for_s": until.idle_for_s})
                    break
                await self._apply_backpressure()
                self._report_state()
                if self._probe_due():  # in the background: a silent broker takes seconds
                    self._probed_at = time.monotonic()
                    self._probe = asyncio.create_task(self._probe_broker(), name="broker-probe")
                if self._commit_policy.due():
                    await source.commit_async(self._committable())
                    self._commit_policy.committed()
        finally:
            await self._shut_down()

    # -- rebalance hooks ------------------------------------------------------------------

    def on_assign(self, committed: dict[TopicPartition, tuple[int, str | None]]) -> None:
        """Before any record of the new partitions is read: load what was already reported."""
        source = self._require_source()
        assigned = sorted(committed)
        tracking = self._tracking
        if tracking is not None:
            for partition, (offset, _metadata) in committed.items():
                if not tracking.owns(partition):
                    continue
                # None (no answer): restoring until the consumer reports the partition's end.
                tracking.book.assigned(partition, offset, source.end_offset(partition))
            committed = {p: c for p, c in committed.items() if not tracking.owns(p)}
        starts = {
            partition: (self._sink.status_partition_of(partition), status_offset_in(metadata))
            for partition, (_offset, metadata) in committed.items()
        }
        for partition, (offset, _metadata) in committed.items():
            self._assigned_at_offset[partition] = offset
        read = self._ledger.load(source.client_config, self._sink.status_topic, starts)
        log.info(
            "partitions assigned",
            extra={"partitions": assigned, "ledger_records_read": read},
        )

    async def on_revoke(self, partitions: list[TopicPartition]) -> Offsets:
        """Finish the partitions' work (abandon it past the deadline); return what to commit."""
        leaving = set(partitions)
        await self._wait_for(leaving, self._limits.drain_timeout_s)
        abandoned = await self._scheduler.cancel(lambda lane: _partition_of(lane) in leaving)
        if abandoned:
            log.warning("abandoned in-flight events", extra={"count": abandoned})
        offsets = self._offsets_of(leaving)  # a held tracking record keeps its offset here
        if self._tracking is not None:
            self._tracking.forget(leaving)
        for partition in leaving:
            self._offsets.forget(partition)
            self._sink.forget(partition)
            self._expected.pop(partition, None)
            self._rewound_to.pop(partition, None)
            self._assigned_at_offset.pop(partition, None)
        self._ledger.forget(leaving)
        return offsets

    async def _wait_for(self, partitions: set[TopicPartition], timeout_s: float) -> None:
        """Until no record of `partitions` is in flight, or the timeout."""
        deadline = time.monotonic() + timeout_s
        while any(self._working_on(p) for p in partitions):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self._progress.clear()
            with suppress(TimeoutError):
                async with asyncio.timeout(remaining):
                    await self._progress.wait()

    def _working_on(self, partition: TopicPartition) -> int:
        """Records of the partition being worked on (held tracking records wait, not work)."""
        held = self._tracking.book.held_in(partition) if self._tracking is not None else 0
        return self._offsets.in_flight(partition) - held

    # -- the steps ------------------------------------------------------------------------

    async def _take(self, record: InputRecord) -> None:
        """Schedule the record, unless it was handed over before or its partition is held.

        Each offset is scheduled once per assignment: librdkafka may hand records over again
        after a pause, and after a rewind only the record rewound to may come next.
        """
        partition = (record.topic, record.partition)
        source = self._require_source()
        if self._is_tracking(partition):
            self._take_tracking(record)
            return
        rewound_to = self._rewound_to.get(partition)
        if rewound_to is not None:
            if record.offset != rewound_to:
                return  # fetched before the rewind took effect: it will come again
            del self._rewound_to[partition]
        elif record.offset < self._expected.get(partition, record.offset):
            return
        if not source.takes(partition) or self._scheduler.full:
            await source.rewind(record)
            self._rewound_to[partition] = record.offset
            return
        self._expected[partition] = record.offset + 1
        self._offsets.started(partition, record.offset)
        lane = (record.topic, record.partition, record.key if record.key else record.offset)
        self._scheduler.submit(lane, lambda: self._handle(record))

    def _take_tracking(self, record: InputRecord) -> None:
        """Into the book, paused or not, full or not: a tracking record is never rewound (a
        rewind to an offset compaction removed meanwhile would wait for it forever), and
        what was fetched before a pause is bounded by the fetch queue. A record that is no
        tracking record goes to the DLQ."""
        assert self._tracking is not None
        partition = (record.topic, record.partition)
        source = self._require_source()
        if partition not in source.assigned:
            return  # revoked since it was fetched: the next owner reads it
        if record.offset < self._expected.get(partition, record.offset):
            return  # handed over again after a pause
        self._expected[partition] = record.offset + 1
        self._offsets.started(partition, record.offset)
        try:
            done = self._tracking.read(record)
        except DecodeError as error:
            lane = (record.topic, record.partition, record.offset)
            self._scheduler.submit(lane, partial(self._dead_letter, record, error))
            return
        for position in done:
            self._offsets.done(*position)

    async def _dead_letter(self, record: InputRecord, error: DecodeError) -> None:
        log.error(
            "unreadable tracking record: sent to the DLQ",
            extra={"partition": record.partition, "offset": record.offset, "reason": str(error)},
        )
        await self._sink.report(
            ((record.topic, record.partition), record.offset), [], dead_letter(record, error)
        )
        self._offsets.done((record.topic, record.partition), record.offset)
        self._progress.set()

    def _start_due_checks(self) -> None:
        if self._tracking is None:
            return
        for held in self._tracking.due():
            lane = (held.partition[0], held.partition[1], held.key)
            self._scheduler.submit(lane, partial(self._check, held))

    async def _check(self, held: Held) -> None:
        """Ask IO; publish the changes, then the next tracking record; then the old is done."""
        assert self._tracking is not None
        try:
            record = held.record
            step = await self._tracking.check(record)
            await self._sink.report_lifecycle(step.statuses, record.key(), step.next)
        finally:
            self._tracking.finished(held)
        self._observer.tracked(record, step.statuses)
        for status in step.statuses:
            log.info(
                "message lifecycle",
                extra={
                    "event_id": status.event_id,
                    "rule": status.rule,
                    "stage": status.stage.value,
                    "outcome": status.outcome.value,
                    "checks": status.attempts,
                },
            )
        self._offsets.done(held.partition, held.offset)
        self._progress.set()

    async def _handle(self, record: InputRecord) -> None:
        partition = (record.topic, record.partition)
        prior = self._ledger.prior(record.topic, record.partition, record.offset)
        processed = await self._processor.process(record, prior)
        dead = dead_letter(record, processed.invalid) if processed.invalid else None
        await self._sink.report(
            (partition, record.offset), processed.statuses, dead, processed.tracking
        )
        acknowledged = datetime.now(UTC)
        for status in processed.statuses:
            if status.outcome is Outcome.SUBMITTED:
                window_s = (acknowledged - status.at).total_seconds()
                self._window.add(window_s)
                self._observer.double_send_window(window_s)
        self._observer.handled(
            record.topic,
            processed.event_type,
            processed.statuses,
            processed.invalid.stage if processed.invalid else None,
        )
        for status in processed.statuses:
            # Most events of a busy topic are no one's business: SKIPPED only at DEBUG.
            log.log(
                logging.DEBUG if status.outcome is Outcome.SKIPPED else logging.INFO,
                "event handled",
                extra={
                    "event_id": status.event_id,
                    "rule": status.rule,
                    "outcome": status.outcome.value,
                    "attempts": status.attempts,
                },
            )
        self._offsets.done(partition, record.offset)
        self._progress.set()

    async def _apply_backpressure(self) -> None:
        """Full: wait for room without polling; no room for `_PAUSE_AFTER_S`, pause.

        Pausing is for stalls only: librdkafka drops a paused partition's fetched records,
        and the fetch after the resume costs about half a second (measured: pausing at
        every fill capped the relay at twice max_in_flight events a second).
        """
        source = self._require_source()
        if not self._scheduler.full:
            if self._stalled and self._scheduler.held <= self._limits.max_in_flight // 2:
                self._stalled = False
        elif not self._stalled and not await self._room_within(_PAUSE_AFTER_S):
            self._stalled = True
        held: set[TopicPartition] = set()
        if self._stalled:  # tracking records wait in the book, not in the scheduler
            held = {p for p in source.assigned if not self._is_tracking(p)}
        if self._tracking is not None:
            book = self._tracking.book
            if book.full:
                self._book_full = True
            elif len(book) <= book.capacity // 2:
                self._book_full = False
            if self._book_full:  # a partition being restored reads on: its restore must end
                held |= {
                    p for p in source.assigned if self._tracking.owns(p) and not book.restoring(p)
                }
        await source.pause_only(held)

    async def _room_within(self, timeout_s: float) -> bool:
        """Until a quarter of the room is free, or the timeout: polling for every single free
        slot would spend the loop on itself."""
        enough = self._limits.max_in_flight - max(1, self._limits.max_in_flight // 4)
        with suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await self._scheduler.wait_until_held_at_most(enough)
        return not self._scheduler.full

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

    def _probe_due(self) -> bool:
        """Checked every turn of the loop: the clock first, the assignment (a copy) last."""
        if self._probed_at is not None and (
            time.monotonic() - self._probed_at < self._probe_interval_s
        ):
            return False
        if self._probe is not None and not self._probe.done():
            return False
        return bool(self._require_source().assigned)

    def _is_tracking(self, partition: TopicPartition) -> bool:
        return self._tracking is not None and self._tracking.owns(partition)

    async def _probe_broker(self) -> None:
        """Lag per owned partition, from the broker's high watermarks; None: no answer."""
        source = self._require_source()
        # Every owned partition is asked (a replica may own tracking partitions only, and must
        # still know whether the broker answers); only input partitions have a lag.
        marks = await source.watermarks(set(source.assigned), _PROBE_TIMEOUT_S)
        if (marks is not None) != self._broker_reachable:
            if marks is None:
                log.warning("broker probe: no answer (readiness fails until it answers)")
            elif self._broker_reachable is not None:
                log.info("broker probe: answering again")
        self._broker_reachable = marks is not None
        if marks is not None:
            self._answered_at = time.monotonic()
        if marks is None:
            self._observer.broker_probed(None)
            return
        lag: dict[TopicPartition, int] = {}
        for partition, (low, high) in marks.items():
            if partition not in source.assigned or self._is_tracking(partition):
                continue  # revoked while the broker answered, or records waiting on purpose
            position = self._offsets.position(partition)
            if position is None:
                position = self._assigned_at_offset.get(partition, -1)
            lag[partition] = max(0, high - max(position, low))
        self._observer.broker_probed(lag)

    def _committable(self) -> Offsets:
        moved = self._offsets.committable()
        return {p: (offset, self._metadata(p, offset)) for p, offset in moved.items()}

    def _offsets_of(self, partitions: set[TopicPartition]) -> Offsets:
        found = {p: self._offsets.position(p) for p in partitions}
        return {p: (o, self._metadata(p, o)) for p, o in found.items() if o is not None}

    def _metadata(self, partition: TopicPartition, offset: int) -> str | None:
        if self._is_tracking(partition):
            return None  # no ledger behind a tracking partition: its records say it all
        start = self._sink.replay_from(partition, offset)
        return commit_metadata(start if start is not None else self._ledger.replay_start(partition))

    def _idle_long_enough(self, until: StopWhen, last_record_at: float) -> bool:
        source = self._require_source()
        quiet_since = max(last_record_at, source.assignment_changed_at)
        return (
            until.idle_for_s is not None
            and bool(source.assigned)
            and not self._stalled  # a full tracking book may pause: what it holds is not due
            and self._scheduler.held == 0
            and time.monotonic() - quiet_since >= until.idle_for_s
            and (self._tracking is None or self._tracking.nothing_due_within(until.idle_for_s))
        )

    async def _shut_down(self) -> None:
        source = self._require_source()
        if self._probe is not None:
            await self._probe
        finished = await self._scheduler.wait_idle(self._limits.shutdown_timeout_s)
        if not finished:
            abandoned = await self._scheduler.cancel()
            log.warning("shutdown deadline: abandoned in-flight events", extra={"count": abandoned})
        try:
            await source.commit_async(self._offsets_of(set(source.assigned)))
            await source.close()
        finally:
            await self._sink.close()
        if self._window.count:
            log.info("double-send window", extra=self._window.summary())
        failure = self._scheduler.failure
        if isinstance(failure, FatalError):
            raise failure

    def _require_source(self) -> KafkaSource:
        if self._source is None:
            raise RuntimeError("Relay.attach(source) must be called before run()")
        return self._source


def _partition_of(lane: object) -> TopicPartition | None:
    if isinstance(lane, tuple) and len(lane) == 3:
        return (lane[0], lane[1])
    return None
