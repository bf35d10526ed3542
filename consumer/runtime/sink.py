"""Report: the producer behind the status and DLQ topics, and what it tells the commit step.

Idempotent, acks=all. Each input record's status and DLQ records are produced together and
awaited together: the record is done only when Kafka acknowledged all of them.

The status record of an event goes to the status partition derived from its input
partition, so that the records an input partition produced can be found again after a
crash. Where each one was written is handed to the caller as Kafka acknowledges it, in the
order Kafka wrote them: the ledger keeps that bookkeeping (see ledger.py).

Acknowledgements come from a thread of their own, blocked in librdkafka's poll, and are
handed to the event loop together, all those one poll served in one `call_soon_threadsafe`:
one wake-up of the loop per broker answer, not per record. Polling from the loop every 5 ms
cost 200 wake-ups a second when idle and up to 5 ms on every acknowledgement, which is also
time inside the double-send window.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from consumer.config import KafkaSettings
from consumer.errors import FatalError, TransientError
from consumer.report import DeadLetter, StatusRecord
from consumer.runtime.commit import TopicPartition
from consumer.runtime.source import refusal_fault
from consumer.track import TrackingRecord

log = logging.getLogger(__name__)

_POLL_BLOCK_S = 0.2
"""How long the acknowledgement thread waits in librdkafka per call: at most the time it
takes to notice a close."""
# Keep retrying through a broker restart rather than fail a record: a status record that is
# never written would let an event be sent twice.
_DELIVERY_TIMEOUT_MS = 600_000
_TRACKING_HINT = (
    "; create it (cleanup.policy=compact) as kafka.tracking_topic, "
    "or turn message tracking off with tracking.enabled: false"
)
# Refusals no retry can change: stopping says so, where retrying would stall the partition
# with /readyz green. (An authorization failure is retried: ACLs being re-applied heal, and
# a tracking record must not be given up once its status record is written.)
_REFUSED = frozenset(
    {KafkaError.MSG_SIZE_TOO_LARGE, KafkaError.RECORD_LIST_TOO_LARGE, KafkaError.INVALID_RECORD}
)
# What produce() itself raises from a metadata view that will heal.
_NOT_KNOWN_YET = frozenset({KafkaError._UNKNOWN_TOPIC, KafkaError._UNKNOWN_PARTITION})
_CONTENT_HINT = "; create it (cleanup.policy=compact) as kafka.content_topic"


Written = Callable[[int, int], None]
"""Told the status partition and offset of each status record Kafka acknowledged."""


class Sink(Protocol):
    """The loop's view of its output: records in, acknowledgements back (a fake in tests)."""

    def status_partition_of(self, partition: TopicPartition) -> int: ...
    async def start(self) -> None: ...
    async def close(self, timeout_s: float = 30.0) -> None: ...
    def report(
        self,
        position: tuple[TopicPartition, int],
        statuses: Sequence[StatusRecord],
        dead: DeadLetter | None,
        tracking: Sequence[TrackingRecord] = (),
        written: Written | None = None,
    ) -> asyncio.Future[Any]:
        """Produce at once; the future is Kafka's acknowledgement of every record."""
        ...

    async def report_lifecycle(
        self, statuses: Sequence[StatusRecord], key: bytes, successor: TrackingRecord | None
    ) -> None: ...


def status_partition(input_partition: int, status_partitions: int) -> int:
    return input_partition % status_partitions


