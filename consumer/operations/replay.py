"""Replay: dead letters back to their input topic, each one once, however often it is run.

The replay ledger is a compacted topic (`kafka.replay_topic`) keyed by the letter's origin:
the input topic, partition and offset it was first read from. Not by its place in the DLQ:
the relay may dead-letter one input record twice (read again after a crash, or its DLQ
record acknowledged and its status record not), and both copies must make one replay. An
origin is unique even for a letter of a replayed record, which has an input offset of its
own.

A replayed record and its ledger entry are written in one Kafka transaction, so either both
are there or neither: a replay cut short by a crash, a signal or a broker failure leaves no
record replayed without its entry, and the next run replays only what is left. The relay
reads committed records only (`isolation.level` is io-relay's to set, not kafka.client's), so
it never sees a replayed record whose transaction was aborted; one left open holds the
relay's partitions back for `transaction.timeout.ms` at most, hence a short one.

The transactional id is fixed per DLQ topic: a second `replay` started while one runs fences
the first out (its next commit fails, nothing it had not committed is replayed) instead of
racing it, and starting a replay aborts whatever transaction a dead predecessor left open.
Only then is the ledger read, so it holds every entry that will ever commit before ours.

A replayed record keeps the letter's `io-relay.sent` header (the rules of its event that had
reached IO before it was dead-lettered): the relay does not send those again. It goes to the
partition it was first read from, so the upstream's key → partition mapping (and the order
of that key's later events) is the upstream's own, not librdkafka's partitioner's.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType

from confluent_kafka import KafkaError, KafkaException, Producer

from consumer.config import KafkaSettings
from consumer.errors import FatalError
from consumer.operations.dead_letters import DeadLetter
from consumer.operations.topic_reader import read_topic
from consumer.report.dlq import REPLAY_HEADER, SENT_HEADER
from consumer.runtime.librdkafka import helper_client_config

BATCH = 1_000
"""Dead letters per transaction: few commits, and little to redo after a crash."""
TRANSACTION_TIMEOUT_MS = 15_000
"""How long an abandoned transaction can hold the relay's partitions back."""
_TIMEOUT_S = 30.0
_ANY_PARTITION = -1
"""librdkafka's RD_KAFKA_PARTITION_UA: the partitioner chooses."""


def replayed_origins(settings: KafkaSettings) -> set[str]:
    """The origins of every dead letter already replayed, from the ledger."""
    return {
        record.key.decode(errors="replace")
        for record in read_topic(settings, settings.replay_topic)
        if record.key is not None and record.value is not None
    }


@dataclass(slots=True)
class ReplayCount:
    replayed: int = 0
    already: int = 0
    """Skipped: an earlier run (or an earlier copy in this one) replayed their origin."""
    elsewhere: dict[str, int] = field(default_factory=dict)
    """Skipped: from a topic this configuration does not read (the tracking topic, say)."""


class Replayer:
    """A transactional producer that writes replayed records with their ledger entries.

    Made, it has fenced any other replayer of this DLQ and read the ledger: `done` is every
    origin replayed so far."""

    def __init__(self, settings: KafkaSettings) -> None:
        self._settings = settings
        self._partitions: dict[str, int] = {}
        try:
            self._producer = Producer(
                {
                    **helper_client_config(settings),
                    "transactional.id": f"io-relay-replay.{settings.dlq_topic}",
                    "enable.idempotence": True,
                    "linger.ms": 20,
                    "transaction.timeout.ms": TRANSACTION_TIMEOUT_MS,
                }
            )
            self._producer.init_transactions(_TIMEOUT_S)
        except KafkaException as exc:
            raise FatalError(f"cannot start a replay transaction: {_words(exc)}") from None
        self.done = replayed_origins(settings)

    def replay(
        self, letters: Iterable[DeadLetter], progress: Callable[[int], None] = lambda _n: None
    ) -> ReplayCount:
        """Replay each letter whose origin is not done yet to its input topic; `progress(n)`
        after each commit."""
        count = ReplayCount()
        inputs = set(self._settings.input_topics)
        batch: dict[str, DeadLetter] = {}
        for letter in letters:
            origin = letter.origin
            if origin is None or letter.input_topic not in inputs:
                name = letter.input_topic or "no input topic"
                count.elsewhere[name] = count.elsewhere.get(name, 0) + 1
                continue
            if origin in self.done or origin in batch:
                count.already += 1
                continue
            batch[origin] = letter
            if len(batch) >= BATCH:
                self._commit(batch, count, progress)
        if batch:
            self._commit(batch, count, progress)
        return count

    def _commit(
        self, batch: dict[str, DeadLetter], count: ReplayCount, progress: Callable[[int], None]
    ) -> None:
        try:
            self._producer.begin_transaction()
            for origin, letter in batch.items():
                self._send(origin, letter)
            self._producer.commit_transaction(_TIMEOUT_S)
        except KafkaException as exc:
            self._abort()
            raise FatalError(
                f"replay stopped, {count.replayed} replayed before this: {_words(exc)}; "
                "run it again to replay the rest"
            ) from None
        except BaseException:  # SIGINT, SIGTERM (see cli_dlq), anything unforeseen
            self._abort()
            raise
        self.done.update(batch)
        count.replayed += len(batch)
        progress(len(batch))
        batch.clear()

    def _send(self, origin: str, letter: DeadLetter) -> None:
        topic = letter.input_topic or ""
        partition = letter.input_partition
        if partition is None or partition >= self._partition_count(topic):
            partition = _ANY_PARTITION  # a topic recreated smaller, a header edited by hand
        headers: list[tuple[str, str | bytes | None]] = [
            *letter.original_headers,
            (REPLAY_HEADER, letter.position.encode()),
        ]
        if letter.sent:
            headers.append((SENT_HEADER, ",".join(sorted(letter.sent)).encode()))
        entry = {"replayed_at": datetime.now(UTC).isoformat(), "from": letter.position}
        self._produce(
            topic, letter.record.key, letter.record.value, headers=headers, partition=partition
        )
        self._produce(self._settings.replay_topic, origin.encode(), json.dumps(entry).encode())

    def _produce(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        *,
        headers: list[tuple[str, str | bytes | None]] | None = None,
        partition: int = _ANY_PARTITION,
    ) -> None:
        while True:
            try:
                self._producer.produce(
                    topic, key=key, value=value, headers=headers, partition=partition
                )
                break
            except BufferError:  # the local queue is full: let deliveries drain it
                self._producer.poll(0.1)
        self._producer.poll(0)

    def _partition_count(self, topic: str) -> int:
        if topic not in self._partitions:
            metadata = self._producer.list_topics(topic, timeout=_TIMEOUT_S).topics.get(topic)
            if metadata is None or metadata.error is not None:
                raise FatalError(f"input topic {topic} does not exist")
            self._partitions[topic] = len(metadata.partitions)
        return self._partitions[topic]

    def _abort(self) -> None:
        # Fenced or gone: the transaction coordinator aborts it on its own, within
        # TRANSACTION_TIMEOUT_MS.
        with contextlib.suppress(KafkaException):
            self._producer.abort_transaction(_TIMEOUT_S)

    def close(self) -> None:
        self._producer.flush(_TIMEOUT_S)

    def __enter__(self) -> Replayer:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _words(exc: KafkaException) -> str:
    error = exc.args[0] if exc.args else None
    if isinstance(error, KafkaError):
        if error.code() in {KafkaError._FENCED, KafkaError.PRODUCER_FENCED}:
            return "another io-relay dlq replay started on this DLQ and took over"
        return str(error.str())
    return str(exc)
