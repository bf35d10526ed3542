"""The group's backlog: each input partition's lag, as the brokers see it, for every replica.

On a client and a thread of their own, like the broker probe's (consumer.runtime.source): a
broker that does not answer holds this reading, never polling, pausing or commits. The
client carries the group's id to fetch its committed offsets, and never subscribes, so it
never joins the group.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from confluent_kafka import Consumer, KafkaException
from confluent_kafka import TopicPartition as KafkaPartition

from consumer.runtime.commit import TopicPartition

log = logging.getLogger(__name__)


class GroupBacklog:
    def __init__(self, client_config: Mapping[str, Any], group_id: str) -> None:
        """`client_config`: where the brokers are and how to log in (helper_client_config)."""
        self._config = {**client_config, "group.id": group_id, "enable.auto.commit": False}
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kafka-backlog")
        self._client: Consumer | None = None
        self._failing = ""

    async def read(
        self, topics: Collection[str], timeout_s: float
    ) -> dict[TopicPartition, int] | None:
        """Lag of every partition of `topics`; None if the brokers did not answer in time."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, self._read, tuple(topics), timeout_s)

    def close(self) -> None:
        """Without waiting for a reading under way: a stop must not wait for its answer."""
        if self._client is not None:
            self._thread.submit(self._client.close)
        self._thread.shutdown(wait=False, cancel_futures=False)

    def _read(self, topics: tuple[str, ...], timeout_s: float) -> dict[TopicPartition, int] | None:
        if self._client is None:
            self._client = Consumer(self._config)
        client = self._client
        deadline = time.monotonic() + timeout_s  # one for all the questions below
        try:
            partitions: list[KafkaPartition] = []
            for topic in topics:
                metadata = client.list_topics(topic, timeout=_left(deadline))
                described = metadata.topics.get(topic)
                if described is None or described.error is not None:
                    return None
                partitions += [KafkaPartition(topic, p) for p in sorted(described.partitions)]
            committed = {
                (p.topic, p.partition): p.offset
                for p in client.committed(partitions, timeout=_left(deadline))
                if p.error is None
            }
            lag: dict[TopicPartition, int] = {}
            for partition in partitions:
                low, high = client.get_watermark_offsets(
                    partition, timeout=_left(deadline), cached=False
                )
                key = (partition.topic, partition.partition)
                start = committed.get(key, -1)
                lag[key] = max(0, high - max(start, low))
            self._failing = ""
            return lag
        except (KafkaException, _Overdue) as exc:
            if self._failing != str(exc):  # once per cause, not every second
                log.warning("kafka: no reading of the group's backlog: %s", exc)
            self._failing = str(exc)
            return None


class _Overdue(Exception):
    pass


def _left(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise _Overdue("past the reading's deadline")
    return left
