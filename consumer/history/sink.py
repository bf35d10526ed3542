"""The history sink: the status topic into PostgreSQL, at least once, each record once.

One batch, in this order (offsets are committed only after what they cover is stored):

    1. consume up to `history.batch_size` records of the status topic, in group
       `<kafka.group_id>.history` (its own: the relay's offsets are not touched);
    2. write them in one transaction; a record read again is `ON CONFLICT DO NOTHING`;
    3. commit, synchronously, the offsets past them.

A crash between 2 and 3 makes the next owner read the batch again, which adds no row. A
database that fails (TransientError) seeks the batch's partitions back to its first
offsets and pauses (1 s, doubling to 30 s: well inside `max.poll.interval.ms`), so the same
records come again, until the database is back. A record that is no status record is
logged by its place and passed over: it would otherwise stop the history for good.

Runs until SIGTERM or SIGINT, or, for tests and demos, until nothing new came for a while
after partitions were assigned.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType
from typing import Any, Literal, Protocol

from confluent_kafka import Consumer, KafkaError, KafkaException, Message
from confluent_kafka import TopicPartition as KafkaPartition

from consumer.config import KafkaSettings, Settings
from consumer.errors import FatalError, TransientError
from consumer.history.records import Located, located
from consumer.history.store import HistoryStore
from consumer.runtime.source import helper_client_config, refusal_fault

log = logging.getLogger(__name__)

GROUP_SUFFIX = ".history"
AssignCallback = Callable[[Any, list[KafkaPartition]], None]
_POLL_S = 1.0
_FIRST_PAUSE_S = 1.0
_MAX_PAUSE_S = 30.0


class Store(Protocol):
    def ensure_table(self) -> None: ...
    def write(self, batch: Sequence[Located]) -> int: ...
    def close(self) -> None: ...


class GroupConsumer(Protocol):
    """What the sink uses of confluent-kafka's Consumer (a fake in unit tests)."""

    def subscribe(self, topics: list[str], *, on_assign: AssignCallback) -> None: ...
    def consume(self, num_messages: int, timeout: float) -> list[Message]: ...
    def seek(self, partition: KafkaPartition) -> None: ...
    def commit(
        self, *, offsets: list[KafkaPartition], asynchronous: Literal[False]
    ) -> list[KafkaPartition]: ...


@dataclass(frozen=True, slots=True)
class SinkStop:
    """When the sink ends by itself: on a stop signal (`requested`), or idle this long."""

    requested: threading.Event
    idle_for_s: float | None = None


def sink_consumer_config(kafka: KafkaSettings) -> dict[str, Any]:
    return {
        **helper_client_config(kafka),
        "group.id": kafka.group_id + GROUP_SUFFIX,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        "error_cb": _on_kafka_error,
    }