class ReportSink:
    def __init__(
        self, settings: KafkaSettings, *, tracking: bool = False, content: bool = False
    ) -> None:
        """`tracking`, `content`: the tracking or content topic is written too (and must
        exist)."""
        self._status_topic = settings.status_topic
        self._content_topic = settings.content_topic if content else None
        self._dlq_topic = settings.dlq_topic
        self._tracking_topic = settings.tracking_topic if tracking else None
        self._refusal: FatalError | None = None
        self._producer = Producer(
            {
                **settings.librdkafka(),
                "bootstrap.servers": settings.bootstrap_servers,
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 5,
                "delivery.timeout.ms": _DELIVERY_TIMEOUT_MS,
                "error_cb": self._note_error,
            }
        )
        self._status_partitions = self._partitions_of(self._status_topic)
        self._tracking_partitions = (
            self._partitions_of(self._tracking_topic, hint=_TRACKING_HINT)
            if self._tracking_topic is not None
            else 0
        )
        if self._content_topic is not None:
            self._partitions_of(self._content_topic, hint=_CONTENT_HINT)
        self._poller: threading.Thread | None = None
        self._closing = threading.Event()
        self._handoff: _Handoff | None = None

    @property
    def status_topic(self) -> str:
        return self._status_topic

    @property
    def status_partitions(self) -> int:
        return self._status_partitions

    @property
    def tracking_partitions(self) -> int:
        """The tracking topic's partition count (0 without tracking)."""
        return self._tracking_partitions

    def status_partition_of(self, partition: TopicPartition) -> int:
        return status_partition(partition[1], self._status_partitions)

    async def start(self) -> None:
        self._handoff = _Handoff(asyncio.get_running_loop())
        self._poller = threading.Thread(
            target=self._serve_callbacks, name="producer-acks", daemon=True
        )
        self._poller.start()

    async def close(self, timeout_s: float = 30.0) -> None:
        await asyncio.to_thread(self._producer.flush, timeout_s)
        self._hand_over()
        self._closing.set()
        if self._poller is not None:
            await asyncio.to_thread(self._poller.join, _POLL_BLOCK_S * 5)

    def report(
        self,
        position: tuple[TopicPartition, int],
        statuses: Sequence[StatusRecord],
        dead: DeadLetter | None,
        tracking: Sequence[TrackingRecord] = (),
        written: Written | None = None,
    ) -> asyncio.Future[Any]:
        """Produce every record of one input record now; the future settles when Kafka holds
        all of them: its status records, its dead letter, the first tracking record of each
        message sent. A future, not a coroutine: the caller shields it from its own
        cancellation without a task of its own (a task per event was a tenth of the skip path).

        `written(status_partition, status_offset)` is called for each status record in the
        delivery callback, so in the order Kafka wrote them, even when the input record
        also waits for a DLQ acknowledgement, and even when the caller stopped waiting."""
        acks: list[asyncio.Future[Any]] = []
        partition, _offset = position
        target = self.status_partition_of(partition)

        def noted(message: Message) -> None:
            status_offset = message.offset()
            if status_offset is not None and written is not None:
                written(target, status_offset)

        for record in statuses:
            acks.append(
                self._produce(
                    self._status_topic,
                    partition=target,
                    key=record.key(),
                    value=record.to_bytes(),
                    headers=None,
                    on_acked=noted,
                )
            )
        acks.extend(
            asyncio.ensure_future(self._track_until_acknowledged(record.key(), record))
            for record in tracking
        )
        if dead is not None:
            acks.append(
                self._produce(
                    self._dlq_topic,
                    partition=None,
                    key=dead.key,
                    value=dead.value,
                    headers=list(dead.headers),
                )
            )
        if len(acks) == 1:
            return acks[0]
        return asyncio.gather(*acks)

    async def report_lifecycle(
        self, statuses: Sequence[StatusRecord], key: bytes, successor: TrackingRecord | None
    ) -> None:
        """Publish what a check found, then its successor (None: a tombstone, tracking ends).

        The status records go to the partition the message's SUBMITTED record went to, so a
        reader sees one event's records in order. The successor is written only after they
        are acknowledged: it says they were published. A crash between the two publishes
        them again (the same records, at most once more), never loses them.
        """
        await asyncio.gather(
            *(
                self._produce(
                    self._status_topic,
                    partition=self.status_partition_of(
                        (record.input.topic, record.input.partition)
                    ),
                    key=record.key(),
                    value=record.to_bytes(),
                    headers=None,
                )
                for record in statuses
            )
        )
        await self._track_until_acknowledged(key, successor)

    async def keep(self, key: str, value: bytes | None) -> None:
        """Remote content, sealed, for the content server: acknowledged before the submit
        that lets IO ask for it."""
        if self._content_topic is None:
            raise RuntimeError("ReportSink(content=True) is needed to keep remote content")
        await self._until_acknowledged(self._content_topic, key.encode(), value)

    async def _track_until_acknowledged(self, key: bytes, record: TrackingRecord | None) -> None:
        """Failing instead would stop the relay after its status record was written: the
        event would be read again, found reported, and its message never tracked."""
        if self._tracking_topic is None:
            raise RuntimeError("ReportSink(tracking=True) is needed to write tracking records")
        value = None if record is None else record.to_bytes()
        await self._until_acknowledged(self._tracking_topic, key, value)

    async def _until_acknowledged(self, topic: str, key: bytes, value: bytes | None) -> None:
        """Produce a record again and again until Kafka holds it. (librdkafka already
        retries each try for `delivery.timeout.ms`.)"""
        pause_s = 1.0
        while True:
            try:
                await self._produce(topic, partition=None, key=key, value=value, headers=None)
                return
            except TransientError as exc:
                log.warning(
                    "record not acknowledged: producing it again",
                    extra={"topic": topic, "retry_in_s": pause_s, "reason": str(exc)},
                )
            await asyncio.sleep(pause_s)
            pause_s = min(30.0, pause_s * 2)

    def _produce(
        self,
        topic: str,
        *,
        partition: int | None,
        key: bytes | None,
        value: bytes | None,
        headers: Any,
        on_acked: Callable[[Message], None] | None = None,
    ) -> asyncio.Future[Message]:
        acked, on_delivery = _acknowledgement(topic, on_acked, self._handoff)
        while True:
            try:
                self._producer.produce(
                    topic,
                    value=value,
                    key=key,
                    partition=-1 if partition is None else partition,  # -1: the partitioner's
                    headers=headers,
                    on_delivery=on_delivery,
                )
                return acked
            except BufferError:  # the local queue is full: let deliveries drain
                self._producer.poll(0.05)
            except KafkaException as exc:  # refused before it left
                error = exc.args[0]
                if error.code() in _NOT_KNOWN_YET:
                    raise TransientError(f"{topic}: {error.str()}") from None
                raise FatalError(f"{topic}: record refused: {error.str()}") from None

    def _serve_callbacks(self) -> None:
        while not self._closing.is_set():
            self._producer.poll(_POLL_BLOCK_S)
            self._hand_over()

    def _hand_over(self) -> None:
        if self._handoff is not None:
            self._handoff.hand_over()

    def _note_error(self, error: KafkaError) -> None:
        """librdkafka's error events (served by poll; nothing else to do with them, the
        deliveries report their own): keeps the last TLS or credentials refusal, which is
        what a start-up that cannot describe its topics reports."""
        refusal = refusal_fault(error)
        if refusal is not None:
            self._refusal = refusal

    def _partitions_of(self, topic: str, hint: str = "") -> int:
        try:
            metadata = self._producer.list_topics(topic, timeout=30)
        except KafkaException as exc:
            # Serves the error events queued meanwhile: a broker that refused the TLS
            # handshake or the credentials says so, rather than "transport failure".
            self._producer.poll(0)
            if self._refusal is not None:
                raise self._refusal from None
            raise FatalError(
                f"cannot describe topic {topic!r}: {exc.args[0].str()}; check "
                "kafka.bootstrap_servers and the credentials under kafka.client"
            ) from None
        described = metadata.topics.get(topic)
        if described is None or described.error is not None or not described.partitions:
            reason = described.error if described is not None else "not found"
            raise FatalError(f"topic {topic!r} is not usable: {reason}{hint}")
        return len(described.partitions)


