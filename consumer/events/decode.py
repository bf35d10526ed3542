"""Decode: Kafka record → a known, valid event, or a DecodeError that says why."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError

from consumer.errors import DecodeError
from consumer.events.envelope import read_envelope
from consumer.events.input import InputRecord
from consumer.events.types import BUILT_IN_TYPES, EventData


@dataclass(frozen=True, slots=True)
class Event:
    id: str
    type: str
    source: str
    subject: str | None
    time: datetime | None
    data: EventData
    input: InputRecord


def decode(record: InputRecord) -> Event:
    envelope = read_envelope(record)
    known = {"event_id": envelope.id, "event_type": envelope.type}
    model = BUILT_IN_TYPES.get(envelope.type)
    if model is None:
        names = ", ".join(sorted(BUILT_IN_TYPES))
        reason = f"unknown event type {envelope.type!r} (known: {names})"
        raise DecodeError(reason, field="type", **known)
    if not isinstance(envelope.data, dict):
        raise DecodeError("must be a JSON object", field="data", **known)
    try:
        data = model.model_validate(envelope.data)
    except ValidationError as exc:
        first = exc.errors()[0]
        path = ".".join(str(part) for part in ("data", *first["loc"]))
        raise DecodeError(first["msg"], field=path, **known) from None
    return Event(
        id=envelope.id,
        type=envelope.type,
        source=envelope.source,
        subject=envelope.subject,
        time=envelope.time,
        data=data,
        input=record,
    )
