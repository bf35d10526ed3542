"""Dead letters as an operator looks at them: where they sit, why they are there, which to pick.

A dead letter is the original record, untouched, plus the `io-relay.*` headers that
consumer/report/dlq.py adds (stage, reason, input topic, partition, offset). What an operator
sees of it is masked: the reason already is, and the value and headers are masked on display.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from consumer.errors import DecodeError
from consumer.events.envelope import read_envelope
from consumer.events.input import Headers, InputRecord
from consumer.redact import mask
from consumer.report.dlq import HEADER_PREFIX


@dataclass(frozen=True, slots=True)
class DeadLetter:
    dlq_topic: str
    record: InputRecord

    @property
    def position(self) -> str:
        """Where it sits in the DLQ: how `list` and `show` name it."""
        return f"{self.dlq_topic}/{self.record.partition}/{self.record.offset}"

    @property
    def at(self) -> datetime | None:
        stamp = self.record.timestamp_ms
        return None if stamp is None or stamp < 0 else datetime.fromtimestamp(stamp / 1000, UTC)

    def diagnosis(self, name: str) -> str | None:
        """One of the `io-relay.*` headers the relay added (the last, for a letter that died
        twice), as text."""
        wanted = HEADER_PREFIX + name
        for key, value in reversed(self.record.headers):
            if key == wanted:
                return value.decode(errors="replace") if value is not None else None
        return None

    @property
    def stage(self) -> str:
        return self.diagnosis("stage") or "?"

    @property
    def reason(self) -> str:
        return self.diagnosis("reason") or "?"

    @property
    def input_topic(self) -> str | None:
        return self.diagnosis("input.topic")

    @property
    def input_partition(self) -> int | None:
        return _number(self.diagnosis("input.partition"))

    @property
    def input_offset(self) -> int | None:
        return _number(self.diagnosis("input.offset"))

    @property
    def origin(self) -> str | None:
        """Where the record was first read, `topic/partition/offset`: one input record
        dead-lettered twice has two positions in the DLQ and one origin. The replay ledger's
        key."""
        topic, partition, offset = self.input_topic, self.input_partition, self.input_offset
        if topic is None or partition is None or offset is None:
            return None
        return f"{topic}/{partition}/{offset}"

    @property
    def replay_of(self) -> str | None:
        """The dead letter this one was replayed from, when it died again after a replay."""
        return self.diagnosis("replay-of")

    @property
    def sent(self) -> frozenset[str]:
        """The rules that had already reached IO for this event: a replay skips them."""
        rules = self.diagnosis("sent")
        return frozenset(rules.split(",")) if rules else frozenset()

    @property
    def original_headers(self) -> Headers:
        """The headers the upstream wrote, without any io-relay added."""
        return tuple((k, v) for k, v in self.record.headers if not k.startswith(HEADER_PREFIX))

    def as_input(self) -> InputRecord:
        """The record as it was read from its input topic, for the current rules to judge."""
        return InputRecord(
            topic=self.input_topic or "?",
            partition=self.input_partition or 0,
            offset=self.input_offset or 0,
            key=self.record.key,
            value=self.record.value,
            headers=self.original_headers,
            timestamp_ms=self.record.timestamp_ms,
        )

    @property
    def event_type(self) -> str | None:
        """The CloudEvent's type, when the envelope can be read at all."""
        try:
            return mask(read_envelope(self.as_input()).type)
        except DecodeError:
            return None

    def shown(self) -> dict[str, object]:
        """Everything about it, masked: what `io-relay dlq show` prints."""
        return {
            "position": self.position,
            "at": self.at.isoformat() if self.at else None,
            "stage": self.stage,
            "reason": self.reason,
            "event_type": self.event_type,
            "already_sent": sorted(self.sent),
            "input": {
                "topic": self.input_topic,
                "partition": self.input_partition,
                "offset": self.input_offset,
            },
            "key": _text(self.record.key),
            "headers": [[k, _text(v)] for k, v in self.record.headers],
            "value": _value(self.record.value),
        }


@dataclass(frozen=True, slots=True)
class Selection:
    """Which dead letters a command works on; every criterion given must hold."""

    reason: str | None = None
    """A piece of the reason, in any case."""
    stage: str | None = None
    event_type: str | None = None
    input_topic: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def admits(self, letter: DeadLetter) -> bool:
        if self.stage is not None and letter.stage != self.stage:
            return False
        if self.input_topic is not None and letter.input_topic != self.input_topic:
            return False
        if self.reason is not None and self.reason.casefold() not in letter.reason.casefold():
            return False
        if self.event_type is not None and letter.event_type != self.event_type:
            return False
        at = letter.at
        if self.until is not None and (at is None or at > self.until):
            return False
        return self.since is None or (at is not None and at >= self.since)


def dead_letters(
    dlq_topic: str, records: Iterable[InputRecord], selection: Selection
) -> Iterator[DeadLetter]:
    for record in records:
        letter = DeadLetter(dlq_topic, record)
        if selection.admits(letter):
            yield letter


def _number(text: str | None) -> int | None:
    return int(text) if text is not None and text.isascii() and text.isdigit() else None


def _text(raw: bytes | None) -> str | None:
    return None if raw is None else mask(raw.decode(errors="replace"))


def _value(raw: bytes | None) -> object:
    """The value as JSON when it is JSON (masked inside), as masked text otherwise."""
    text = _text(raw)
    if text is None:
        return None
    try:
        return _masked_json(json.loads(raw or b""))
    except ValueError:
        return text


def _masked_json(value: object) -> object:
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, list):
        return [_masked_json(item) for item in value]
    if isinstance(value, dict):
        return {mask(str(k)): _masked_json(v) for k, v in value.items()}
    return value
