"""Handle: the jobs the loop schedules, each from its start to its records' acknowledgement.

    an input record       process (decode, route, render, deliver), then report
    a tracking check      ask IO, then publish what changed and the next tracking record
    a dead letter         an unreadable tracking record, to the DLQ

The loop marks a record done when its job returns. A job cancelled while it reports (a
revoke, a shutdown) still waits for the acknowledgement of what it produced: a revoke
returns only once its partitions' records are written. A job cancelled while it processes
reports what it settled, an UNKNOWN for a submit cut off while out, and is not done: the
next reader of the record settles the rest.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from consumer.errors import DecodeError, InvalidEvent
from consumer.events import InputRecord
from consumer.report import Outcome, StatusRecord, dead_letter
from consumer.runtime.drain import Jobs
from consumer.runtime.ledger import Ledger
from consumer.runtime.observer import RuntimeObserver
from consumer.runtime.process import EventProcessor
from consumer.runtime.scheduler import Lane
from consumer.runtime.sink import Sink
from consumer.runtime.tracking import TrackingFeed
from consumer.runtime.window import WindowStats
from consumer.track import Held

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Handled:
    done: bool
    """Every rule settled and reported: the offset may be committed past."""
    stopped: bool
    """The job was cancelled: the loop re-raises once it has counted the record."""


class Handler:
    def __init__(
        self,
        *,
        processor: EventProcessor,
        sink: Sink,
        ledger: Ledger,
        jobs: Jobs,
        observer: RuntimeObserver,
        tracking: TrackingFeed | None,
    ) -> None:
        self._processor = processor
        self._sink = sink
        self._ledger = ledger
        self._jobs = jobs
        self._observer = observer
        self._tracking = tracking
        self.window = WindowStats()

    async def record(self, record: InputRecord, lane: Lane, current: Callable[[], bool]) -> Handled:
        """`current()`: whether the record's partition is still the assignment it came in
        (a job the revoke gave up on may end later, and must then write nothing down)."""
        partition = (record.topic, record.partition)

        def written(status_partition: int, status_offset: int) -> None:
            if current():
                self._ledger.written(partition, record.offset, status_partition, status_offset)

        prior = self._ledger.prior(record.topic, record.partition, record.offset)
        try:
            processed = await self._processor.process(record, prior, self._jobs.sending(lane))
        finally:
            self._jobs.finished(lane)
        dead = (
            dead_letter(record, processed.invalid, processed.sent()) if processed.invalid else None
        )
        # After a freeze, not a word until the group has said the partition is still ours:
        # lost meanwhile, the job is cancelled here, and the new owner reports the record.
        await self._jobs.cleared()
        if not current():
            # Lost or given up meanwhile: the new owner read its ledger without this job's
            # word, and reports the record itself. A record now would be a second one.
            for status in processed.statuses:
                log.warning(
                    "partition gone before the record was written: outcome left unrecorded",
                    extra={
                        "event_id": status.event_id,
                        "rule": status.rule,
                        "outcome": status.outcome.value,
                        "partition": record.partition,
                        "offset": record.offset,
                    },
                )
            return Handled(done=False, stopped=True)
        cancelled = await _finish(
            self._sink.report(
                (partition, record.offset),
                processed.statuses,
                dead,
                processed.tracking,
                written,
            )
        )
        self._measure_window(processed.statuses)
        self._log_handled(record, processed.statuses, processed.event_type, processed.invalid)
        return Handled(done=not processed.interrupted, stopped=processed.interrupted or cancelled)

    async def check(self, held: Held) -> None:
        """Ask IO; publish the changes, then the next tracking record."""
        assert self._tracking is not None
        try:
            record = held.record
            step = await self._tracking.check(record)
            await self._jobs.cleared()  # after a freeze, as for a record: not a word yet
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

    async def dead_letter(self, record: InputRecord, error: DecodeError) -> None:
        log.error(
            "unreadable tracking record: sent to the DLQ",
            extra={"partition": record.partition, "offset": record.offset, "reason": str(error)},
        )
        await self._sink.report(
            ((record.topic, record.partition), record.offset), [], dead_letter(record, error)
        )

    def _measure_window(self, statuses: list[StatusRecord]) -> None:
        acknowledged = datetime.now(UTC)
        for status in statuses:
            if status.outcome is Outcome.SUBMITTED:
                window_s = (acknowledged - status.at).total_seconds()
                self.window.add(window_s)
                self._observer.double_send_window(window_s)

    def _log_handled(
        self,
        record: InputRecord,
        statuses: list[StatusRecord],
        event_type: str | None,
        invalid: InvalidEvent | None,
    ) -> None:
        self._observer.handled(
            record.topic, event_type, statuses, invalid.stage if invalid else None
        )
        for status in statuses:
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


async def _finish(acknowledged: asyncio.Future[Any]) -> bool:
    """Wait for `acknowledged` even if this task is cancelled meanwhile; True if it was."""
    cancelled = False
    while True:
        try:
            await asyncio.shield(acknowledged)
            return cancelled
        except asyncio.CancelledError:
            if acknowledged.cancelled():
                raise
            cancelled = True
