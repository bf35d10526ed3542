"""The local Kafka fixtures against the real broker: what the other integration tests rely on."""

from __future__ import annotations

import time
from collections import Counter

import pytest
from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient

from tests.fixtures.kafka import TopicFactory
from tests.fixtures.kafka_io import Record, consume_all, produce

pytestmark = pytest.mark.kafka


def _records(count: int) -> list[Record]:
    """Distinct values; keys from a small set with some None; headers on most, some without."""
    records: list[Record] = []
    for i in range(count):
        key = None if i % 10 == 0 else f"citizen-{i % 7}".encode()
        headers = None if i % 4 == 0 else [("seq", str(i).encode()), ("kind", b"\x00\xffbin")]
        records.append((key, f"event-{i}".encode(), headers))
    return records


def test_batch_round_trips_exactly(kafka_bootstrap: str, new_topic: TopicFactory) -> None:
    topic = new_topic("roundtrip")
    records = _records(500)

    delivered = produce(kafka_bootstrap, topic, records)

    assert [d.offset for d in delivered] == list(range(500))
    assert {d.partition for d in delivered} == {0}
    messages = consume_all(kafka_bootstrap, topic, expected=500, idle=0.5)
    assert len(messages) == 500
    assert [(m.key, m.value, m.headers) for m in messages] == [
        (key, value, headers or []) for key, value, headers in records
    ]
    assert [m.offset for m in messages] == list(range(500))
    assert {m.topic for m in messages} == {topic}


def test_consume_all_of_an_empty_topic_returns_at_once(
    kafka_bootstrap: str, new_topic: TopicFactory
) -> None:
    topic = new_topic("empty", partitions=2)
    started = time.monotonic()
    assert consume_all(kafka_bootstrap, topic, timeout=20) == []
    assert time.monotonic() - started < 10


def test_new_topic_has_the_requested_partitions(
    kafka_bootstrap: str, kafka_admin: AdminClient, new_topic: TopicFactory
) -> None:
    topic = new_topic("parts", partitions=3)

    metadata = kafka_admin.list_topics(topic, timeout=10).topics[topic]
    assert sorted(metadata.partitions) == [0, 1, 2]
    assert all(p.leader == 1 for p in metadata.partitions.values())

    records: list[Record] = [(f"k{i}".encode(), f"v{i}".encode(), None) for i in range(60)]
    delivered = produce(kafka_bootstrap, topic, records)
    messages = consume_all(kafka_bootstrap, topic, expected=60)

    assert len(messages) == 60
    assert Counter(m.value for m in messages) == Counter(value for _, value, _ in records)
    assert {m.partition for m in messages} == {0, 1, 2}
    # Each record was read back from the partition it was delivered to, key by key.
    landed = {records[i][0]: d.partition for i, d in enumerate(delivered)}
    assert {m.key: m.partition for m in messages} == landed


def test_new_topic_names_are_unique_and_deleted_at_teardown(
    kafka_admin: AdminClient, new_topic: TopicFactory
) -> None:
    names = {new_topic("uniq") for _ in range(3)}
    assert len(names) == 3
    assert all(name.startswith("uniq-") for name in names)

    new_topic.delete_all()

    deadline = time.monotonic() + 30
    while names & set(kafka_admin.list_topics(timeout=10).topics):
        assert time.monotonic() < deadline, "topics still listed 30 s after their deletion"
        time.sleep(0.1)


def test_sasl_listener_accepts_the_relay_user(
    kafka_sasl: dict[str, str], new_topic: TopicFactory
) -> None:
    topic = new_topic("sasl")
    records: list[Record] = [(b"k", f"sasl-{i}".encode(), [("h", b"1")]) for i in range(20)]

    produce(kafka_sasl, topic, records)
    messages = consume_all(kafka_sasl, topic, expected=20)

    assert [m.value for m in messages] == [value for _, value, _ in records]
    assert all(m.headers == [("h", b"1")] for m in messages)


def test_sasl_listener_refuses_a_wrong_password(kafka_sasl: dict[str, str]) -> None:
    errors: list[KafkaError] = []
    config = {
        **kafka_sasl,
        "sasl.password": "not-the-password",
        "error_cb": errors.append,
        "log_level": 0,  # the auth failures come through error_cb; keep librdkafka quiet
    }
    producer = Producer(config)

    deadline = time.monotonic() + 15
    while not any(e.code() == KafkaError._AUTHENTICATION for e in errors):
        assert time.monotonic() < deadline, f"no authentication error within 15 s: {errors}"
        producer.poll(0.2)

    auth_error = next(e for e in errors if e.code() == KafkaError._AUTHENTICATION)
    assert "Invalid username or password" in auth_error.str()
    # And nothing gets through: not even the metadata.
    with pytest.raises(KafkaException):
        producer.list_topics(timeout=2)
