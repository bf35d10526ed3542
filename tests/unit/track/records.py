"""One tracking record factory for the track tests: each test names only what it is about."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from consumer.report import InputPosition
from consumer.track import Seen, TrackingRecord

SUBMITTED = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
INPUT = InputPosition(topic="events", partition=2, offset=41)
FISCAL_CODE = "AAAAAA00A00A000A"


def after(seconds: float) -> datetime:
    return SUBMITTED + timedelta(seconds=seconds)


def tracking_record(
    *,
    message_id: str = "01MSG",
    service: str = "tari",
    checks: int = 0,
    seen: Seen | None = None,
    advanced: bool = False,
    pays: bool = False,
    due_date: datetime | None = None,
    next_check_at: datetime = SUBMITTED,
) -> TrackingRecord:
    """A message submitted at SUBMITTED by rule `payments` of event `evt-1`."""
    return TrackingRecord(
        message_id=message_id,
        service=service,
        fiscal_code=FISCAL_CODE,
        event_id="evt-1",
        event_type="payment.due",
        rule="payments",
        input=INPUT,
        submitted_at=SUBMITTED,
        advanced=advanced,
        pays=pays,
        due_date=due_date,
        seen=seen or Seen(),
        checks=checks,
        next_check_at=next_check_at,
    )
