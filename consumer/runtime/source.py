"""Source: the Kafka consumer, seen by the loop as batches of records in and offsets out.

Auto-commit and auto offset store are off: an offset is committed only when the loop says
its record is done. librdkafka errors are translated here, with librdkafka.py.

Polling runs in one dedicated thread, so the event loop keeps serving IO calls while the
consumer waits for records. Rebalance callbacks run in that thread, inside poll: a new
partition's committed offset is handed to `on_assign` before any of its records is read; a
partition leaving is handed to `on_revoke` on the loop, whose answer (the done prefix) is
committed before the partition is given up. A partition lost (the group gave it to another
member while this one was silent) is handed over too, with `lost` set: it is not committed.

Each callback first notes the group generation and member id for the logs (see
observability/group_identity.py), so the lines it and the loop write next carry them.

An error inside a rebalance callback would end the process with a traceback. A transient
one (a broker that does not answer) is retried within `CALLBACK_BUDGET_S` (librdkafka.py);
past it, or for any other error, the callback raises FatalError with what the operator
should check.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from confluent_kafka import Consumer, KafkaError, KafkaException, Message
from confluent_kafka import TopicPartition as KafkaPartition

from consumer.config import KafkaSettings
from consumer.errors import FatalError, TransientError
from consumer.events import InputRecord
from consumer.observability import group_identity
from consumer.runtime.commit import TopicPartition
from consumer.runtime.kafka_message import input_record
from consumer.runtime.librdkafka import (
    AUTHENTICATION_CODES,
    AUTHORIZATION_CODES,
    consumer_config,
    group_identity_of,
    helper_client_config,
    raise_fatal,
    refusal_fault,
    within_budget,
)

# helper_client_config and refusal_fault live in librdkafka.py; the modules that imported
# them from here still do.
__all__ = [
    "AssignHook",
    "KafkaSource",
    "Offsets",
    "RevokeHook",
    "Source",
    "helper_client_config",
    "refusal_fault",
]

log = logging.getLogger(__name__)

Offsets = Mapping[TopicPartition, tuple[int, str | None]]
"""Offsets to commit, each with its metadata."""
AssignHook = Callable[[dict[TopicPartition, tuple[int, str | None]]], None]
"""Called in the poll thread with each new partition's committed offset and metadata."""
RevokeHook = Callable[[list[TopicPartition], bool], Coroutine[Any, Any, Offsets]]
"""Run on the loop with the partitions and whether they were lost: finish or abandon their
work; return what to commit (nothing, for lost ones)."""

_BATCH = 500


class Source(Protocol):
    """The loop's view of its input: batches in, pauses and offsets out."""

    @property
    def assigned(self) -> frozenset[TopicPartition]: ...
    @property
    def paused(self) -> frozenset[TopicPartition]: ...
    @property
    def assignment_changed_at(self) -> float: ...
    def takes(self, partition: TopicPartition) -> bool: ...
    async def start(self) -> None: ...
    async def poll(self, timeout_s: float, max_records: int = _BATCH) -> list[InputRecord]: ...
    def take_ends(self) -> set[TopicPartition]: ...
    async def pause_only(self, partitions: set[TopicPartition]) -> None: ...
    def end_offset(self, partition: TopicPartition) -> int | None: ...
    async def rewind(self, record: InputRecord) -> None: ...
    async def commit_async(self, offsets: Offsets) -> bool: ...
    async def watermarks(
        self, partitions: set[TopicPartition], timeout_s: float = 2.0
    ) -> dict[TopicPartition, tuple[int, int]] | None: ...
    async def close(self) -> None: ...


