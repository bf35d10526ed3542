from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from consumer.io.models import NewMessage
from consumer.report import InputPosition, Outcome, StatusRecord
from consumer.track import Seen, TrackingRecord, start_tracking

FISCAL_CODE = "AAAAAA00A00A000A"
AT = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
INPUT = InputPosition(topic="events", partition=1, offset=12)


def submitted(io_message_id: str | None = "01MSG") -> StatusRecord:
    return StatusRecord(
        event_id="evt-1",
        event_type="payment.due",
        rule="payments",
        service="tari",
        outcome=Outcome.SUBMITTED,
        io_message_id=io_message_id,
        attempts=1,
        http_status=201,
        input=INPUT,
        at=AT,
    )


def message(**extra: Any) -> NewMessage:
    content: dict[str, Any] = {"subject": "s" * 10, "markdown": "m" * 80}
    content.update(extra.pop("content", {}))
    body = {"fiscal_code": FISCAL_CODE, "content": content, **extra}
    return NewMessage.model_validate(body, strict=False)  # as a rule renders it


PREMIUM_WITH_PAYMENT = message(
    feature_level_type="ADVANCED",
    content={
        "payment_data": {"amount": 1200, "notice_number": "012345678901234567"},
        "due_date": "2027-03-31T21:59:59.000Z",
    },
)


def test_a_premium_message_with_payment_data_starts_tracking_with_its_due_date() -> None:
    tracked = start_tracking(submitted(), PREMIUM_WITH_PAYMENT, first_check_after_s=30.0)

    assert tracked == TrackingRecord(
        message_id="01MSG",
        service="tari",
        fiscal_code=FISCAL_CODE,
        event_id="evt-1",
        event_type="payment.due",
        rule="payments",
        input=INPUT,
        submitted_at=AT,
        advanced=True,
        pays=True,
        due_date=datetime(2027, 3, 31, 21, 59, 59, tzinfo=UTC),
        seen=Seen(),
        checks=0,
        next_check_at=AT + timedelta(seconds=30),
    )
    assert tracked.due_date is not None
    assert tracked.due_date.utcoffset() == timedelta(0)


def test_a_standard_message_without_payment_data_starts_tracking_as_such() -> None:
    tracked = start_tracking(submitted(), message(), first_check_after_s=45.0)

    assert (tracked.advanced, tracked.pays, tracked.due_date) == (False, False, None)
    assert tracked.next_check_at == AT + timedelta(seconds=45)


def test_a_status_without_a_message_id_starts_no_tracking() -> None:
    with pytest.raises(ValueError, match="message id"):
        start_tracking(submitted(io_message_id=None), message(), first_check_after_s=30.0)


def test_the_fiscal_code_never_shows_in_the_repr() -> None:
    tracked = start_tracking(submitted(), PREMIUM_WITH_PAYMENT, first_check_after_s=30.0)

    assert FISCAL_CODE not in repr(tracked)
    assert FISCAL_CODE not in str(tracked)


def test_a_record_survives_its_trip_through_bytes() -> None:
    tracked = start_tracking(submitted(), PREMIUM_WITH_PAYMENT, first_check_after_s=30.0)

    assert TrackingRecord.model_validate_json(tracked.to_bytes()) == tracked
    assert tracked.key() == b"01MSG"


@pytest.mark.parametrize("field", ["next_check_at", "submitted_at", "due_date"])
def test_a_record_with_a_naive_instant_is_refused_when_read(field: str) -> None:
    tracked = start_tracking(submitted(), PREMIUM_WITH_PAYMENT, first_check_after_s=30.0)
    written = tracked.model_dump(mode="json")
    written[field] = "2027-03-01T09:00:30"  # hand-written, without an offset

    with pytest.raises(ValidationError, match=field):
        TrackingRecord.model_validate_json(json.dumps(written))
