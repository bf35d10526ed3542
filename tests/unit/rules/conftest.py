"""Helpers shared by the rules tests: events and one-rule files."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from consumer.events import Event, EventTypes, InputRecord, decode

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"

NOTICE_DATA: dict[str, Any] = {
    "recipient_fiscal_code": "AAAAAA00A00A000A",
    "notice_number": "302100000000123456",
    "amount_cents": 18750,
    "description": "TARI 2026, prima rata",
    "category": "TARI",
}

MARKDOWN = "Gentile contribuente, è disponibile un avviso di pagamento del Comune di Demo. Grazie."


def notice(**data: object) -> Event:
    """A payment_notice.issued event, decoded as the relay would."""
    event = {
        "specversion": "1.0",
        "id": "e-1",
        "source": "urn:test",
        "type": "payment_notice.issued",
        "data": {**NOTICE_DATA, **data},
    }
    return decode(InputRecord("in", 0, 0, None, json.dumps(event).encode()), EventTypes())


RuleWriter = Callable[..., Path]


@pytest.fixture
def rule_file(tmp_path: Path) -> RuleWriter:
    """Writes one payment-notice rule; keyword arguments override its parts."""

    def write(**parts: Any) -> Path:
        rule: dict[str, Any] = {
            "name": "notice",
            "event_type": "payment_notice.issued",
            "service": "tributi",
            "message": {"subject": "Avviso di pagamento", "markdown": MARKDOWN},
            "example": dict(NOTICE_DATA),
        }
        rule.update(parts)
        path = tmp_path / "rules.yaml"
        path.write_text(yaml.safe_dump({"rules": [rule]}, allow_unicode=True, sort_keys=False))
        return path

    return write
