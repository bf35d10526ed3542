"""The notice number on delivery records: what `io-relay status --notice` finds them by."""

from __future__ import annotations

import json
from pathlib import Path

from consumer.config import Settings
from consumer.events import InputRecord
from consumer.report import Outcome
from consumer.runtime.app import load_contracts
from consumer.runtime.process import EventProcessor
from tests.unit.runtime.fakes import Accepting

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def processor() -> EventProcessor:
    settings = Settings(rules={"paths": [EXAMPLES / "rules"]})
    types, rules = load_contracts(settings)
    return EventProcessor(types, rules, Accepting())


def record(name: str) -> InputRecord:
    return InputRecord("tributi.events", 0, 3, None, (EXAMPLES / "events" / name).read_bytes())


async def test_a_payable_message_s_delivery_record_carries_its_notice_number() -> None:
    processed = await processor().process(record("01-tari-notice.json"))

    assert [s.outcome for s in processed.statuses] == [Outcome.SUBMITTED]
    assert processed.statuses[0].notice_number == "302100000000123456"


async def test_a_message_without_payment_data_has_none() -> None:
    internal = json.loads((EXAMPLES / "events" / "06-internal-document.json").read_text())
    internal["data"]["category"] = "anagrafe"  # not internal: the documents rule takes it
    event = InputRecord("documenti.events", 0, 4, None, json.dumps(internal).encode())

    processed = await processor().process(event)

    assert [s.outcome for s in processed.statuses] == [Outcome.SUBMITTED]
    assert processed.statuses[0].notice_number is None