class HistorySink:
    def __init__(self, consumer: GroupConsumer, store: Store, topic: str, batch_size: int) -> None:
        self._consumer = consumer
        self._store = store
        self._topic = topic
        self._batch_size = batch_size
        self._assigned_at: float | None = None
        self._pause_s = _FIRST_PAUSE_S

    def run(self, stop: SinkStop) -> None:
        """Until stopped; the table must exist (`Store.ensure_table`)."""
        self._consumer.subscribe([self._topic], on_assign=self._on_assign)
        last_news = time.monotonic()
        while not stop.requested.is_set():
            messages = self._consumer.consume(self._batch_size, _POLL_S)
            if messages:
                last_news = time.monotonic()
                self._handle(messages, stop)
            elif self._idle(last_news, stop.idle_for_s):
                log.info("history: idle, stopping")
                return

    def _idle(self, last_news: float, idle_for_s: float | None) -> bool:
        if idle_for_s is None or self._assigned_at is None:
            return False
        return time.monotonic() - max(last_news, self._assigned_at) >= idle_for_s

    def _handle(self, messages: list[Message], stop: SinkStop) -> None:
        batch, firsts, ends = self._batch(messages)
        try:
            new = self._store.write(batch)
        except TransientError as exc:
            log.warning(
                "history: the database failed; the batch is read again",
                extra={"reason": str(exc), "retry_in_s": self._pause_s},
            )
            self._rewind(firsts)
            stop.requested.wait(self._pause_s)
            self._pause_s = min(_MAX_PAUSE_S, self._pause_s * 2)
            return
        self._pause_s = _FIRST_PAUSE_S
        self._commit(ends)
        log.info("history: batch stored", extra={"records": len(batch), "new": new})

    def _batch(
        self, messages: list[Message]
    ) -> tuple[list[Located], dict[int, int], dict[int, int]]:
        """The records, and per partition the first offset and the offset past the last."""
        batch: list[Located] = []
        firsts: dict[int, int] = {}
        ends: dict[int, int] = {}
        for message in messages:
            error = message.error()
            if error is not None:
                _check(error, self._topic)
                continue
            partition, offset = message.partition(), message.offset()
            if partition is None or offset is None:
                continue
            firsts.setdefault(partition, offset)
            ends[partition] = offset + 1
            value = message.value()
            item = located(
                self._topic, partition, offset, value.encode() if isinstance(value, str) else value
            )
            if item is None:
                log.warning(
                    "history: not a status record, passed over",
                    extra={"partition": partition, "offset": offset},
                )
                continue
            batch.append(item)
        return batch, firsts, ends

    def _rewind(self, firsts: dict[int, int]) -> None:
        for partition, offset in firsts.items():
            try:
                self._consumer.seek(KafkaPartition(self._topic, partition, offset))
            except KafkaException as exc:  # revoked meanwhile: its next owner reads it
                log.warning("history: cannot seek back: %s", exc.args[0].str())

    def _commit(self, ends: dict[int, int]) -> None:
        if not ends:
            return
        offsets = [KafkaPartition(self._topic, p, end) for p, end in sorted(ends.items())]
        try:
            self._consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:
            # Stored all the same: read again later, the records add nothing.
            log.warning("history: commit failed: %s", exc.args[0].str())

    def _on_assign(self, consumer: Any, partitions: list[KafkaPartition]) -> None:
        self._assigned_at = time.monotonic()
        log.info(
            "history: partitions assigned",
            extra={"partitions": sorted(p.partition for p in partitions)},
        )


def run_history(settings: Settings, idle_for_s: float | None = None) -> None:
    """The sink as `io-relay history` runs it, until SIGTERM/SIGINT (or idle)."""
    store = HistoryStore(settings.history)
    try:
        store.ensure_table()  # first: a database out of reach stops it before Kafka is asked
        try:
            consumer = Consumer(sink_consumer_config(settings.kafka))
        except KafkaException as exc:
            raise FatalError(f"kafka.client: {exc.args[0].str()}") from None
        sink = HistorySink(
            consumer, store, settings.kafka.status_topic, settings.history.batch_size
        )
        stop = SinkStop(threading.Event(), idle_for_s)
        try:
            with _stopped_by_signals(stop.requested):
                sink.run(stop)
        finally:
            consumer.close()
    finally:
        store.close()


@contextmanager
def _stopped_by_signals(requested: threading.Event) -> Iterator[None]:
    def handler(signum: int, frame: FrameType | None) -> None:
        requested.set()

    previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for signum, earlier in previous.items():
            signal.signal(signum, earlier)


def _check(error: KafkaError, topic: str) -> None:
    if error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
        raise FatalError(
            f"status topic {topic} (kafka.status_topic) is missing; "
            "`io-relay topics create` makes it"
        )
    _on_kafka_error(error)


def _on_kafka_error(error: KafkaError) -> None:
    refusal = refusal_fault(error)
    if refusal is not None:
        raise refusal
    if error.fatal():
        raise FatalError(f"Kafka client failed: {error.str()}")
    log.warning("kafka: %s", error.str())
