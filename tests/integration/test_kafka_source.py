"""KafkaSource against the real broker: what librdkafka keeps of a partition across rebalances."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from confluent_kafka import Producer

from consumer.config import KafkaSettings
from consumer.runtime.commit import TopicPartition
from consumer.runtime.source import KafkaSource, Offsets
from tests.fixtures.kafka import TopicFactory

pytestmark = [pytest.mark.kafka, pytest.mark.timeout(120)]

RECORDS = 10


def source_for(bootstrap: str, topic: str, group: str) -> KafkaSource:
    settings = KafkaSettings(
        bootstrap_servers=bootstrap,
        group_id=group,
        input_topics=[topic],
        client={"session.timeout.ms": "6000", "heartbeat.interval.ms": "500"},
    )

    def on_assign(_committed: dict[TopicPartition, tuple[int, str | None]]) -> None:
        pass

    async def on_revoke(_partitions: list[TopicPartition], _lost: bool) -> Offsets:
        return {}

    return KafkaSource(settings, on_assign=on_assign, on_revoke=on_revoke, rebalance_timeout_s=30)


async def poll_until(source: KafkaSource, done: object, timeout_s: float = 60) -> list[int]:
    """Poll until `done()` is true; the partitions of the records read, in order."""
    read: list[int] = []
    deadline = time.monotonic() + timeout_s
    while not done():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"gave up; read so far from {sorted(set(read))}"
        read += [record.partition for record in await source.poll(0.2, 100)]
    return read


async def test_a_partition_paused_when_revoked_is_read_when_it_comes_back(
    kafka_bootstrap: str, new_topic: TopicFactory
) -> None:
    topic = new_topic("source", partitions=2)
    group = f"source-{uuid.uuid4().hex[:8]}"
    first = source_for(kafka_bootstrap, topic, group)
    await first.start()
    try:
        await poll_until(first, lambda: len(first.assigned) == 2)
        await first.pause(set(first.assigned))  # as backpressure does

        second = source_for(kafka_bootstrap, topic, group)
        await second.start()
        try:
            await asyncio.gather(
                poll_until(second, lambda: len(second.assigned) == 1),
                poll_until(first, lambda: len(first.assigned) == 1),
            )
            moved = next(iter(second.assigned))
        finally:
            await second.close()  # leaves: the partition goes back to the first member
        await poll_until(first, lambda: moved in first.assigned)

        producer = Producer({"bootstrap.servers": kafka_bootstrap})
        for n in range(RECORDS):
            producer.produce(topic, str(n).encode(), partition=moved[1])
        assert producer.flush(10) == 0
        read: list[int] = []
        deadline = time.monotonic() + 20
        while len(read) < RECORDS and time.monotonic() < deadline:
            read += [r.partition for r in await first.poll(0.2, 100) if r.partition == moved[1]]

        assert len(read) == RECORDS, "the partition came back paused"
    finally:
        await first.close()
