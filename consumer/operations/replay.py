"""Replay: dead letters back to their input topic, each one once, however often it is run.

The replay ledger is a compacted topic (`kafka.replay_topic`) keyed by the dead letter's
position. A replayed record and its ledger entry are written in one Kafka transaction, so
either both are there or neither: a replay cut short by a crash, a SIGTERM or a broker
failure leaves no record replayed without its entry, and the next run replays only what is
left. The relay reads committed records only (librdkafka's default, which io-relay does not
change), so it never sees a replayed record whose transaction was aborted.

The transactional id is fixed per DLQ topic: a second `replay` started while one runs fences
the first out (its next commit fails, nothing it had not committed is replayed) instead of
racing it, and starting a replay aborts whatever transaction a dead predecessor left open.

A replayed record keeps the letter's `io-relay.sent` header (the rules of its event that had
reached IO before it was dead-lettered): the relay does not send those again.

The replayed record goes to the partition it was first read from, so the upstream's key →
partition mapping (and the order of that key's later events) is the upstream's own, not
librdkafka's partitioner's.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from confluent_kafka import KafkaError, KafkaException, Producer

from consumer.config import KafkaSettings
from consumer.errors import FatalError
from consumer.operations.dead_letters import DeadLetter
from consumer.operations.topic_reader import read_topic
from consumer.report.dlq import REPLAY_HEADER, SENT_HEADER
from consumer.runtime.source import helper_client_config

BATCH = 1_000
"""Dead letters per transaction: few commits, and little to redo after a crash."""
_TIMEOUT_S = 60.0
_ANY_PARTITION = -1
"""librdkafka's RD_KAFKA_PARTITION_UA: the partitioner chooses."""


def replayed_positions(settings: KafkaSettings) -> set[str]:
    """The positions of every dead letter already replayed, from the ledger."""
    return {
        record.key.decode()
        for record in read_topic(settings, settings.replay_topic)
        if record.key is not None and record.value is not None
    }


@dataclass(slots=True)
class ReplayCount:
    replayed: int = 0
    already: int = 0
    """Skipped: the ledger says an earlier run replayed them."""
    elsewhere: dict[str, int] = field(default_factory=dict)
    """Skipped: from a topic this configuration does not read (the tracking topic, say)."""


class Replayer:
    """A transactional producer that writes replayed records with their ledger entries."""

    def __init__(self, settings: KafkaSettings) -> None:
        self._settings = settings
        self._producer = Producer(
            {
                **helper_client_config(settings),
                "transactional.id": f"io-relay-replay.{settings.dlq_topic}",
                "enable.idempotence": True,
                "linger.ms": 20,
                "transaction.timeout.ms": 120_000,
            }
        )
        try:
            # Fences any earlier replayer and aborts the transaction it left open: only then
            # is the ledger read, so it holds every entry that will ever commit before us.
            self._producer.init_transactions(_TIMEOUT_S)
        except KafkaException as exc:
            raise FatalError(f"cannot start a replay transaction: {_words(exc)}") from None

    def replay(
        self,
        letters: Iterable[DeadLetter],
        done: set[str],
        progress: Callable[[int], None] = lambda _n: None,
    ) -> ReplayCount:
        """Replay each letter not in `done` to its input topic; `progress(n)` after each
        commit. `done` is updated as transactions commit."""
        count = ReplayCount()
        inputs = set(self._settings.input_topics)
        batch: list[DeadLetter] = []
        for letter in letters:
            if letter.position in done:
                count.already += 1
                continue
            topic = letter.input_topic
            if topic not in inputs:
                name = topic or "no input topic"
                count.elsewhere[name] = count.elsewhere.get(name, 0) + 1
                continue
            batch.append(letter)
            if len(batch) >= BATCH:
                self._commit(batch, done, count, progress)
        if batch:
            self._commit(batch, done, count, progress)
        return count

    def _commit(
        self,
        batch: list[DeadLetter],
        done: set[str],
        count: ReplayCount,
        progress: Callable[[int], None],
    ) -> None:
        partitions = self._partitions({letter.input_topic or "" for letter in batch})
        try:
            self._producer.begin_transaction()
            for letter in batch:
                self._send(letter, partitions)
            self._producer.commit_transaction(_TIMEOUT_S)
        except KafkaException as exc:
            self._abort()
            raise FatalError(
                f"replay stopped, {count.replayed} replayed before this: {_words(exc)}; "
                "run it again to replay the rest"
            ) from None
        done.update(letter.position for letter in batch)
        count.replayed += len(batch)
        progress(len(batch))
        batch.clear()

    def _send(self, letter: DeadLetter, partitions: dict[str, int]) -> None:
        topic = letter.input_topic or ""
        partition = letter.input_partition
        if partition is None or partition >= partitions[topic]:
            partition = _ANY_PARTITION  # a topic recreated smaller, a header edited by hand
        headers: list[tuple[str, str | bytes | None]] = [
            *letter.original_headers,
            (REPLAY_HEADER, letter.position.encode()),
        ]
        if letter.sent:
            headers.append((SENT_HEADER, ",".join(sorted(letter.sent)).encode()))
        self._producer.produce(
            topic,
            key=letter.record.key,
            value=letter.record.value,
            headers=headers,
            partition=partition,
        )
        entry = {
            "replayed_at": datetime.now(UTC).isoformat(),
            "to": topic,
            "stage": letter.stage,
        }
        self._producer.produce(
            self._settings.replay_topic,
            key=letter.position.encode(),
            value=json.dumps(entry).encode(),
        )
        self._producer.poll(0)

    def _partitions(self, topics: set[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        for topic in topics:
            metadata = self._producer.list_topics(topic, timeout=_TIMEOUT_S).topics.get(topic)
            if metadata is None or metadata.error is not None:
                raise FatalError(f"input topic {topic} does not exist")
            found[topic] = len(metadata.partitions)
        return found

    def _abort(self) -> None:
        # Fenced or gone: the transaction coordinator aborts it on its own.
        with contextlib.suppress(KafkaException):
            self._producer.abort_transaction(_TIMEOUT_S)

    def close(self) -> None:
        self._producer.flush(_TIMEOUT_S)


def _words(exc: KafkaException) -> str:
    error = exc.args[0] if exc.args else None
    if isinstance(error, KafkaError):
        if error.code() == KafkaError._FENCED or error.code() == KafkaError.PRODUCER_FENCED:
            return "another io-relay dlq replay started on this DLQ and took over"
        return str(error.str())
    return str(exc)
