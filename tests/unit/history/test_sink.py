"""The sink's order of work: store, then commit; a failed store commits nothing and reads
the batch again."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import pytest
from confluent_kafka import Message
from confluent_kafka import TopicPartition as KafkaPartition

from consumer.errors import TransientError
from consumer.history.records import Located
from consumer.history.sink import AssignCallback, HistorySink, SinkStop
from consumer.report import Outcome, Stage
from tests.unit.history.test_records import status

TOPIC = "status"


def message(partition: int, offset: int, value: bytes) -> Message:
    return Message(topic=TOPIC, partition=partition, offset=offset, key=b"E1", value=value)


@dataclass
class FakeConsumer:
    batches: list[list[Message]]
    log: list[tuple[str, object]] = field(default_factory=list)

    def subscribe(self, topics: list[str], *, on_assign: AssignCallback) -> None:
        on_assign(self, [KafkaPartition(TOPIC, 0), KafkaPartition(TOPIC, 1)])

    def consume(self, num_messages: int, timeout: float) -> list[Message]:
        return self.batches.pop(0) if self.batches else []

    def seek(self, partition: KafkaPartition) -> None:
        self.log.append(("seek", (partition.partition, partition.offset)))

    def commit(
        self, *, offsets: list[KafkaPartition], asynchronous: Literal[False]
    ) -> list[KafkaPartition]:
        self.log.append(("commit", sorted((p.partition, p.offset) for p in offsets)))
        return offsets


@dataclass
class FakeStore:
    log: list[tuple[str, object]]
    failures: int = 0

    def ensure_table(self) -> None:
        self.log.append(("table", None))

    def write(self, batch: Sequence[Located]) -> int:
        if self.failures:
            self.failures -= 1
            raise TransientError("cannot write the history: connection refused")
        self.log.append(("write", [(i.partition, i.offset) for i in batch]))
        return len(batch)

    def close(self) -> None:
        pass


def run(consumer: FakeConsumer, store: FakeStore) -> None:
    stop = SinkStop(threading.Event(), idle_for_s=0.01)
    HistorySink(consumer, store, TOPIC, batch_size=10).run(stop)


def record_bytes(outcome: Outcome = Outcome.SUBMITTED) -> bytes:
    return status("E1", Stage.DELIVERY, outcome, 0).model_dump_json().encode()


def test_a_batch_is_stored_then_committed_past_its_last_record() -> None:
    consumer = FakeConsumer([[message(0, 4, record_bytes()), message(1, 9, record_bytes())]])
    store = FakeStore(consumer.log)

    run(consumer, store)

    assert consumer.log == [
        ("write", [(0, 4), (1, 9)]),
        ("commit", [(0, 5), (1, 10)]),
    ]


def test_a_failed_store_commits_nothing_and_reads_the_batch_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("consumer.history.sink._FIRST_PAUSE_S", 0.0)
    batch = [message(0, 4, record_bytes()), message(0, 5, record_bytes())]
    consumer = FakeConsumer([batch, list(batch)])
    store = FakeStore(consumer.log, failures=1)

    run(consumer, store)

    assert consumer.log == [
        ("seek", (0, 4)),
        ("write", [(0, 4), (0, 5)]),
        ("commit", [(0, 6)]),
    ]


def test_what_is_no_status_record_is_passed_over_and_committed_past() -> None:
    consumer = FakeConsumer([[message(0, 1, b"garbage"), message(0, 2, record_bytes())]])
    store = FakeStore(consumer.log)

    run(consumer, store)

    assert ("write", [(0, 2)]) in consumer.log
    assert ("commit", [(0, 3)]) in consumer.log


def test_a_stop_request_ends_the_run() -> None:
    requested = threading.Event()
    requested.set()
    consumer = FakeConsumer([[message(0, 1, record_bytes())]])
    store = FakeStore(consumer.log)

    HistorySink(consumer, store, TOPIC, batch_size=10).run(SinkStop(requested))

    assert consumer.log == []
