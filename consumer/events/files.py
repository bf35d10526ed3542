"""An event on disk, for the tools that take one (`render`, `preview`): either the record's
value as it is (a CloudEvent in structured mode), or a binary-mode CloudEvent written as
`{"headers": {...}, "data": ...}`, its headers as the Kafka headers and `data` as the value
(examples/events/*.binary.json, which the demo produces that way)."""

from __future__ import annotations

import json
from pathlib import Path

from consumer.events.input import InputRecord


def read_event_file(path: Path) -> InputRecord:
    """The record the file stands for; raises OSError. Bytes that are not JSON go to
    decode as they are, which says what is wrong with them."""
    raw = path.read_bytes()
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError):
        document = None
    if _binary_mode(document):
        headers = tuple(
            (str(name), text.encode() if isinstance(text, str) else json.dumps(text).encode())
            for name, text in document["headers"].items()
            if text is not None  # a header without a value: as if absent
        )
        value = json.dumps(document["data"], ensure_ascii=False).encode()
        return InputRecord(path.name, 0, 0, None, value, headers)
    return InputRecord(path.name, 0, 0, None, raw)


def _binary_mode(document: object) -> bool:
    return (
        isinstance(document, dict)
        and "specversion" not in document
        and isinstance(document.get("headers"), dict)
        and "data" in document
    )
