"""A replayed event is not sent again by the rules it had reached IO by before it died."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from consumer.config import Settings
from consumer.events import InputRecord
from consumer.events.input import Headers
from consumer.io import Sending
from consumer.report import Outcome
from consumer.report.dlq import REPLAY_HEADER, SENT_HEADER
from consumer.runtime.app import load_contracts
from consumer.runtime.deliver import Compose, Deliverer, Delivery
from consumer.runtime.process import EventProcessor
from tests.fixtures.rules import tari_reminder
from tests.unit.runtime.fakes import Accepting

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    shutil.copy(EXAMPLES / "rules" / "payments.yaml", tmp_path)
    (tmp_path / "reminder.yaml").write_text(tari_reminder())
    return tmp_path


def processor(rules: Path, deliverer: Deliverer) -> EventProcessor:
    types, loaded = load_contracts(Settings(rules={"paths": [rules]}))
    return EventProcessor(types, loaded, deliverer)


def tari(*, payee: bool, headers: Headers = ()) -> InputRecord:
    event = json.loads((EXAMPLES / "events" / "01-tari-notice.json").read_text())
    if payee:
        event["data"]["payee_name"] = "Comune di Demo"
    else:
        event["data"].pop("payee_name", None)
    return InputRecord("tributi.events", 0, 3, None, json.dumps(event).encode(), headers)


async def test_a_rule_failing_after_another_was_sent_names_the_sent_one(rules: Path) -> None:
    deliverer = Accepting()

    processed = await processor(rules, deliverer).process(tari(payee=False))

    assert [(s.rule, s.outcome) for s in processed.statuses] == [
        ("tari-notice", Outcome.SUBMITTED),
        ("tari-reminder", Outcome.INVALID),
    ]
    assert processed.invalid is not None
    assert processed.sent() == {"tari-notice"}
    assert deliverer.asked == ["tari"]


async def test_a_replayed_event_skips_the_rules_it_was_sent_by(rules: Path) -> None:
    deliverer = Accepting()
    replayed = ((REPLAY_HEADER, b"dlq/0/7"), (SENT_HEADER, b"tari-notice"))

    processed = await processor(rules, deliverer).process(tari(payee=True, headers=replayed))

    assert [(s.rule, s.outcome) for s in processed.statuses] == [
        ("tari-reminder", Outcome.SUBMITTED)
    ]
    assert deliverer.asked == ["tributi"]
    assert processed.sent() == {"tari-notice", "tari-reminder"}


async def test_a_sent_header_on_a_record_that_is_no_replay_is_ignored(rules: Path) -> None:
    deliverer = Accepting()
    forged = ((SENT_HEADER, b"tari-notice,tari-reminder"),)

    processed = await processor(rules, deliverer).process(tari(payee=True, headers=forged))

    assert sorted(deliverer.asked) == ["tari", "tributi"]
    assert len(processed.statuses) == 2


async def test_a_replay_whose_every_rule_was_sent_before_gets_one_skipped_record(
    rules: Path,
) -> None:
    deliverer = Accepting()
    replayed = ((REPLAY_HEADER, b"dlq/0/7"), (SENT_HEADER, b"tari-notice,tari-reminder"))

    processed = await processor(rules, deliverer).process(tari(payee=True, headers=replayed))

    assert [(s.rule, s.outcome) for s in processed.statuses] == [(None, Outcome.SKIPPED)]
    assert deliverer.asked == []


class FailingTari(Accepting):
    """IO refuses the tari service's messages for good."""

    async def deliver(
        self,
        service_name: str,
        fiscal_code: str,
        compose: Compose,
        sending: Sending | None = None,
    ) -> Delivery:
        if service_name == "tari":
            return Delivery(Outcome.FAILED, 3, None, 400)
        return await super().deliver(service_name, fiscal_code, compose, sending)


async def test_a_failed_rule_counts_as_sent_an_earlier_try_may_have_reached_io(
    rules: Path,
) -> None:
    processed = await processor(rules, FailingTari()).process(tari(payee=False))

    assert processed.invalid is not None
    assert processed.sent() == {"tari-notice"}
