"""The producer behind both report streams: status records and dead letters.

Idempotent, acks=all. The loop commits an offset only after `flush` confirms that every
record produced for it was acknowledged.
"""

from __future__ import annotations

from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from consumer.config import KafkaSettings
from consumer.errors import TransientError
from consumer.report import DeadLetter, StatusRecord


class ReportSink:
    def __init__(self, settings: KafkaSettings) -> None:
        self._status_topic = settings.status_topic
        self._dlq_topic = settings.dlq_topic
        self._failures: list[str] = []
        self._producer = Producer(
            {
                **settings.client,
                "bootstrap.servers": settings.bootstrap_servers,
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 5,
            }
        )

    def status(self, record: StatusRecord) -> None:
        self._produce(self._status_topic, record.key(), record.to_bytes(), None)

    def dead_letter(self, letter: DeadLetter) -> None:
        self._produce(self._dlq_topic, letter.key, letter.value, list(letter.headers))

    def flush(self, timeout_s: float) -> None:
        """Wait for every record produced so far; raise if any was not acknowledged."""
        remaining = self._producer.flush(timeout_s)
        failures, self._failures = self._failures, []
        if remaining or failures:
            reason = failures[0] if failures else f"{remaining} records still unacknowledged"
            raise TransientError(f"report records not acknowledged by Kafka: {reason}")

    def _produce(self, topic: str, key: bytes | None, value: bytes | None, headers: Any) -> None:
        self._producer.produce(
            topic, value=value, key=key, headers=headers, on_delivery=self._acked
        )
        self._producer.poll(0)

    def _acked(self, error: KafkaError | None, _message: Message) -> None:
        if error is not None:
            self._failures.append(error.str())
