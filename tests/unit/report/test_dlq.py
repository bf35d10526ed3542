"""The dead letter: the original record, and headers that say why and what was sent."""

from __future__ import annotations

from consumer.errors import RenderError
from consumer.events import InputRecord
from consumer.report.dlq import REPLAY_HEADER, SENT_HEADER, dead_letter, sent_before_replay

RECORD = InputRecord("events", 2, 41, b"key", b"value", (("traceparent", b"00-abc"),))
BROKEN = RenderError("'payee_name' is undefined", field="message.markdown", rule="r")


def test_a_dead_letter_keeps_the_record_and_adds_the_diagnosis() -> None:
    dead = dead_letter(RECORD, BROKEN)

    assert (dead.key, dead.value) == (b"key", b"value")
    assert dead.headers == (
        ("traceparent", b"00-abc"),
        ("io-relay.stage", b"render"),
        ("io-relay.reason", b"message.markdown: 'payee_name' is undefined"),
        ("io-relay.input.topic", b"events"),
        ("io-relay.input.partition", b"2"),
        ("io-relay.input.offset", b"41"),
    )


def test_the_rules_already_sent_are_named_sorted_once_each() -> None:
    dead = dead_letter(RECORD, BROKEN, ["tari-notice", "a-rule", "tari-notice"])

    assert dead.headers[-1] == (SENT_HEADER, b"a-rule,tari-notice")


def test_only_a_replayed_record_carries_rules_sent_before() -> None:
    sent = (SENT_HEADER, b"a-rule,tari-notice")
    replayed = InputRecord("events", 0, 1, None, b"", (sent, (REPLAY_HEADER, b"dlq/0/1")))
    forged = InputRecord("events", 0, 1, None, b"", (sent,))

    assert sent_before_replay(replayed) == {"a-rule", "tari-notice"}
    assert sent_before_replay(forged) == frozenset()
