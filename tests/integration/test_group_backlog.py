"""GroupBacklog against the real broker: what any replica reads of the group's lag."""

from __future__ import annotations

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka import TopicPartition as KafkaPartition

from consumer.runtime.backlog import GroupBacklog
from tests.fixtures.kafka import TopicFactory

pytestmark = pytest.mark.kafka


async def test_every_partitions_lag_from_the_groups_commits_member_or_not(
    kafka_bootstrap: str, new_topic: TopicFactory
) -> None:
    """Partition 0: 10 records, 4 committed; 1: 3 records, none committed; 2: empty. A
    reader of another topic sees none of them."""
    topic, other = new_topic("backlog", partitions=3), new_topic("other", partitions=1)
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    for partition, count in ((0, 10), (1, 3)):
        for n in range(count):
            producer.produce(topic, b"x", partition=partition, key=str(n).encode())
    producer.produce(other, b"x", partition=0)
    assert producer.flush(10) == 0
    group = f"relay-{topic}"
    member = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": group})
    member.commit(offsets=[KafkaPartition(topic, 0, 4)], asynchronous=False)
    member.close()

    backlog = GroupBacklog({"bootstrap.servers": kafka_bootstrap}, group)
    try:
        lag = await backlog.read([topic], timeout_s=10)
        both = await backlog.read([topic, other], timeout_s=10)
    finally:
        backlog.close()

    assert lag == {(topic, 0): 6, (topic, 1): 3, (topic, 2): 0}
    assert both == {**lag, (other, 0): 1}


async def test_no_answer_in_time_is_no_reading() -> None:
    backlog = GroupBacklog({"bootstrap.servers": "127.0.0.1:1"}, "nobody")
    try:
        assert await backlog.read(["events"], timeout_s=0.5) is None
    finally:
        backlog.close()