class KafkaSource:
    def __init__(
        self,
        settings: KafkaSettings,
        *,
        on_assign: AssignHook,
        on_revoke: RevokeHook,
        rebalance_timeout_s: float,
        max_poll_interval_ms: int = 300_000,
        also_read: tuple[str, ...] = (),
    ) -> None:
        """`also_read`: topics read beside the input topics by the same group (tracking)."""
        self._config = consumer_config(settings, max_poll_interval_ms)
        self._helper_config = helper_client_config(settings)
        self._consumer = Consumer(self._config)
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kafka-poll")
        self._probe_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kafka-probe")
        self._prober: Consumer | None = None
        self._group_id = settings.group_id
        self._loop: asyncio.AbstractEventLoop | None = None
        self._on_assign = on_assign
        self._on_revoke = on_revoke
        self._rebalance_timeout_s = rebalance_timeout_s
        self._assigned: set[TopicPartition] = set()
        self._paused: set[TopicPartition] = set()
        self._assignment_changed_at = time.monotonic()
        self._topics = [*settings.input_topics, *also_read]
        self._at_end: set[TopicPartition] = set()
        self._closing = False

    @property
    def assigned(self) -> frozenset[TopicPartition]:
        return frozenset(self._assigned)

    @property
    def paused(self) -> frozenset[TopicPartition]:
        return frozenset(self._paused)

    def takes(self, partition: TopicPartition) -> bool:
        """Whether a record of `partition` may be handled now: assigned and not paused.

        Per record, so no copy of the sets is made."""
        return partition in self._assigned and partition not in self._paused

    @property
    def assignment_changed_at(self) -> float:
        """When partitions last came or went (monotonic clock): a fresh partition is not idle."""
        return self._assignment_changed_at

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        await self._in_thread(
            self._consumer.subscribe,
            self._topics,
            on_assign=self._assigned_cb,
            on_revoke=self._revoked_cb,
            on_lost=self._lost_cb,
        )

    async def poll(self, timeout_s: float, max_records: int = _BATCH) -> list[InputRecord]:
        """Up to `max_records` (at least one: polling must go on, paused or not)."""
        size = max(1, min(_BATCH, max_records))
        messages = await self._in_thread(self._fetch, size, timeout_s)
        records = []
        for message in messages:
            error = message.error()
            if error is None:
                records.append(input_record(message))
            elif error.code() == KafkaError._PARTITION_EOF:
                topic, partition = message.topic(), message.partition()
                if topic is not None and partition is not None:
                    self._at_end.add((topic, partition))
            elif error.fatal() or error.code() in AUTHENTICATION_CODES:
                raise_fatal(error)
            else:
                log.warning("kafka: %s", error.str())
        return records

    def _fetch(self, size: int, timeout_s: float) -> list[Message]:
        """What is there, as soon as there is something. librdkafka's consume(n, timeout)
        waits for n messages or the whole timeout: on a trickle of events, every one of
        them waited for the timeout (measured: 1.7 s of a 2 s timeout, against 1 ms)."""
        first = self._consumer.consume(1, timeout_s)
        if not first or size == 1:
            return first
        return first + self._consumer.consume(size - 1, 0)

    def take_ends(self) -> set[TopicPartition]:
        """The partitions whose end the consumer reached since the last call."""
        ends, self._at_end = self._at_end, set()
        return ends

    async def pause(self, partitions: set[TopicPartition]) -> None:
        if partitions & self._assigned - self._paused:
            await self._in_thread(self._pause_now, partitions)

    def _pause_now(self, partitions: set[TopicPartition]) -> None:
        # In the poll thread, where revokes run: never a partition revoked since it was asked.
        fresh = partitions & self._assigned - self._paused
        if fresh:
            self._consumer.pause(_kafka(fresh))
            self._paused |= fresh

    async def resume(self, partitions: set[TopicPartition] | None = None) -> None:
        """Resume these paused partitions (None: all of them)."""
        leaving = self._paused if partitions is None else self._paused & partitions
        if leaving:
            await self._in_thread(self._consumer.resume, _kafka(leaving & self._assigned))
            self._paused -= leaving

    async def pause_only(self, partitions: set[TopicPartition]) -> None:
        """Pause exactly these (of the assigned ones); resume every other paused one."""
        wanted = partitions & self._assigned
        await self.resume(self._paused - wanted)
        await self.pause(wanted)

    def end_offset(self, partition: TopicPartition) -> int | None:
        """The partition's high watermark, asked of the broker (None: no answer). Blocking:
        rebalance use."""
        try:
            # Short: the group waits for this callback, and the end-of-partition the consumer
            # reports later ends a restore as well.
            _, high = self._consumer.get_watermark_offsets(
                KafkaPartition(*partition), timeout=5, cached=False
            )
        except KafkaException as exc:
            log.warning("kafka: no end offset for %s[%d]: %s", *partition, exc)
            return None
        return int(high)

    async def rewind(self, record: InputRecord) -> None:
        """Read this record again later: it came while its partition was to be held."""
        target = KafkaPartition(record.topic, record.partition, record.offset)
        await self._in_thread(self._consumer.seek, target)

    def commit(self, offsets: Offsets) -> bool:
        """Commit synchronously (from the loop or from a rebalance callback); False: it
        failed, and the caller should offer the same offsets again."""
        if not offsets:
            return True
        partitions = [
            KafkaPartition(topic, partition, offset)
            if metadata is None
            else KafkaPartition(topic, partition, offset, metadata=metadata)
            for (topic, partition), (offset, metadata) in offsets.items()
        ]
        try:
            self._consumer.commit(offsets=partitions, asynchronous=False)
        except KafkaException as exc:
            # Refused during a rebalance, or the broker is away: the records are read again
            # later, and the ledger keeps what was sent from being sent twice.
            log.warning("kafka commit failed: %s", exc)
            return False
        return True

    async def commit_async(self, offsets: Offsets) -> bool:
        return bool(await self._in_thread(self.commit, offsets))

    async def watermarks(
        self, partitions: set[TopicPartition], timeout_s: float = 2.0
    ) -> dict[TopicPartition, tuple[int, int]] | None:
        """Low and high watermark of each partition, asked of the broker; None if it did not
        answer within `timeout_s`.

        On a thread of its own: a broker that does not answer holds the probe for seconds,
        and must not hold polling, pausing and commits with it.
        """
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._probe_thread, self._watermarks, sorted(partitions), timeout_s
        )

    def _watermarks(
        self, partitions: list[TopicPartition], timeout_s: float
    ) -> dict[TopicPartition, tuple[int, int]] | None:
        # A client of its own, never subscribed: queries through the group's consumer slowed
        # its recovery after a broker outage fourfold, and the admin client's ListOffsets
        # kept a stale leader epoch after a broker restart and never answered again.
        if self._prober is None:
            self._prober = Consumer({**self._helper_config, "group.id": f"{self._group_id}.probe"})
        found: dict[TopicPartition, tuple[int, int]] = {}
        # One deadline for all: a silent broker must not hold the probe (and a shutdown
        # waiting for it) for the timeout times the partitions.
        deadline = time.monotonic() + timeout_s
        for topic, partition in partitions:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            try:
                low, high = self._prober.get_watermark_offsets(
                    KafkaPartition(topic, partition), timeout=remaining, cached=False
                )
            except KafkaException as exc:
                log.debug("kafka: broker probe failed: %s", exc)
                return None
            found[(topic, partition)] = (low, high)
        return found

    def committed(
        self, partitions: list[TopicPartition]
    ) -> dict[TopicPartition, tuple[int, str | None]]:
        """Committed offsets and metadata (offset < 0: none yet). Blocking: rebalance use."""
        try:
            found = self._consumer.committed(_kafka(set(partitions)), timeout=10)
        except KafkaException as exc:
            error = exc.args[0] if exc.args else None
            if isinstance(error, KafkaError) and error.code() in AUTHORIZATION_CODES:
                raise FatalError(
                    f"Kafka refused to show the group's offsets: {error.str()}; grant io-relay "
                    "Describe and Read on the group and its topics"
                ) from None
            raise TransientError(f"no committed offsets from the broker: {exc}") from None
        failed = [p for p in found if p.error is not None]
        if failed:  # a partition's own error is not "no commit yet": its ledger would look back
            raise TransientError(f"no committed offset for {failed[0].topic}: {failed[0].error}")
        return {(p.topic, p.partition): (p.offset, p.metadata) for p in found}

    async def close(self) -> None:
        try:
            self._probe_thread.shutdown(wait=True)
            if self._prober is not None:
                self._prober.close()
            self._closing = True
            await self._in_thread(self._consumer.close)
        finally:
            group_identity.update(None)  # out of the group: no generation on later lines
            self._thread.shutdown(wait=False)

    async def _in_thread(self, call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, lambda: call(*args, **kwargs))

    def _assigned_cb(self, consumer: Consumer, partitions: list[KafkaPartition]) -> None:
        group_identity.update(group_identity_of(consumer))
        added = [(p.topic, p.partition) for p in partitions]
        if self._closing:
            # Given while leaving the group (a cooperative rebalance under way): the loop has
            # ended, nothing of them is read, and asking the broker for their offsets could
            # hold the close past the shutdown's bound. Their revoke follows.
            log.info(
                "partitions assigned while closing: left as they are",
                extra={"partitions": _names(added)},
            )
            self._assigned.update(added)
            return
        within_budget(
            f"taking partitions {_names(added)}", lambda: self._on_assign(self.committed(added))
        )
        self._assigned.update(added)
        self._assignment_changed_at = time.monotonic()

    def _revoked_cb(self, consumer: Consumer, partitions: list[KafkaPartition]) -> None:
        group_identity.update(group_identity_of(consumer))
        self._give_up(partitions, lost=False)

    def _lost_cb(self, consumer: Consumer, partitions: list[KafkaPartition]) -> None:
        group_identity.update(group_identity_of(consumer))
        log.warning(
            "partitions lost: another member owns them now; their work is dropped, uncommitted",
            extra={"partitions": [[p.topic, p.partition] for p in partitions]},
        )
        self._give_up(partitions, lost=True)

    def _give_up(self, partitions: list[KafkaPartition], *, lost: bool) -> None:
        removed = [(p.topic, p.partition) for p in partitions]
        if self._loop is None:
            raise RuntimeError("KafkaSource.start() was not awaited")
        drained = asyncio.run_coroutine_threadsafe(self._on_revoke(removed, lost), self._loop)
        try:
            offsets = drained.result(timeout=self._rebalance_timeout_s)
            if not lost:
                self.commit(offsets)
        except Exception:  # the partitions go all the same: what was not committed is read again
            drained.cancel()  # overran: it must not go on touching partitions given up
            log.exception("revoking partitions failed; their offsets are not committed")
        finally:  # never a stale assignment: a shutdown must not commit partitions gone
            self._assigned.difference_update(removed)
            self._release_pauses(partitions)
            self._assignment_changed_at = time.monotonic()

    def _release_pauses(self, partitions: list[KafkaPartition]) -> None:
        """librdkafka keeps a partition's pause through its revoke: given back to this member
        later, it would stay paused for good, its records never read. So it leaves resumed."""
        paused = [p for p in partitions if (p.topic, p.partition) in self._paused]
        self._paused.difference_update((p.topic, p.partition) for p in partitions)
        if paused:
            try:
                self._consumer.resume(paused)
            except KafkaException as exc:
                log.warning("kafka: could not resume partitions given up: %s", exc)


def _names(partitions: list[TopicPartition]) -> str:
    return ", ".join(f"{topic}[{partition}]" for topic, partition in sorted(partitions))


def _kafka(partitions: set[TopicPartition]) -> list[KafkaPartition]:
    return [KafkaPartition(topic, partition) for topic, partition in sorted(partitions)]
