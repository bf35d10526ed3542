"""The loop: source → process → report → commit, one event at a time.

Every offset is committed only after the status and DLQ records for it were acknowledged.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from consumer.events import InputRecord
from consumer.report import dead_letter
from consumer.runtime.commit import CommitPolicy, OffsetTracker
from consumer.runtime.commit import TopicPartition as Partition
from consumer.runtime.process import EventProcessor
from consumer.runtime.sink import ReportSink
from consumer.runtime.source import KafkaSource

log = logging.getLogger(__name__)

_POLL_TIMEOUT_S = 0.2
_FLUSH_TIMEOUT_S = 30.0


@dataclass(frozen=True, slots=True)
class StopWhen:
    """When the loop ends by itself: on a stop signal, or after being idle (a burst run)."""

    idle_for_s: float | None = None


class Relay:
    def __init__(
        self,
        *,
        processor: EventProcessor,
        sink: ReportSink,
        commit_policy: CommitPolicy,
    ) -> None:
        self._processor = processor
        self._sink = sink
        self._offsets = OffsetTracker()
        self._commit_policy = commit_policy
        self._source: KafkaSource | None = None
        self._stopping = asyncio.Event()

    def attach(self, source: KafkaSource) -> None:
        """Give the loop its source; separate because the source calls back `on_revoke`."""
        self._source = source

    def stop(self) -> None:
        """Ask the loop to finish the event in hand, commit and return."""
        self._stopping.set()

    def on_revoke(self, partitions: list[Partition]) -> None:
        """Commit what is done in the partitions leaving us, before another consumer takes them."""
        self._commit(force=True)
        for partition in partitions:
            self._offsets.forget(partition)

    async def run(self, until: StopWhen = StopWhen()) -> None:
        source = self._require_source()
        last_record_at = time.monotonic()
        try:
            while not self._stopping.is_set():
                record = source.poll(_POLL_TIMEOUT_S)
                if record is None:
                    if self._idle_long_enough(until, last_record_at):
                        log.info(
                            "idle for %.1fs with partitions assigned: stopping", until.idle_for_s
                        )
                        break
                    await asyncio.sleep(0)
                else:
                    await self._handle(record)
                    last_record_at = time.monotonic()
                if self._commit_policy.due():
                    self._commit()
        finally:
            self._commit(force=True)
            source.close()

    async def _handle(self, record: InputRecord) -> None:
        partition = (record.topic, record.partition)
        self._offsets.started(partition, record.offset)
        processed = await self._processor.process(record)
        for status in processed.statuses:
            self._sink.status(status)
            log.info(
                "event handled",
                extra={
                    "event_id": status.event_id,
                    "rule": status.rule,
                    "outcome": status.outcome.value,
                    "attempts": status.attempts,
                },
            )
        if processed.invalid is not None:
            self._sink.dead_letter(dead_letter(record, processed.invalid))
        self._sink.flush(_FLUSH_TIMEOUT_S)
        self._offsets.done(partition, record.offset)

    def _idle_long_enough(self, until: StopWhen, last_record_at: float) -> bool:
        source = self._require_source()
        quiet_since = max(last_record_at, source.assignment_changed_at)
        return (
            until.idle_for_s is not None
            and bool(source.assigned)
            and time.monotonic() - quiet_since >= until.idle_for_s
        )

    def _commit(self, *, force: bool = False) -> None:
        if force or self._commit_policy.due():
            self._require_source().commit(self._offsets.committable())
            self._commit_policy.committed()

    def _require_source(self) -> KafkaSource:
        if self._source is None:
            raise RuntimeError("Relay.attach(source) must be called before run()")
        return self._source
