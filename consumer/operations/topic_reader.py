"""Read a topic from a point in time up to where it ended when the reading began.

The operator tools read topics that keep growing while they look (the DLQ, the replay
ledger). Reading "until the end" would never stop on a busy topic, so the end is fixed at
start: each partition's high watermark then. Nothing here joins a group or commits.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime

from confluent_kafka import (
    Consumer,
    KafkaException,
    Message,
    TopicPartition,
)

from consumer.config import KafkaSettings
from consumer.errors import FatalError
from consumer.events.input import InputRecord
from consumer.runtime.kafka_message import input_record
from consumer.runtime.source import helper_client_config

_TIMEOUT_S = 30.0
_BATCH = 500
_NOTHING = 2**62
"""A start past any end: the partition has nothing to read."""


def read_topic(
    settings: KafkaSettings, topic: str, since: datetime | None = None
) -> Iterator[InputRecord]:
    """Every record of `topic` written at `since` or later (all of it without), partition by
    partition interleaved as Kafka hands them over, up to each partition's end at start."""
    consumer = _consumer(settings)
    try:
        yield from _read(consumer, topic, since)
    except KafkaException as exc:
        raise FatalError(f"cannot read {topic}: {exc.args[0]}") from None
    finally:
        consumer.close()


def read_record(
    settings: KafkaSettings, topic: str, partition: int, offset: int
) -> InputRecord | None:
    """The one record at `partition`/`offset`; None when there is none (never written, gone
    with retention, or the offset of a transaction marker)."""
    consumer = _consumer(settings)
    try:
        end = _ends(consumer, topic).get(partition)
        if end is None or offset >= end:
            return None
        for record in _read_from(consumer, topic, {partition: offset}, {partition: end}):
            return record if record.offset == offset else None
        return None
    except KafkaException as exc:
        raise FatalError(f"cannot read {topic}: {exc.args[0]}") from None
    finally:
        consumer.close()


def _consumer(settings: KafkaSettings) -> Consumer:
    return Consumer(
        {
            **helper_client_config(settings),
            "group.id": "io-relay-operations",  # required by the client; never joined
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
        }
    )


def _read(consumer: Consumer, topic: str, since: datetime | None) -> Iterator[InputRecord]:
    ends = _ends(consumer, topic)
    yield from _read_from(consumer, topic, _starts(consumer, topic, list(ends), since), ends)


def _read_from(
    consumer: Consumer, topic: str, starts: dict[int, int], ends: dict[int, int]
) -> Iterator[InputRecord]:
    pending = {p: ends[p] for p in starts if starts[p] < ends[p]}
    if not pending:
        return
    consumer.assign([TopicPartition(topic, p, starts[p]) for p in pending])
    quiet_since = time.monotonic()
    while pending:
        messages = consumer.consume(_BATCH, timeout=1.0)
        for message in messages:
            record = _record(message)
            end = pending.get(record.partition)
            if end is None or record.offset >= end:
                continue
            yield record
            if record.offset + 1 >= end:
                del pending[record.partition]
        if messages:
            quiet_since = time.monotonic()
            continue
        _drop_finished(consumer, topic, pending)
        if pending and time.monotonic() - quiet_since > _TIMEOUT_S:
            raise FatalError(
                f"reading {topic} stalled: nothing arrived for {_TIMEOUT_S:.0f} s "
                f"(partitions {sorted(pending)} not read to their end)"
            )


def _record(message: Message) -> InputRecord:
    error = message.error()
    if error is not None:
        raise KafkaException(error)
    return input_record(message)


def _drop_finished(consumer: Consumer, topic: str, pending: dict[int, int]) -> None:
    """Transaction markers and compacted gaps have offsets but no records: the position,
    not the last record read, says a partition is done."""
    for tp in consumer.position([TopicPartition(topic, p) for p in list(pending)]):
        if tp.offset >= pending[tp.partition]:
            del pending[tp.partition]


def _ends(consumer: Consumer, topic: str) -> dict[int, int]:
    metadata = consumer.list_topics(topic, timeout=_TIMEOUT_S).topics.get(topic)
    if metadata is None or metadata.error is not None:
        raise FatalError(f"topic {topic} does not exist (run io-relay topics create)")
    return {
        p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=_TIMEOUT_S)[1]
        for p in sorted(metadata.partitions)
    }


def _starts(
    consumer: Consumer, topic: str, partitions: list[int], since: datetime | None
) -> dict[int, int]:
    if since is None:
        return {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=_TIMEOUT_S)[0]
            for p in partitions
        }
    stamp = int(since.timestamp() * 1000)
    found = consumer.offsets_for_times(
        [TopicPartition(topic, p, stamp) for p in partitions], timeout=_TIMEOUT_S
    )
    # -1: no record at or after `since` in that partition.
    return {tp.partition: tp.offset if tp.offset >= 0 else _NOTHING for tp in found}
