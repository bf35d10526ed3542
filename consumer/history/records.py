"""Status records as the history holds them: each with the place it was read from, and the
order a reader wants them in.

The place (status topic, partition, offset) is the record's identity: reading it twice, after
a crash between a database commit and a Kafka commit, must not make it twice. The order is
the one `io-relay status` prints: an event's delivery first, then its lifecycle, by time;
several events (one notice, paid in two events) one after the other, the earliest first.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError

from consumer.report import Stage, StatusRecord


@dataclass(frozen=True, slots=True)
class Located:
    """A status record, where it was read, and its JSON as it was published."""

    topic: str
    partition: int
    offset: int
    record: StatusRecord
    raw: str
    """Kept whole: fields a newer io-relay added survive into the database."""


def located(topic: str, partition: int, offset: int, value: bytes | None) -> Located | None:
    """The record at that place; None when the value is no status record (not io-relay's,
    or not JSON), which the caller reports by place, never by content."""
    if not value:
        return None
    try:
        raw = value.decode()
        record = StatusRecord.model_validate_json(raw)
    except (UnicodeDecodeError, ValidationError):
        return None
    return Located(topic, partition, offset, record, raw)


def order_key(item: Located) -> tuple[bool, datetime, int, int]:
    """Delivery before lifecycle, then by time; the place breaks ties, as in the database."""
    return (item.record.stage is not Stage.DELIVERY, item.record.at, item.partition, item.offset)


def arranged(items: Iterable[Located]) -> list[StatusRecord]:
    """Grouped by event, the event with the earliest record first; each event in `order_key`
    order."""
    by_event: dict[str | None, list[Located]] = {}
    for item in items:
        by_event.setdefault(item.record.event_id, []).append(item)
    events = sorted(by_event.values(), key=lambda group: min(i.record.at for i in group))
    return [item.record for group in events for item in sorted(group, key=order_key)]