Settle = Callable[[KafkaError | None, Message], None]


class _Handoff:
    """Deliveries noted on whichever thread polled, handed to the loop in one go, in order."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._lock = threading.Lock()
        self._pending: list[tuple[Settle, KafkaError | None, Message]] = []

    def note(self, settle: Settle, error: KafkaError | None, message: Message) -> None:
        with self._lock:
            self._pending.append((settle, error, message))

    def hand_over(self) -> None:
        with self._lock:
            batch, self._pending = self._pending, []
        if batch:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
                self._loop.call_soon_threadsafe(_settle_all, batch)


def _settle_all(batch: list[tuple[Settle, KafkaError | None, Message]]) -> None:
    for settle, error, message in batch:
        settle(error, message)


def _acknowledgement(
    topic: str, on_acked: Callable[[Message], None] | None, handoff: _Handoff | None
) -> tuple[asyncio.Future[Message], Settle]:
    """A future Kafka's acknowledgement settles, and the delivery callback that settles it.

    The callback runs on whichever thread polled (the acknowledgement thread, mostly) and
    notes the delivery; the settling is the loop's, in the order Kafka acknowledged. Before
    `start` (no hand-off yet), whoever polls is the loop itself, and settles at once."""
    loop = asyncio.get_running_loop()
    acked: asyncio.Future[Message] = loop.create_future()

    def settle(error: KafkaError | None, message: Message) -> None:
        if error is None and on_acked is not None:
            on_acked(message)  # even if the report was abandoned: the record is written
        if acked.done():
            return
        if error is None:
            acked.set_result(message)
        elif error.fatal() or error.code() in _REFUSED:
            acked.set_exception(FatalError(f"{topic}: record refused: {error.str()}"))
        else:
            acked.set_exception(TransientError(f"record not acknowledged: {error.str()}"))

    def on_delivery(error: KafkaError | None, message: Message) -> None:
        if handoff is None:
            settle(error, message)
        else:
            handoff.note(settle, error, message)

    return acked, on_delivery
