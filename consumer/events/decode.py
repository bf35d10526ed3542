"""Decode: Kafka record → a known, valid event, or a DecodeError that says why."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from consumer.errors import DecodeError
from consumer.events.envelope import read_envelope
from consumer.events.input import InputRecord
from consumer.events.registry import Data, EventTypes


@dataclass(frozen=True, slots=True)
class Event:
    id: str
    type: str
    source: str
    subject: str | None
    time: datetime | None
    data: Data
    input: InputRecord


def decode(record: InputRecord, types: EventTypes) -> Event:
    envelope = read_envelope(record)
    try:
        data = types.validate(envelope.type, envelope.data)
    except DecodeError as error:
        raise DecodeError(
            error.reason, field=error.field, event_id=envelope.id, event_type=envelope.type
        ) from None
    return Event(
        id=envelope.id,
        type=envelope.type,
        source=envelope.source,
        subject=envelope.subject,
        time=envelope.time,
        data=data,
        input=record,
    )
