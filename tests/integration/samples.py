"""The sample events of examples/events, as Kafka records, with the outcome each must get."""

from __future__ import annotations

import json
from pathlib import Path

from tests.fixtures.kafka_io import Record

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

# event id (None: undecodable) → (rule, outcome), in file order.
EXPECTED_OUTCOMES: list[tuple[str | None, str | None, str]] = [
    ("demo-0001", "tari-notice", "SUBMITTED"),
    ("demo-0002", "generic-notice", "SUBMITTED"),
    ("demo-0003", "document-ready", "SUBMITTED"),
    ("demo-0004", "tari-notice", "NOT_SENT_PROFILE_NOT_FOUND"),
    ("demo-0005", "document-ready", "NOT_SENT_SENDER_NOT_ALLOWED"),
    ("demo-0006", None, "SKIPPED"),
    ("demo-0007", None, "INVALID"),  # amount 0: the envelope is readable, the data is not
    (None, None, "INVALID"),
]


def sample_records() -> list[Record]:
    records: list[Record] = []
    for path in sorted((EXAMPLES / "events").iterdir()):
        key = path.name.split(".")[0].encode()
        if path.name.endswith(".binary.json"):
            sent = json.loads(path.read_text())
            headers = [(name, value.encode()) for name, value in sent["headers"].items()]
            records.append((key, json.dumps(sent["data"]).encode(), headers))
        else:
            records.append((key, path.read_bytes(), None))
    return records
