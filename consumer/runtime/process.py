"""One event through decode → route → render → deliver, into its status records.

Knows nothing of Kafka beyond the input record's coordinates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from consumer.errors import DecodeError, InvalidEvent
from consumer.events import Event, EventTypes, InputRecord, decode
from consumer.io import NewMessage
from consumer.report import ErrorInfo, InputPosition, Outcome, StatusRecord
from consumer.rules import Rule, choose_language, render, route
from consumer.rules.model import DEFAULT_LANGUAGE
from consumer.runtime.deliver import Deliverer


@dataclass(frozen=True, slots=True)
class Processed:
    """What one input record produced: its status records, and the error if it is invalid."""

    statuses: list[StatusRecord]
    invalid: InvalidEvent | None = field(default=None)


class EventProcessor:
    def __init__(self, types: EventTypes, rules: Sequence[Rule], deliverer: Deliverer) -> None:
        self._types = types
        self._rules = list(rules)
        self._deliverer = deliverer

    async def process(self, record: InputRecord) -> Processed:
        position = InputPosition(
            topic=record.topic, partition=record.partition, offset=record.offset
        )
        try:
            event = decode(record, self._types)
        except DecodeError as error:
            invalid = _invalid(error.event_id, error.event_type, None, position, error)
            return Processed([invalid], error)
        try:
            matched = route(self._rules, event)
        except InvalidEvent as error:
            return Processed([_invalid(event.id, event.type, None, position, error)], error)
        if not matched:
            skipped = StatusRecord(
                event_id=event.id, event_type=event.type, outcome=Outcome.SKIPPED, input=position
            )
            return Processed([skipped])
        statuses: list[StatusRecord] = []
        first_error: InvalidEvent | None = None
        for rule in matched:
            try:
                statuses.append(await self._send(rule, event, position))
            except InvalidEvent as error:
                statuses.append(_invalid(event.id, event.type, rule, position, error))
                first_error = first_error or error
        return Processed(statuses, first_error)

    async def _send(self, rule: Rule, event: Event, position: InputPosition) -> StatusRecord:
        policy = self._types.fiscal_codes
        # Rendered before any IO call: a message IO would refuse costs no rate budget.
        default = render(rule, event, (), policy)

        def compose(languages: Sequence[str]) -> NewMessage:
            if choose_language(rule, languages) == DEFAULT_LANGUAGE:
                return default
            return render(rule, event, languages, policy)

        delivery = await self._deliverer.deliver(rule.service, default.fiscal_code, compose)
        return StatusRecord(
            event_id=event.id,
            event_type=event.type,
            rule=rule.name,
            service=rule.service,
            outcome=delivery.outcome,
            io_message_id=delivery.io_message_id,
            attempts=delivery.attempts,
            http_status=delivery.http_status,
            error=delivery.error,
            input=position,
        )


def _invalid(
    event_id: str | None,
    event_type: str | None,
    rule: Rule | None,
    position: InputPosition,
    error: InvalidEvent,
) -> StatusRecord:
    return StatusRecord(
        event_id=event_id,
        event_type=event_type,
        rule=rule.name if rule else None,
        service=rule.service if rule else None,
        outcome=Outcome.INVALID,
        error=ErrorInfo(type=error.stage, detail=str(error)),
        input=position,
    )
