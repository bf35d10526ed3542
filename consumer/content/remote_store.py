"""Remote content, kept in a compacted Kafka topic and held by every content server.

The relay writes each message's remote content, sealed (AES-GCM, see sealed.py), before it
submits the message; compaction keeps the last value of each key for as long as the topic
lives, which is the message's whole life. Each content-server replica reads the whole topic
from the start into memory and follows it, so any replica answers for any message, after
any restart, with no database to run. The values stay sealed in memory: a record is opened
only to answer the citizen it belongs to.

Partitions are listed at start: after adding some, restart the content servers.

The cost is memory: about the sealed size of each message's remote content (subject and
markdown, typically 1 to 3 KB), for every message ever sent. Past a few million messages a
database would be the better store.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message
from confluent_kafka import TopicPartition as KafkaPartition

from consumer.errors import FatalError

log = logging.getLogger(__name__)

_POLL_S = 0.2
# The topic itself gone or forbidden: no later poll brings it back.
_GONE = frozenset({KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError.TOPIC_AUTHORIZATION_FAILED})
_METADATA_TIMEOUT_S = 30.0


class ContentTopic:
    """A reader of the content topic, on its own thread, from the first record on."""

    def __init__(self, client_config: Mapping[str, Any], topic: str) -> None:
        self._topic = topic
        self._config = {
            **client_config,
            # Never subscribes or commits, only assigns: the id just has to be its own.
            "group.id": f"io-relay-content-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "auto.offset.reset": "earliest",
        }
        self._values: dict[str, bytes] = {}
        self._behind: dict[int, int] = {}
        self._caught_up = threading.Event()
        self._failed = threading.Event()
        self._on_failure: Callable[[], None] = lambda: None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._consumer: Consumer | None = None

    @property
    def caught_up(self) -> bool:
        """Every record written before the start has been read."""
        return self._caught_up.is_set()

    def __len__(self) -> int:
        return len(self._values)

    def get(self, key: str) -> bytes | None:
        return self._values.get(key)

    def start(self) -> None:
        """Assign every partition from the beginning; FatalError if the topic is unusable."""
        consumer = Consumer(self._config)
        try:
            metadata = consumer.list_topics(self._topic, timeout=_METADATA_TIMEOUT_S)
        except KafkaException as exc:
            consumer.close()
            raise FatalError(
                f"cannot describe topic {self._topic!r}: {exc.args[0].str()}; check "
                "kafka.bootstrap_servers and the credentials under kafka.client"
            ) from None
        described = metadata.topics.get(self._topic)
        if described is None or described.error is not None or not described.partitions:
            consumer.close()
            raise FatalError(
                f"topic {self._topic!r} is not usable; create it (cleanup.policy=compact) "
                "as kafka.content_topic"
            )
        partitions = sorted(described.partitions)
        for partition in partitions:
            low, high = consumer.get_watermark_offsets(
                KafkaPartition(self._topic, partition), timeout=_METADATA_TIMEOUT_S
            )
            if high > low:
                self._behind[partition] = int(high)
        consumer.assign([KafkaPartition(self._topic, p, 0) for p in partitions])
        if not self._behind:
            self._caught_up.set()
        self._consumer = consumer
        self._thread = threading.Thread(target=self._follow, name="content-topic", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._consumer is not None:
            self._consumer.close()

    def when_failed(self, callback: Callable[[], None]) -> None:
        """`callback` runs on the reader's thread if it stops for good."""
        self._on_failure = callback
        if self._failed.is_set():
            callback()

    @property
    def failed(self) -> bool:
        """The reader stopped for good: the process should end, to be restarted."""
        return self._failed.is_set()

    @property
    def problems(self) -> list[str]:
        """What keeps this replica from being ready (for /readyz)."""
        if self._failed.is_set():
            return ["the content topic reader stopped (see the log)"]
        return [] if self.caught_up else ["reading the content topic"]

    def _follow(self) -> None:
        """Until stopped; a fault is logged and ends the process (serve.py), which the
        orchestrator restarts, rather than let it answer from a copy that ages."""
        try:
            while not self._stopping.is_set():
                self._take(self._consumer.poll(_POLL_S) if self._consumer else None)
        except Exception:
            log.exception("the content topic reader stopped")
            self._failed.set()
            self._on_failure()

    def _take(self, message: Message | None) -> None:
        if message is None:
            return
        error = message.error()
        if error is not None:
            if error.code() == KafkaError._PARTITION_EOF:
                self._reached(message.partition() or 0, message.offset() or 0)
            elif error.fatal() or error.code() in _GONE:
                raise KafkaException(error)
            else:
                log.warning("content topic: %s", error.str())
            return
        key = message.key()
        try:
            name = key.decode("ascii") if key is not None else None
        except UnicodeDecodeError:
            name = None
        if name is None:
            log.warning("content topic: a record without a readable key, skipped")
        elif message.value() is None:
            self._values.pop(name, None)
        else:
            self._values[name] = message.value() or b""
        self._reached(message.partition() or 0, (message.offset() or 0) + 1)

    def _reached(self, partition: int, next_offset: int) -> None:
        end = self._behind.get(partition)
        if end is not None and next_offset >= end:
            del self._behind[partition]
            if not self._behind:
                self._caught_up.set()
                log.info("content topic read", extra={"records": len(self._values)})
