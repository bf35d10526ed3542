"""Without a database: an event's status records, read from a bounded stretch of the topic.

The stretch (consumer/operations/topic_reader.py) is fixed at the start: from `since` up to
each partition's high watermark as it was then, so the scan ends even while io-relay keeps
writing. Records are picked by key (the event id) before anything is parsed.

A notice takes two passes over the same stretch: the first finds the events whose delivery
records carry the notice number, the second takes every record of those events; one pass
would miss the lifecycle records read, from another partition, before their delivery.
This is for a day or so of records: at scale the history database answers (`io-relay
history`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from consumer.events.input import InputRecord
from consumer.history.records import Located, arranged, located
from consumer.operations.topic_reader import Advance, Stretch
from consumer.redact import mask
from consumer.report import StatusRecord


def by_key(event_ids: Iterable[str]) -> Callable[[InputRecord], bool]:
    """Whether a record belongs to one of these events: its key is the (masked) event id."""
    keys = frozenset(mask(event_id).encode() for event_id in event_ids)
    return lambda record: record.key is not None and record.key in keys


def events_of_notice(found: Iterable[Located], notice_number: str) -> list[str]:
    """The event ids whose records carry the notice, in the order first seen."""
    events: dict[str, None] = {}
    for item in found:
        if item.record.notice_number == notice_number and item.record.event_id is not None:
            events.setdefault(item.record.event_id, None)
    return list(events)


def scan(
    stretch: Stretch,
    *,
    event_id: str | None = None,
    notice_number: str | None = None,
    advance: Advance | None = None,
) -> list[StatusRecord]:
    """The records of the event, or of every event with the notice, in the order printed."""
    events = [event_id] if event_id is not None else []
    if notice_number is not None:
        wanted = notice_number.encode()
        candidates = (
            located(stretch.topic, record.partition, record.offset, record.value)
            for record in stretch.read(advance)
            if record.value is not None and wanted in record.value
        )
        events += events_of_notice((c for c in candidates if c is not None), notice_number)
    if not events:
        return []
    picks = by_key(events)
    found = (
        located(stretch.topic, record.partition, record.offset, record.value)
        for record in stretch.read(advance)
        if picks(record)
    )
    return arranged(item for item in found if item is not None)
