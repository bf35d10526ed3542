"""What `dlq replay --dry-run` says the current rules would do with a dead letter."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from consumer.errors import DecodeError
from consumer.events import EventTypes, InputRecord
from consumer.operations.dead_letters import DeadLetter
from consumer.operations.verdict import verdict
from consumer.report.dlq import dead_letter
from consumer.rules import Rule, load_rules

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


@pytest.fixture(scope="module")
def rules() -> list[Rule]:
    return load_rules([EXAMPLES / "rules"])


def letter_of(data: dict[str, object] | None, *, raw: bytes | None = None) -> DeadLetter:
    event = {
        "specversion": "1.0",
        "id": "e-1",
        "source": "urn:test",
        "type": "payment_notice.issued",
        "data": data,
    }
    original = InputRecord("events", 0, 3, None, raw or json.dumps(event).encode())
    dead = dead_letter(original, DecodeError("was broken", field="data"))
    return DeadLetter("dlq", InputRecord("dlq", 0, 1, dead.key, dead.value, dead.headers))


NOTICE = {
    "recipient_fiscal_code": "AAAAAA00A00A000A",
    "notice_number": "302100000000123456",
    "amount_cents": 18750,
    "description": "TARI 2026, prima rata",
    "category": "TARI",
}


def test_an_event_the_rules_now_send_would_render_naming_rule_and_service(
    rules: list[Rule],
) -> None:
    found = verdict(letter_of(NOTICE), EventTypes(), rules)

    assert (found.would, found.detail) == ("render", "tari-notice → tari")
    assert found.line(letter_of(NOTICE)) == "dlq/0/1  would render: tari-notice → tari"


def test_an_event_still_invalid_would_be_refused_with_the_relays_masked_reason(
    rules: list[Rule],
) -> None:
    found = verdict(letter_of({**NOTICE, "amount_cents": 0}), EventTypes(), rules)

    assert found.would == "refuse"
    assert found.detail.startswith("decode: data.amount_cents:")


def test_an_undecodable_value_would_be_refused_at_decode(rules: list[Rule]) -> None:
    found = verdict(letter_of(None, raw=b'{"specversion": "1.0", "id"'), EventTypes(), rules)

    assert found.would == "refuse"
    assert found.detail.startswith("decode: ")


def test_an_event_no_rule_sends_would_be_skipped() -> None:
    found = verdict(letter_of(NOTICE), EventTypes(), [])

    assert (found.would, found.detail) == ("skip", "no rule sends this event")
