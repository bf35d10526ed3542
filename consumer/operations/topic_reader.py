"""Read a topic from a point in time up to where it ended when the reading began.

The operator tools read topics that keep growing while they look (the DLQ, the replay
ledger, the status topic). Reading "until the end" would never stop on a busy topic, so a
`Stretch` fixes its end when made: each partition's high watermark then. Its start is the
first offset at or after `since` (`offsets_for_times`); records whose timestamp is older,
wherever they lie (a producer's clock, a copy), are left out too. Nothing here joins a
group or commits.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime
from types import TracebackType
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from consumer.config import KafkaSettings
from consumer.errors import FatalError, TransientError
from consumer.events.input import InputRecord
from consumer.runtime.kafka_message import input_record
from consumer.runtime.librdkafka import helper_client_config, refusal_fault

Advance = Callable[[int], None]
"""Told how many more records were read."""
_TIMEOUT_S = 30.0
_STALL_S = 30.0
_BATCH = 500
_UNREACHABLE = frozenset(
    {KafkaError._TRANSPORT, KafkaError._TIMED_OUT, KafkaError._ALL_BROKERS_DOWN}
)


class Stretch:
    """Records of one topic, from `since` (its start without) to its ends when made; read
    it as often as needed, the same stretch each time."""

    def __init__(self, settings: KafkaSettings, topic: str, since: datetime | None = None):
        self.topic = topic
        self._since_ms = int(since.timestamp() * 1000) if since is not None else None
        config: dict[str, Any] = {
            **helper_client_config(settings),
            "group.id": "io-relay-operations",  # required by the client; never joined
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
            "error_cb": _raise_refusal,
            "log_level": 2,  # its own words on stderr only for the worst: a failure is said once
        }
        try:
            self._consumer = Consumer(config)
        except KafkaException as exc:  # kafka.client settings librdkafka refuses outright
            raise FatalError(f"kafka.client: {exc.args[0].str()}") from None
        try:
            self.bounds = self._bounds()
        except BaseException:
            self._consumer.close()
            raise

    @property
    def total(self) -> int:
        """Offsets in the stretch: the records, give or take markers and compacted gaps."""
        return sum(end - begin for begin, end in self.bounds.values())

    def read(self, advance: Advance | None = None) -> Iterator[InputRecord]:
        """Every record of the stretch, each partition in offset order."""
        yield from self._read(self.bounds, advance)

    def _read(
        self, bounds: dict[int, tuple[int, int]], advance: Advance | None = None
    ) -> Iterator[InputRecord]:
        pending = {p: end for p, (begin, end) in bounds.items() if begin < end}
        if not pending:
            return
        assignment = [TopicPartition(self.topic, p, bounds[p][0]) for p in pending]
        self._call(self._consumer.assign, assignment)
        self._call(self._consumer.resume, assignment)  # paused at the end of a read before
        quiet_since = time.monotonic()
        while pending:
            messages = self._call(self._consumer.consume, _BATCH, 1.0)
            read = 0
            for message in messages:
                record = self._record(message)
                end = pending.get(record.partition)
                if end is None or record.offset >= end:
                    continue
                read += 1
                if record.offset + 1 >= end:
                    self._finished(pending, record.partition)
                if self._in_time(record):
                    yield record
            if advance is not None and read:
                advance(read)
            if read:
                quiet_since = time.monotonic()
                continue
            self._drop_finished(pending)
            if pending and time.monotonic() - quiet_since > _STALL_S:
                raise TransientError(
                    f"reading {self.topic} stalled: nothing arrived for {_STALL_S:.0f} s "
                    f"(partitions {sorted(pending)} not read to their end)"
                )

    def read_one(self, partition: int, offset: int) -> InputRecord | None:
        """The record at `partition`/`offset` within the stretch; None when there is none
        (never written, gone with retention, or a transaction marker's offset)."""
        begin, end = self.bounds.get(partition, (0, 0))
        if not begin <= offset < end:
            return None
        for record in self._read({partition: (offset, end)}):
            return record if record.offset == offset else None
        return None

    def close(self) -> None:
        self._consumer.close()

    def __enter__(self) -> Stretch:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _in_time(self, record: InputRecord) -> bool:
        stamp = record.timestamp_ms
        return self._since_ms is None or stamp is None or stamp < 0 or stamp >= self._since_ms

    def _record(self, message: Message) -> InputRecord:
        error = message.error()
        if error is not None:
            raise _translated(error, self.topic)
        return input_record(message)

    def _drop_finished(self, pending: dict[int, int]) -> None:
        """Transaction markers and compacted gaps have offsets but no records: the position,
        not the last record read, says a partition is done."""
        partitions = [TopicPartition(self.topic, p) for p in list(pending)]
        for tp in self._call(self._consumer.position, partitions):
            if tp.offset >= pending[tp.partition]:
                self._finished(pending, tp.partition)

    def _finished(self, pending: dict[int, int], partition: int) -> None:
        """Read to its end: fetch no more of it (what was written since is not ours)."""
        del pending[partition]
        self._call(self._consumer.pause, [TopicPartition(self.topic, partition)])

    def _bounds(self) -> dict[int, tuple[int, int]]:
        metadata = self._call(self._consumer.list_topics, self.topic, _TIMEOUT_S)
        found = metadata.topics.get(self.topic)
        if found is None or found.error is not None:
            raise FatalError(f"topic {self.topic} does not exist (io-relay topics create makes it)")
        watermarks = {
            p: self._call(
                self._consumer.get_watermark_offsets,
                TopicPartition(self.topic, p),
                _TIMEOUT_S,
            )
            for p in sorted(found.partitions)
        }
        if self._since_ms is None:
            return {p: (low, high) for p, (low, high) in watermarks.items()}
        wanted = [TopicPartition(self.topic, p, self._since_ms) for p in watermarks]
        starts = self._call(self._consumer.offsets_for_times, wanted, _TIMEOUT_S)
        failed = [tp for tp in starts if tp.error is not None]
        if failed:
            raise _translated(failed[0].error, self.topic)
        # -1: no record at or after `since` in that partition.
        return {
            tp.partition: (tp.offset if tp.offset >= 0 else high, high)
            for tp in starts
            for high in (watermarks[tp.partition][1],)
        }

    def _call(self, function: Callable[..., Any], *arguments: Any) -> Any:
        try:
            return function(*arguments)
        except KafkaException as exc:
            raise _translated(exc.args[0], self.topic) from None


def read_topic(
    settings: KafkaSettings, topic: str, since: datetime | None = None
) -> Iterator[InputRecord]:
    """Every record of `topic` written at `since` or later (all of it without), up to each
    partition's end now."""
    with Stretch(settings, topic, since) as stretch:
        yield from stretch.read()


def read_record(
    settings: KafkaSettings, topic: str, partition: int, offset: int
) -> InputRecord | None:
    with Stretch(settings, topic) as stretch:
        return stretch.read_one(partition, offset)


def _translated(error: KafkaError, topic: str) -> FatalError | TransientError:
    refusal = refusal_fault(error)
    if refusal is not None:
        return refusal
    if error.code() in _UNREACHABLE:
        return FatalError(
            f"cannot reach the brokers: {error.str()}; check kafka.bootstrap_servers and the "
            "credentials under kafka.client"
        )
    return TransientError(f"cannot read {topic}: {error.str()}")


def _raise_refusal(error: KafkaError) -> None:
    """librdkafka's error callback: refused credentials or TLS stop the command at once
    instead of retrying until a timeout says less."""
    refusal = refusal_fault(error)
    if refusal is not None:
        raise refusal
