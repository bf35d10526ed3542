"""Dead-letter records: the original record, untouched, plus headers that say why.

A dead letter may follow messages already sent: an event two rules match, one sent, the
other failing to render, is dead-lettered after the first reached IO. The `io-relay.sent`
header names those rules, `io-relay dlq replay` keeps it, and the relay, reading a replayed
record, sends them no second time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from consumer.errors import InvalidEvent
from consumer.events import InputRecord
from consumer.events.input import Headers

HEADER_PREFIX = "io-relay."
REPLAY_HEADER = HEADER_PREFIX + "replay-of"
"""On a replayed record: the dead letter it came from, `<dlq topic>/<partition>/<offset>`."""
SENT_HEADER = HEADER_PREFIX + "sent"
"""The rules of the event already sent to IO when it was dead-lettered, comma-separated."""


@dataclass(frozen=True, slots=True)
class DeadLetter:
    key: bytes | None
    value: bytes | None
    headers: Headers


def dead_letter(record: InputRecord, error: InvalidEvent, sent: Iterable[str] = ()) -> DeadLetter:
    """`sent`: the rules of this event that reached IO (this time or before a replay)."""
    reasons = {
        "stage": error.stage,
        "reason": str(error),
        "input.topic": record.topic,
        "input.partition": str(record.partition),
        "input.offset": str(record.offset),
    }
    rules = ",".join(sorted(set(sent)))
    if rules:
        reasons["sent"] = rules
    extra = tuple((HEADER_PREFIX + name, value.encode()) for name, value in reasons.items())
    return DeadLetter(record.key, record.value, record.headers + extra)


def sent_before_replay(record: InputRecord) -> frozenset[str]:
    """The rules a replayed record's event was already sent by; none for any other record."""
    sent = record.header(SENT_HEADER)
    if record.header(REPLAY_HEADER) is None or not sent:
        return frozenset()
    return frozenset(sent.decode(errors="replace").split(","))
