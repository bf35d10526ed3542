"""A Kafka message, as the loop sees it: an InputRecord, with librdkafka's types left here."""

from __future__ import annotations

from confluent_kafka import Message

from consumer.errors import FatalError
from consumer.events import InputRecord


def input_record(message: Message) -> InputRecord:
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
