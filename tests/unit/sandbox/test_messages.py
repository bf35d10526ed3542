"""The message store: statuses over time, visibility, the getMessage view."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from consumer.io.models import NewMessage
from consumer.sandbox.auth import Caller, key_fingerprint
from consumer.sandbox.messages import MessageStore

FISCAL_CODE = "AAAAAA00A00A000A"
CALLER = Caller("key-1", "tari", "comune", "12345678901")
RECEIVED = datetime(2026, 3, 1, 10, 0, 0, 123456, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def body(**extra: Any) -> dict[str, Any]:
    content = {"subject": "Avviso TARI 2026", "markdown": "x" * 80}
    return {"fiscal_code": FISCAL_CODE, "content": content, **extra}


def stored(store: MessageStore, raw: dict[str, Any], *, deliverable: bool = True) -> str:
    encoded = json.dumps(raw).encode()
    message = NewMessage.model_validate_json(encoded)
    return store.add(CALLER, message, encoded, deliverable=deliverable)


def new_store(clock: Clock) -> MessageStore:
    return MessageStore(1.5, monotonic=clock, wall_clock=lambda: RECEIVED)


def test_accepted_until_the_processing_delay_then_processed() -> None:
    clock = Clock()
    store = new_store(clock)
    found = store.find(stored(store, body()), FISCAL_CODE, "tari")
    assert found is not None

    assert store.status(found) == "ACCEPTED"
    clock.now += 1.49
    assert store.status(found) == "ACCEPTED"
    clock.now += 0.01
    assert store.status(found) == "PROCESSED"


def test_undeliverable_messages_end_rejected() -> None:
    clock = Clock()
    store = new_store(clock)
    found = store.find(stored(store, body(), deliverable=False), FISCAL_CODE, "tari")
    assert found is not None

    assert store.status(found) == "ACCEPTED"
    clock.now += 2
    assert store.status(found) == "REJECTED"


def test_only_the_recipient_and_the_sending_service_find_it() -> None:
    store = new_store(Clock())
    message_id = stored(store, body())

    assert store.find(message_id, FISCAL_CODE, "tari") is not None
    assert store.find(message_id, "BBBBBB00B00B000B", "tari") is None
    assert store.find(message_id, FISCAL_CODE, "other-service") is None
    assert store.find("01ARZ3NDEKTSV4RRFFQ69G5FAV", FISCAL_CODE, "tari") is None


def test_standard_view_has_defaults_and_no_premium_fields() -> None:
    store = new_store(Clock())
    message_id = stored(store, body())
    found = store.find(message_id, FISCAL_CODE, "tari")
    assert found is not None

    assert store.view(found) == {
        "message": {
            "id": message_id,
            "fiscal_code": FISCAL_CODE,
            "content": {"subject": "Avviso TARI 2026", "markdown": "x" * 80},
            "time_to_live": 3600,
            "created_at": "2026-03-01T10:00:00.123Z",
            "sender_service_id": "tari",
            "feature_level_type": "STANDARD",
        },
        "status": "ACCEPTED",
    }


def test_advanced_view_has_read_and_payment_status_and_a_payee() -> None:
    store = new_store(Clock())
    payment = {"amount": 100, "notice_number": "012345678901234567"}
    raw = body(feature_level_type="ADVANCED", time_to_live=7200)
    raw["content"]["payment_data"] = payment
    found = store.find(stored(store, raw), FISCAL_CODE, "tari")
    assert found is not None

    view = store.view(found)

    assert view["read_status"] == "UNREAD"
    assert view["payment_status"] == "NOT_PAID"
    assert view["message"]["time_to_live"] == 7200
    assert view["message"]["feature_level_type"] == "ADVANCED"
    assert view["message"]["content"]["payment_data"] == {
        **payment,
        "invalid_after_due_date": False,
        "payee": {"fiscal_code": "12345678901"},  # the sender's organisation
    }


def test_advanced_without_payment_has_no_payment_status() -> None:
    store = new_store(Clock())
    found = store.find(stored(store, body(feature_level_type="ADVANCED")), FISCAL_CODE, "tari")
    assert found is not None
    view = store.view(found)
    assert view["read_status"] == "UNREAD"
    assert "payment_status" not in view


def test_records_keep_arrival_order_and_the_body_as_sent() -> None:
    store = new_store(Clock())
    first = stored(store, body(unknown_field=1))
    second = stored(store, body())

    records = store.records()

    assert [r["id"] for r in records] == [first, second]
    assert records[0] == {
        "id": first,
        "fiscal_code": FISCAL_CODE,
        "service": "tari",
        "key_fingerprint": key_fingerprint("key-1"),
        "body": body(unknown_field=1),
        "received_at": "2026-03-01T10:00:00.123Z",
    }
    store.clear()
    assert store.records() == []
