"""What the source hands to the pipeline: one Kafka record, detached from the client library."""

from __future__ import annotations

from dataclasses import dataclass, field

Headers = tuple[tuple[str, bytes], ...]


@dataclass(frozen=True, slots=True)
class InputRecord:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Headers = field(default=())
    timestamp_ms: int | None = None

    def header(self, name: str) -> bytes | None:
        """The last value of a header, as Kafka clients conventionally read it."""
        for key, value in reversed(self.headers):
            if key == name:
                return value
        return None
