import json

import pytest

from consumer.errors import DecodeError
from consumer.events import EventTypes, InputRecord, decode
from consumer.events.types import DocumentReady, PaymentNoticeIssued

TYPES = EventTypes()

NOTICE = {
    "recipient_fiscal_code": "AAAAAA00A00A000A",
    "notice_number": "3021 0000 0000 1234 56",
    "amount_cents": 18750,
    "description": "TARI 2026",
}


def structured(data: object, **attributes: object) -> InputRecord:
    event: dict[str, object] = {
        "specversion": "1.0",
        "id": "e-1",
        "source": "urn:test",
        "type": "payment_notice.issued",
    }
    event.update(attributes)
    event["data"] = data
    return InputRecord("in", 0, 7, b"key", json.dumps(event).encode())


def test_structured_event_decodes_with_normalised_notice_number() -> None:
    event = decode(structured(NOTICE), TYPES)

    assert event.id == "e-1"
    assert event.type == "payment_notice.issued"
    assert isinstance(event.data, PaymentNoticeIssued)
    assert event.data.notice_number == "302100000000123456"
    assert event.input.offset == 7


def test_binary_event_reads_attributes_from_ce_headers() -> None:
    headers = (
        ("ce_specversion", b"1.0"),
        ("ce_id", b"e-2"),
        ("ce_source", b"urn:test"),
        ("ce_type", b"document.ready"),
        ("content-type", b"application/json"),
    )
    data = {"recipient_fiscal_code": "AAAAAA00A00A000A", "document_id": "d1", "title": "T"}
    record = InputRecord("in", 0, 0, None, json.dumps(data).encode(), headers)

    event = decode(record, TYPES)

    assert (event.id, event.type) == ("e-2", "document.ready")
    assert isinstance(event.data, DocumentReady)
    assert event.data.document_id == "d1"


@pytest.mark.parametrize(
    ("record", "field", "reason"),
    [
        (InputRecord("in", 0, 0, None, b"{not json"), "value", "is not JSON"),
        (InputRecord("in", 0, 0, None, None), "value", "tombstone"),
        (InputRecord("in", 0, 0, None, b'{"a": "\xc3\x28"}'), "value", "UTF-8"),
        (InputRecord("in", 0, 0, None, b"[1, 2]"), "value", "JSON object"),
        (structured(NOTICE, specversion="0.3"), "specversion", "match pattern"),
        (structured(NOTICE, type="parking.fine"), "type", "unknown event type"),
        (structured({**NOTICE, "amount_cents": 0}), "data.amount_cents", "greater than 0"),
        (structured({**NOTICE, "amount_cents": "10"}), "data.amount_cents", "integer"),
        (structured({**NOTICE, "notice_number": "12"}), "data.notice_number", "18 digits"),
        (
            structured({**NOTICE, "recipient_fiscal_code": "nope"}),
            "data.recipient_fiscal_code",
            "at least 16",
        ),
        (structured([1]), "data", "JSON object"),
        (structured(NOTICE, datacontenttype="application/xml"), "datacontenttype", "JSON data"),
    ],
)
def test_invalid_input_is_a_decode_error_naming_the_field(
    record: InputRecord, field: str, reason: str
) -> None:
    with pytest.raises(DecodeError) as caught:
        decode(record, TYPES)

    assert caught.value.field == field
    assert reason in caught.value.reason
    assert caught.value.stage == "decode"


def test_decode_error_keeps_the_id_and_type_of_a_readable_envelope() -> None:
    with pytest.raises(DecodeError) as caught:
        decode(structured({**NOTICE, "amount_cents": 0}), TYPES)

    assert (caught.value.event_id, caught.value.event_type) == ("e-1", "payment_notice.issued")


def test_document_download_url_must_be_https() -> None:
    data = {
        "recipient_fiscal_code": "AAAAAA00A00A000A",
        "document_id": "d1",
        "title": "T",
        "download_url": "http://example.org/d1",
    }
    record = structured(data, type="document.ready")

    with pytest.raises(DecodeError, match="https"):
        decode(record, TYPES)
