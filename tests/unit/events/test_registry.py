"""Operator-added event types: a JSON Schema dropped into a folder."""

import json
from pathlib import Path

import pytest

from consumer.errors import ConfigurationError, DecodeError
from consumer.events import EventTypes, InputRecord, decode
from consumer.rules import load_rules, render, route

PARKING_FINE = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "x-event-type": "parking_fine.issued",
    "type": "object",
    "required": ["fiscal_code", "plate", "amount_cents"],
    "properties": {
        "fiscal_code": {"type": "string", "pattern": "^[A-Z0-9]{16}$"},
        "plate": {"type": "string", "minLength": 5},
        "amount_cents": {"type": "integer", "minimum": 1},
        "street": {"type": "string"},
    },
    "additionalProperties": False,
}


@pytest.fixture
def schema_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "schemas"
    folder.mkdir()
    (folder / "parking.schema.json").write_text(json.dumps(PARKING_FINE))
    return folder


def event(data: object) -> InputRecord:
    envelope = {
        "specversion": "1.0",
        "id": "f-1",
        "source": "urn:polizia-locale",
        "type": "parking_fine.issued",
        "data": data,
    }
    return InputRecord("in", 0, 0, None, json.dumps(envelope).encode())


def test_operator_type_is_validated_by_its_schema_and_reaches_rules_as_data(
    schema_dir: Path, tmp_path: Path
) -> None:
    types = EventTypes.load([schema_dir])
    rules_file = tmp_path / "fines.yaml"
    rules_file.write_text(
        """
rules:
  - name: parking-fine
    event_type: parking_fine.issued
    service: polizia
    recipient: "{{ data.fiscal_code }}"
    message:
      subject: "Verbale di contravvenzione"
      markdown: |
        È stato emesso un verbale per il veicolo targato {{ data.plate }},
        {{ data.street | default("in una via del Comune") }}, di {{ data.amount_cents | euro }}.
    example: {fiscal_code: AAAAAA00A00A000A, plate: AB123CD, amount_cents: 4200}
"""
    )
    rules = load_rules([rules_file], types)

    decoded = decode(
        event({"fiscal_code": "AAAAAA00A00A000A", "plate": "AB123CD", "amount_cents": 4200}), types
    )
    [rule] = route(rules, decoded)
    body = render(rule, decoded).to_json_body()

    assert decoded.data == {
        "fiscal_code": "AAAAAA00A00A000A",
        "plate": "AB123CD",
        "amount_cents": 4200,
    }
    assert body["fiscal_code"] == "AAAAAA00A00A000A"
    assert "AB123CD" in body["content"]["markdown"]
    assert "parking_fine.issued" in types.known()


@pytest.mark.parametrize(
    ("data", "field", "reason"),
    [
        (
            {"fiscal_code": "AAAAAA00A00A000A", "plate": "AB123CD"},
            "data",
            "missing field amount_cents",
        ),
        (
            {"fiscal_code": "AAAAAA00A00A000A", "plate": "AB1", "amount_cents": 1},
            "data.plate",
            "is shorter than",
        ),
        (
            {"fiscal_code": "x", "plate": "AB123CD", "amount_cents": 1},
            "data.fiscal_code",
            "does not match the pattern",
        ),
    ],
)
def test_operator_type_errors_name_the_field(
    schema_dir: Path, data: object, field: str, reason: str
) -> None:
    with pytest.raises(DecodeError) as caught:
        decode(event(data), EventTypes.load([schema_dir]))

    assert caught.value.field == field
    assert reason in caught.value.reason
    assert caught.value.event_id == "f-1"


def test_a_broken_schema_file_stops_the_start_naming_it(tmp_path: Path) -> None:
    (tmp_path / "broken.schema.json").write_text('{"type": "objekt"}')

    with pytest.raises(ConfigurationError, match=r"broken\.schema\.json: not a valid JSON Schema"):
        EventTypes.load([tmp_path])


def test_an_operator_type_cannot_redefine_a_built_in(tmp_path: Path) -> None:
    (tmp_path / "payment_notice.issued.schema.json").write_text('{"type": "object"}')

    with pytest.raises(ConfigurationError, match="defined twice"):
        EventTypes.load([tmp_path])


def test_required_fields_of_built_in_and_operator_types(schema_dir: Path) -> None:
    types = EventTypes.load([schema_dir])

    assert types.required_fields("parking_fine.issued") == {"fiscal_code", "plate", "amount_cents"}
    assert types.required_fields("document.ready") == {
        "recipient_fiscal_code",
        "document_id",
        "title",
    }
