"""Events on disk for `render` and `preview`: structured mode as it is, binary mode as the
demo produces it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from consumer.errors import DecodeError
from consumer.events import EventTypes, decode
from consumer.events.files import read_event_file

EVENTS = Path(__file__).resolve().parents[3] / "examples" / "events"


def test_a_structured_event_is_the_record_value_as_it_is() -> None:
    path = EVENTS / "01-tari-notice.json"

    record = read_event_file(path)

    assert (record.value, record.headers) == (path.read_bytes(), ())
    assert decode(record, EventTypes()).id == "demo-0001"


def test_a_binary_mode_file_becomes_headers_and_value() -> None:
    record = read_event_file(EVENTS / "03-document-ready.binary.json")

    assert dict(record.headers)["ce_id"] == b"demo-0003"
    assert json.loads(record.value or b"")["document_id"] == "CERT-2026-000123"
    event = decode(record, EventTypes())
    assert (event.id, event.type, event.source) == (
        "demo-0003",
        "document.ready",
        "urn:comune-demo:anagrafe",
    )


def test_what_is_not_json_reaches_decode_and_its_reason(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_bytes(b'{"specversion": "1.0", "id": ')

    with pytest.raises(DecodeError):
        decode(read_event_file(path), EventTypes())


def test_a_missing_file_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_event_file(tmp_path / "absent.json")


def test_json_nested_too_deeply_reaches_decode_and_its_reason(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_bytes(b"[" * 100_000 + b"]" * 100_000)

    with pytest.raises(DecodeError, match="nested too deeply"):
        decode(read_event_file(path), EventTypes())


def test_a_header_without_a_value_is_left_out(tmp_path: Path) -> None:
    record = json.loads((EVENTS / "03-document-ready.binary.json").read_text())
    record["headers"]["ce_subject"] = None
    path = tmp_path / "binary.json"
    path.write_text(json.dumps(record))

    assert "ce_subject" not in dict(read_event_file(path).headers)
