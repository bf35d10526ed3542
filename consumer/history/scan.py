"""Without a database: an event's status records, read from a bounded stretch of the topic.

The stretch is fixed at the start: from `since` ago (`offsets_for_times` on every partition)
up to each partition's high watermark as it was then, so the scan ends even while io-relay
keeps writing. Records are picked by key (the event id) before anything is parsed.

A notice takes two passes over the same stretch: the first finds the events whose delivery
records carry the notice number, the second takes every record of those events; one pass
would miss the lifecycle records read, from another partition, before their delivery.
This is for a day or so of records: at scale the history database answers (`io-relay
history`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message
from confluent_kafka import TopicPartition as KafkaPartition

from consumer.config import KafkaSettings
from consumer.errors import FatalError, TransientError
from consumer.history.records import Located, arranged, located
from consumer.redact import mask
from consumer.report import StatusRecord
from consumer.runtime.source import helper_client_config, refusal_fault

Progress = Callable[[int, int], None]
"""Told (records read, records in the stretch) as the scan goes."""
_TIMEOUT_S = 10.0
_STALL_S = 30.0  # no record, no end of partition for this long: the broker went away
_BATCH = 500


@dataclass(frozen=True, slots=True)
class Raw:
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


def by_key(event_ids: Iterable[str]) -> Callable[[Raw], bool]:
    """Whether a record belongs to one of these events: its key is the (masked) event id."""
    keys = frozenset(mask(event_id).encode() for event_id in event_ids)
    return lambda raw: raw.key is not None and raw.key in keys


def events_of_notice(found: Iterable[Located], notice_number: str) -> list[str]:
    """The event ids whose records carry the notice, in the order first seen."""
    events: dict[str, None] = {}
    for item in found:
        if item.record.notice_number == notice_number and item.record.event_id is not None:
            events.setdefault(item.record.event_id, None)
    return list(events)


class StatusStretch:
    """The status topic from `since` to its high watermarks when this was made; records whose
    timestamp is older than `since`, wherever they lie, are left out."""

    def __init__(self, kafka: KafkaSettings, since: timedelta, *, now: datetime | None = None):
        self.topic = kafka.status_topic
        config: dict[str, Any] = {
            **helper_client_config(kafka),
            "group.id": "io-relay-status-scan",  # only assign(): never joins, never commits
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "auto.offset.reset": "earliest",
            "error_cb": _raise_refusal,
            # Its own words only on stderr: a failure is translated and said once.
            "log_level": 2,
        }
        try:
            self._consumer = Consumer(config)
        except KafkaException as exc:
            raise FatalError(f"kafka.client: {exc.args[0].str()}") from None
        start = (now or datetime.now(UTC)) - since
        self._start_ms = int(start.timestamp() * 1000)
        self.bounds = self._bounds(self._start_ms)

    @property
    def total(self) -> int:
        return sum(end - begin for begin, end in self.bounds.values())

    def read(self, progress: Progress | None = None) -> Iterator[Raw]:
        """Every record of the stretch, each partition in offset order."""
        open_ends = {p: end for p, (begin, end) in self.bounds.items() if begin < end}
        if not open_ends:
            return
        self._call(
            self._consumer.assign,
            [KafkaPartition(self.topic, p, self.bounds[p][0]) for p in open_ends],
        )
        read, last_news = 0, time.monotonic()
        while open_ends:
            messages = self._call(self._consumer.consume, _BATCH, 1.0)
            if messages:
                last_news = time.monotonic()
            elif time.monotonic() - last_news > _STALL_S:
                raise TransientError(f"the broker stopped answering while reading {self.topic}")
            read += len(messages)
            for message in messages:
                raw = self._raw(message, open_ends)
                if raw is not None:
                    yield raw
            if progress is not None:
                progress(read, self.total)

    def close(self) -> None:
        self._consumer.close()

    def _raw(self, message: Message, open_ends: dict[int, int]) -> Raw | None:
        partition, offset = message.partition(), message.offset()
        error = message.error()
        if error is not None:
            if error.code() == KafkaError._PARTITION_EOF:
                open_ends.pop(partition or 0, None)
                return None
            raise _translated(error, self.topic)
        if partition is None or offset is None or partition not in open_ends:
            return None
        if offset >= open_ends[partition]:
            del open_ends[partition]
            return None
        if offset + 1 >= open_ends[partition]:
            del open_ends[partition]
        _, timestamp_ms = message.timestamp()
        if 0 <= timestamp_ms < self._start_ms:
            # Timestamps need not grow with offsets: one written with an older time (a
            # producer's clock, a copy) lies past the start offset, yet out of the range.
            return None
        key, value = message.key(), message.value()
        return Raw(
            partition,
            offset,
            key.encode() if isinstance(key, str) else key,
            value.encode() if isinstance(value, str) else value,
        )

    def _bounds(self, start_ms: int) -> dict[int, tuple[int, int]]:
        metadata = self._call(self._consumer.list_topics, self.topic, _TIMEOUT_S)
        topic = metadata.topics.get(self.topic)
        if topic is None or topic.error is not None:
            raise FatalError(
                f"status topic {self.topic} (kafka.status_topic) is missing; "
                "`io-relay topics create` makes it"
            )
        partitions = sorted(topic.partitions)
        wanted = [KafkaPartition(self.topic, p, start_ms) for p in partitions]
        starts = self._call(self._consumer.offsets_for_times, wanted, _TIMEOUT_S)
        bounds = {}
        for found in starts:
            _, high = self._call(
                self._consumer.get_watermark_offsets,
                KafkaPartition(self.topic, found.partition),
                _TIMEOUT_S,
                False,
            )
            # -1: no record at or after the start time in that partition.
            begin = int(found.offset) if found.offset >= 0 else int(high)
            bounds[found.partition] = (min(begin, int(high)), int(high))
        return bounds

    def _call(self, function: Callable[..., Any], *arguments: Any) -> Any:
        try:
            return function(*arguments)
        except KafkaException as exc:
            raise _translated(exc.args[0], self.topic) from None


def scan(
    stretch: StatusStretch,
    *,
    event_id: str | None = None,
    notice_number: str | None = None,
    progress: Progress | None = None,
) -> list[StatusRecord]:
    """The records of the event, or of every event with the notice, in the order printed."""
    events = [event_id] if event_id is not None else []
    if notice_number is not None:
        wanted = notice_number.encode()
        candidates = (
            located(stretch.topic, raw.partition, raw.offset, raw.value)
            for raw in stretch.read(progress)
            if raw.value is not None and wanted in raw.value
        )
        events += events_of_notice((c for c in candidates if c is not None), notice_number)
    if not events:
        return []
    picks = by_key(events)
    found = (
        located(stretch.topic, raw.partition, raw.offset, raw.value)
        for raw in stretch.read(progress)
        if picks(raw)
    )
    return arranged(item for item in found if item is not None)


def _translated(error: KafkaError, topic: str) -> FatalError | TransientError:
    refusal = refusal_fault(error)
    if refusal is not None:
        return refusal
    if error.code() in {KafkaError._TRANSPORT, KafkaError._TIMED_OUT, KafkaError._ALL_BROKERS_DOWN}:
        return FatalError(
            f"cannot reach the brokers: {error.str()}; check kafka.bootstrap_servers and the "
            "credentials under kafka.client"
        )
    return TransientError(f"cannot read {topic}: {error.str()}")


def _raise_refusal(error: KafkaError) -> None:
    refusal = refusal_fault(error)
    if refusal is not None:
        raise refusal
