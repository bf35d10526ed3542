"""The status topic read back for the ledger: a short-lived consumer that only assigns.

librdkafka errors are translated here into TransientError: the caller (the rebalance
callback) retries within a budget.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException
from confluent_kafka import TopicPartition as KafkaPartition

from consumer.errors import TransientError

_READ_TIMEOUT_S = 30.0


class KafkaStatusLog:
    def __init__(self, client_config: Mapping[str, Any], topic: str) -> None:
        self._config = {
            **client_config,
            "group.id": "io-relay-ledger",  # never subscribes or commits: only assign()
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            # A start below the log start (retention deleted it) reads from the first record
            # kept, not from the end.
            "auto.offset.reset": "earliest",
        }
        self._topic = topic

    def span(self, partition: int) -> tuple[int, int]:
        reader = self._reader()
        try:
            low, high = reader.get_watermark_offsets(
                KafkaPartition(self._topic, partition), timeout=_READ_TIMEOUT_S, cached=False
            )
        except KafkaException as exc:
            raise self._cannot_read(partition, exc) from None
        finally:
            reader.close()
        return int(low), int(high)

    def read(self, partition: int, begin: int, end: int) -> Iterator[tuple[int, bytes]]:
        if begin >= end:
            return
        reader = self._reader()
        try:
            reader.assign([KafkaPartition(self._topic, partition, begin)])
            while True:
                message = reader.poll(_READ_TIMEOUT_S)
                if message is None:
                    raise TransientError(f"ledger: no answer reading {self._topic}[{partition}]")
                error = message.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        return
                    raise self._cannot_read(partition, error)
                offset = message.offset()
                if offset is None:
                    continue
                if offset >= end:
                    return
                yield offset, message.value() or b""
                if offset + 1 >= end:
                    return
        except KafkaException as exc:
            raise self._cannot_read(partition, exc) from None
        finally:
            reader.close()

    def _reader(self) -> Consumer:
        return Consumer(self._config)

    def _cannot_read(self, partition: int, error: object) -> TransientError:
        return TransientError(f"ledger: cannot read {self._topic}[{partition}]: {error}")
