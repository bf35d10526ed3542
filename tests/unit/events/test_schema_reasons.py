"""An operator type's decode errors name the keyword and the field, never the value."""

from __future__ import annotations

from typing import Any

import pytest

from consumer.errors import DecodeError
from consumer.events.registry import EventTypes
from consumer.io.models import FISCAL_CODE_PATTERN

CODE = "rssmra85t10a562s"
SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["recipient_fiscal_code", "amount"],
    "additionalProperties": False,
    "properties": {
        "recipient_fiscal_code": {
            "type": "string",
            "pattern": FISCAL_CODE_PATTERN,
            "minLength": 16,
        },
        "amount": {"type": "integer", "minimum": 1},
        "kind": {"enum": ["tari", "imu"]},
        "email": {"type": "string", "format": "email"},
        "tags": {"type": "array", "maxItems": 1, "uniqueItems": True},
    },
    "dependentRequired": {"kind": ["email"]},
}
GOOD = {"recipient_fiscal_code": "RSSMRA85T10A562S", "amount": 1}


@pytest.mark.parametrize(
    ("data", "field", "reason"),
    [
        (
            {**GOOD, "recipient_fiscal_code": CODE},
            "data.recipient_fiscal_code",
            "does not match the pattern",
        ),
        (
            {**GOOD, "recipient_fiscal_code": CODE[:15]},
            "data.recipient_fiscal_code",
            "does not match the pattern",
        ),
        ({**GOOD, "recipient_fiscal_code": 5}, "data.recipient_fiscal_code", "must be a string"),
        ({**GOOD, "iban": CODE}, "data", "unexpected field iban"),
        ({"amount": 1}, "data", "missing field recipient_fiscal_code"),
        ({**GOOD, "amount": 0}, "data.amount", "is less than 1"),
        (
            {**GOOD, "kind": CODE, "email": "a@b.it"},
            "data.kind",
            "is not one of the allowed values",
        ),
        ({**GOOD, "kind": "tari"}, "data", "missing field email, which kind needs"),
        ({**GOOD, "tags": [CODE, CODE]}, "data.tags", "has more than 1 items"),
    ],
)
def test_a_reason_names_and_never_quotes(data: dict[str, Any], field: str, reason: str) -> None:
    types = EventTypes({"tax.due": SCHEMA})

    with pytest.raises(DecodeError) as caught:
        types.validate("tax.due", data)

    assert caught.value.field == field
    assert caught.value.reason == reason
    assert CODE.upper()[:15] not in str(caught.value).upper()


def test_a_field_name_that_is_a_code_is_masked() -> None:
    types = EventTypes({"tax.due": SCHEMA})

    with pytest.raises(DecodeError) as caught:
        types.validate("tax.due", {**GOOD, CODE: 1})

    assert str(caught.value) == "data: unexpected field rss**********62s".replace(
        "rss", "RSS"
    ).replace("62s", "62S")
