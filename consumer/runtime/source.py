"""Source: the Kafka consumer, seen by the loop as records in and offsets out.

Auto-commit and auto offset store are off: an offset is committed only when the loop says
its record is done. librdkafka errors are translated here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from consumer.config import KafkaSettings
from consumer.errors import AuthenticationFault, FatalError
from consumer.events import InputRecord
from consumer.runtime.commit import TopicPartition as Partition

log = logging.getLogger(__name__)

RevokeHook = Callable[[list[Partition]], None]

_AUTHENTICATION_CODES = frozenset(
    {KafkaError._AUTHENTICATION, KafkaError.SASL_AUTHENTICATION_FAILED}
)


def consumer_config(settings: KafkaSettings) -> dict[str, Any]:
    return {
        **settings.client,
        "bootstrap.servers": settings.bootstrap_servers,
        "group.id": settings.group_id,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        "partition.assignment.strategy": "cooperative-sticky",
        "error_cb": _raise_fatal,
    }


def _raise_fatal(error: KafkaError) -> None:
    if error.code() in _AUTHENTICATION_CODES:
        raise AuthenticationFault(f"Kafka refused io-relay's credentials: {error.str()}")
    if error.fatal():
        raise FatalError(f"Kafka client failed: {error.str()}")
    log.warning("kafka: %s", error.str())


class KafkaSource:
    def __init__(self, settings: KafkaSettings, on_revoke: RevokeHook) -> None:
        self._consumer = Consumer(consumer_config(settings))
        self._on_revoke = on_revoke
        self._assigned: set[Partition] = set()
        self._assignment_changed_at = time.monotonic()
        self._consumer.subscribe(
            list(settings.input_topics), on_assign=self._assigned_cb, on_revoke=self._revoked_cb
        )

    @property
    def assigned(self) -> frozenset[Partition]:
        return frozenset(self._assigned)

    @property
    def assignment_changed_at(self) -> float:
        """When partitions last came or went (monotonic clock): a fresh partition is not idle."""
        return self._assignment_changed_at

    def poll(self, timeout_s: float) -> InputRecord | None:
        message = self._consumer.poll(timeout_s)
        if message is None:
            return None
        error = message.error()
        if error is not None:
            if error.fatal() or error.code() in _AUTHENTICATION_CODES:
                _raise_fatal(error)
            log.warning("kafka: %s", error.str())
            return None
        return _input_record(message)

    def commit(self, offsets: Mapping[Partition, int]) -> None:
        if not offsets:
            return
        partitions = [
            TopicPartition(topic, part, offset) for (topic, part), offset in offsets.items()
        ]
        try:
            self._consumer.commit(offsets=partitions, asynchronous=False)
        except KafkaException as exc:
            # A commit refused during a rebalance is not fatal: the records will be read again.
            log.warning("kafka commit failed: %s", exc)

    def close(self) -> None:
        self._consumer.close()

    def _assigned_cb(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._assigned.update((p.topic, p.partition) for p in partitions)
        self._assignment_changed_at = time.monotonic()

    def _revoked_cb(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        revoked = [(p.topic, p.partition) for p in partitions]
        self._on_revoke(revoked)
        self._assigned.difference_update(revoked)
        self._assignment_changed_at = time.monotonic()


def _input_record(message: Message) -> InputRecord:
    topic, partition, offset = message.topic(), message.partition(), message.offset()
    if topic is None or partition is None or offset is None:
        raise FatalError("Kafka handed over a record without topic, partition or offset")
    raw_headers = message.headers() or []
    pairs = raw_headers.items() if isinstance(raw_headers, dict) else raw_headers
    key, value = message.key(), message.value()
    _, timestamp = message.timestamp()
    return InputRecord(
        topic=topic,
        partition=partition,
        offset=offset,
        key=None if key is None else _bytes(key),
        value=None if value is None else _bytes(value),
        headers=tuple((name, _bytes(raw)) for name, raw in pairs),
        timestamp_ms=timestamp,
    )


def _bytes(raw: str | bytes | None) -> bytes:
    if raw is None:
        return b""
    return raw.encode() if isinstance(raw, str) else raw
