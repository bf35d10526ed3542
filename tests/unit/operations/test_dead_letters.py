"""Dead letters as the operator tools see them: diagnosis, selection, and what `show` prints."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from consumer.errors import RenderError
from consumer.events import InputRecord
from consumer.operations.dead_letters import DeadLetter, Selection
from consumer.report.dlq import dead_letter

CODE = "RSSMRA85T10A562S"
AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def letter(
    *,
    reason: str = "message.markdown: 'payee_name' is undefined",
    value: bytes | None = None,
    headers: tuple[tuple[str, bytes], ...] = (("traceparent", b"00-abc"),),
    at: datetime = AT,
) -> DeadLetter:
    event = {
        "specversion": "1.0",
        "id": "e-1",
        "source": "urn:test",
        "type": "payment_notice.issued",
        "data": {"recipient_fiscal_code": CODE, "amount_cents": 100},
    }
    original = InputRecord(
        "events", 2, 41, CODE.encode(), value or json.dumps(event).encode(), headers
    )
    dead = dead_letter(original, RenderError(reason, rule="tari-notice"))
    stamp = int(at.timestamp() * 1000)
    record = InputRecord("dlq", 0, 7, dead.key, dead.value, dead.headers, stamp)
    return DeadLetter("dlq", record)


def test_the_diagnosis_is_read_from_the_headers_the_relay_added() -> None:
    found = letter()

    assert found.position == "dlq/0/7"
    assert found.stage == "render"
    assert found.reason == "message.markdown: 'payee_name' is undefined"
    assert (found.input_topic, found.input_partition) == ("events", 2)
    assert found.event_type == "payment_notice.issued"
    assert found.at == AT
    assert found.original_headers == (("traceparent", b"00-abc"),)


def test_as_input_it_is_the_record_as_first_read() -> None:
    record = letter().as_input()

    assert (record.topic, record.partition, record.offset) == ("events", 2, 41)
    assert record.headers == (("traceparent", b"00-abc"),)


def test_a_letter_that_died_again_after_a_replay_says_so_and_reads_its_last_diagnosis() -> None:
    first = letter()
    replayed = InputRecord(
        "events",
        2,
        90,
        first.record.key,
        first.record.value,
        (*first.original_headers, ("io-relay.replay-of", b"dlq/0/7")),
    )
    again = dead_letter(replayed, RenderError("still broken", rule="tari-notice"))
    found = DeadLetter("dlq", InputRecord("dlq", 0, 8, again.key, again.value, again.headers))

    assert found.replay_of == "dlq/0/7"
    assert found.reason == "still broken"
    assert found.original_headers == (("traceparent", b"00-abc"),)


def test_an_unreadable_value_has_no_event_type_and_shows_as_masked_text() -> None:
    found = letter(value=f'{{"cut": "{CODE}'.encode())

    assert found.event_type is None
    assert found.shown()["value"] == '{"cut": "RSS**********62S'


def test_show_masks_every_fiscal_code_in_key_value_and_headers() -> None:
    found = letter(headers=(("x-citizen", CODE.lower().encode()),))

    shown = json.dumps(found.shown())

    assert CODE not in shown.upper()
    assert shown.count("RSS**********62S") == 3  # key, value's data, the header
    assert "io-relay.stage" in shown


@pytest.mark.parametrize(
    ("selection", "admitted"),
    [
        (Selection(), True),
        (Selection(stage="render"), True),
        (Selection(stage="decode"), False),
        (Selection(reason="PAYEE_NAME"), True),
        (Selection(reason="amount"), False),
        (Selection(event_type="payment_notice.issued"), True),
        (Selection(event_type="document.ready"), False),
        (Selection(input_topic="events"), True),
        (Selection(input_topic="other"), False),
        (Selection(since=AT), True),
        (Selection(since=AT + timedelta(seconds=1)), False),
        (Selection(until=AT), True),
        (Selection(until=AT - timedelta(seconds=1)), False),
        (Selection(stage="render", reason="undefined", since=AT - timedelta(hours=1)), True),
        (Selection(stage="render", input_topic="other"), False),
    ],
)
def test_a_selection_admits_a_letter_only_when_every_criterion_holds(
    selection: Selection, admitted: bool
) -> None:
    assert selection.admits(letter()) is admitted


def test_the_origin_is_where_the_record_was_first_read() -> None:
    assert letter().origin == "events/2/41"


def test_a_letter_with_hand_made_diagnosis_headers_has_no_origin_and_does_not_crash() -> None:
    found = letter()
    headers = tuple(
        (k, b"forty-one" if k == "io-relay.input.offset" else v) for k, v in found.record.headers
    )
    record = InputRecord("dlq", 0, 7, found.record.key, found.record.value, headers)
    odd = DeadLetter("dlq", record)

    assert odd.origin is None
    assert odd.as_input().offset == 0
