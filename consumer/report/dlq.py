"""Dead-letter records: the original record, untouched, plus headers that say why."""

from __future__ import annotations

from dataclasses import dataclass

from consumer.errors import InvalidEvent
from consumer.events import InputRecord
from consumer.events.input import Headers

HEADER_PREFIX = "io-relay."


@dataclass(frozen=True, slots=True)
class DeadLetter:
    key: bytes | None
    value: bytes | None
    headers: Headers


def dead_letter(record: InputRecord, error: InvalidEvent) -> DeadLetter:
    reasons = {
        "stage": error.stage,
        "reason": str(error),
        "input.topic": record.topic,
        "input.partition": str(record.partition),
        "input.offset": str(record.offset),
    }
    extra = tuple((HEADER_PREFIX + name, value.encode()) for name, value in reasons.items())
    return DeadLetter(record.key, record.value, record.headers + extra)
