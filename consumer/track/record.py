"""The tracking record: everything a later check needs, and what was already published.

One per message under tracking, keyed by IO's message id on a compacted topic: each check
writes the next one (or a tombstone when the message is settled), so the topic holds, per
message, only its latest state. It carries the fiscal code (getMessage needs it): the topic
deserves the input topic's access rules, and the record is never logged.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from consumer.io.models import (
    FeatureLevelType,
    MessageStatus,
    NewMessage,
    PaymentStatus,
    ReadStatus,
)
from consumer.report import InputPosition, StatusRecord


class Seen(BaseModel):
    """What IO had said, as far as it was published on the status topic."""

    model_config = ConfigDict(frozen=True)

    status: MessageStatus = MessageStatus.ACCEPTED
    read_status: ReadStatus | None = None
    payment_status: PaymentStatus | None = None


class TrackingRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    message_id: str
    service: str
    fiscal_code: str = Field(repr=False)
    event_id: str
    event_type: str
    rule: str
    input: InputPosition
    """Where the event was read: lifecycle records go where its SUBMITTED record went."""
    submitted_at: AwareDatetime
    advanced: bool
    """Premium (feature_level_type ADVANCED): IO reports read and payment status."""
    pays: bool
    """The message carries a payment notice."""
    due_date: AwareDatetime | None = None
    seen: Seen = Seen()
    checks: int = 0
    next_check_at: AwareDatetime

    def key(self) -> bytes:
        return self.message_id.encode()

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()


def start_tracking(
    status: StatusRecord, message: NewMessage, first_check_after_s: float
) -> TrackingRecord:
    """The first tracking record of a message IO has just accepted."""
    if status.io_message_id is None or status.event_id is None or status.rule is None:
        raise ValueError("only a SUBMITTED status record, with its message id, starts tracking")
    return TrackingRecord(
        message_id=status.io_message_id,
        service=status.service or "",
        fiscal_code=message.fiscal_code,
        event_id=status.event_id,
        event_type=status.event_type or "",
        rule=status.rule,
        input=status.input,
        submitted_at=status.at,
        advanced=message.feature_level_type is FeatureLevelType.ADVANCED,
        pays=message.content.payment_data is not None,
        due_date=_instant(message.content.due_date),
        next_check_at=status.at + timedelta(seconds=first_check_after_s),
    )


def _instant(timestamp: str | None) -> datetime | None:
    """IO's timestamp (validated on the way in), or None; a naive one is taken as UTC."""
    if timestamp is None:
        return None
    parsed = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
