"""One event through decode → route → render → deliver, into its status records.

Knows nothing of Kafka beyond the input record's coordinates. What the ledger says was
already reported for the record is honoured: a rule already SUBMITTED gets a DUPLICATE record
and no second message; a rule already settled otherwise is not redone.

IO being away is not the event's fault: a delivery that gave up on transient failures is
tried again, with a growing pause, until it settles or io-relay stops. Meanwhile the loop
pauses the partitions, so nothing piles up and nothing is lost.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from consumer.content.premium import Attached, PremiumContent, with_third_party
from consumer.errors import DecodeError, InvalidEvent, RenderError
from consumer.events import Event, EventTypes, InputRecord, decode
from consumer.io import NewMessage, Sending, SubmitInterrupted
from consumer.report import ErrorInfo, InputPosition, Outcome, StatusRecord
from consumer.report.dlq import sent_before_replay
from consumer.rules import Rule, choose_language, render, route
from consumer.rules.model import DEFAULT_LANGUAGE
from consumer.runtime.deliver import Deliverer, Delivery
from consumer.runtime.observer import NoRuntimeObserver, RuntimeObserver
from consumer.track import TrackingRecord, start_tracking

log = logging.getLogger(__name__)

_SENT = frozenset({Outcome.SUBMITTED, Outcome.UNKNOWN, Outcome.DUPLICATE})
_MAY_HAVE_REACHED_IO = _SENT | {Outcome.FAILED}
"""A FAILED's earlier try may have reached IO with its answer lost (see _deliver_until_settled):
a replay does not try it again."""
_NEVER_SUBMITTED = frozenset(
    {Outcome.NOT_SENT_PROFILE_NOT_FOUND, Outcome.NOT_SENT_SENDER_NOT_ALLOWED}
)
Prior = Mapping[str | None, StatusRecord]


@dataclass(frozen=True, slots=True)
class Backoff:
    """The pause between tries of a delivery IO could not take."""

    first_s: float = 1.0
    max_s: float = 30.0

    def after(self, tries: int) -> float:
        return float(min(self.max_s, self.first_s * 2.0 ** max(0, tries - 1)))


@dataclass(frozen=True, slots=True)
class Processed:
    """What one input record produced: its status records, and the error if it is invalid."""

    statuses: list[StatusRecord]
    invalid: InvalidEvent | None = field(default=None)
    event_type: str | None = field(default=None)
    """The decoded event's type; None when the record could not be decoded."""
    tracking: list[TrackingRecord] = field(default_factory=list)
    """The first tracking record of each message IO accepted (when tracking is on)."""
    interrupted: bool = field(default=False)
    """Cancelled before every rule was settled: `statuses` says what was settled (a submit
    cut off while its request was out is UNKNOWN); the record is not done, and its next
    reader settles the rest."""
    sent_before: frozenset[str] = field(default=frozenset())
    """Rules a replayed record's event had reached IO by before it was dead-lettered."""

    def sent(self) -> frozenset[str]:
        """The rules of this event that reached IO, now or before a replay: a dead letter
        names them, so a replay of it sends them no second time."""
        now = {
            s.rule
            for s in self.statuses
            if s.rule is not None and s.outcome in _MAY_HAVE_REACHED_IO
        }
        return self.sent_before | now


class EventProcessor:
    def __init__(
        self,
        types: EventTypes,
        rules: Sequence[Rule],
        deliverer: Deliverer,
        *,
        backoff: Backoff | None = None,
        observer: RuntimeObserver | None = None,
        first_check_after_s: float | None = None,
        premium: PremiumContent | None = None,
    ) -> None:
        """`first_check_after_s`: when to first ask IO about a message it accepted; None:
        messages are not tracked."""
        self._first_check_after_s = first_check_after_s
        self._types = types
        self._rules = list(rules)
        self._deliverer = deliverer
        self._backoff = backoff or Backoff()
        self._observer = observer or NoRuntimeObserver()
        self._premium = premium

    async def process(
        self, record: InputRecord, prior: Prior | None = None, sending: Sending | None = None
    ) -> Processed:
        """Decode, route, render, deliver. Cancelled while delivering, it returns what it
        settled with `interrupted` set, and the caller re-raises once that is reported."""
        prior = prior or {}
        position = InputPosition(
            topic=record.topic, partition=record.partition, offset=record.offset
        )
        try:
            event = decode(record, self._types)
        except DecodeError as error:
            invalid = _invalid(error.event_id, error.event_type, None, position, error)
            return _unless_reported(prior, invalid, error)
        sent_before = sent_before_replay(record)
        try:
            matched = [rule for rule in route(self._rules, event) if rule.name not in sent_before]
        except InvalidEvent as error:
            invalid = _invalid(event.id, event.type, None, position, error)
            return replace(_unless_reported(prior, invalid, error), event_type=event.type)
        if not matched:  # a replay whose every rule was sent before too: its one record
            if None in prior:
                return Processed([], event_type=event.type)
            skipped = StatusRecord(
                event_id=event.id, event_type=event.type, outcome=Outcome.SKIPPED, input=position
            )
            return Processed([skipped], event_type=event.type)
        processed = await self._send_all(matched, event, position, prior, sending)
        return replace(processed, sent_before=sent_before)

    async def _send_all(
        self,
        matched: list[Rule],
        event: Event,
        position: InputPosition,
        prior: Prior,
        sending: Sending | None,
    ) -> Processed:
        statuses: list[StatusRecord] = []
        tracking: list[TrackingRecord] = []
        first_error: InvalidEvent | None = None
        for rule in matched:
            earlier = prior.get(rule.name)
            if earlier is not None:
                if earlier.outcome in _SENT:
                    statuses.append(_duplicate(earlier))
                continue
            try:
                status, message = await self._send(rule, event, position, sending)
            except SubmitInterrupted as cut:
                statuses.append(_cut_off(event, rule, position, cut))
                return Processed(statuses, first_error, event.type, tracking, interrupted=True)
            except asyncio.CancelledError:  # nothing of this rule reached IO
                return Processed(statuses, first_error, event.type, tracking, interrupted=True)
            except InvalidEvent as error:
                statuses.append(_invalid(event.id, event.type, rule, position, error))
                first_error = first_error or error
                continue
            statuses.append(status)
            if status.outcome is Outcome.SUBMITTED and self._first_check_after_s is not None:
                tracking.append(start_tracking(status, message, self._first_check_after_s))
        return Processed(statuses, first_error, event.type, tracking)

    async def _send(
        self, rule: Rule, event: Event, position: InputPosition, sending: Sending | None
    ) -> tuple[StatusRecord, NewMessage]:
        delivery, message = await self._deliver_until_settled(rule, event, sending)
        payment = message.content.payment_data
        notice = payment.notice_number if payment is not None else None
        return _delivered(event, rule, position, delivery, notice), message

    async def _deliver_until_settled(
        self, rule: Rule, event: Event, sending: Sending | None
    ) -> tuple[Delivery, NewMessage]:
        """The delivery, and the message in the default language (what tracking needs of it
        is the same in every language)."""
        policy = self._types.fiscal_codes
        # Rendered before any IO call: a message IO would refuse costs no rate budget.
        default = render(rule, event, (), policy)
        attached = await self._attach(rule, event, default)
        default = with_third_party(default, attached)

        def compose(languages: Sequence[str]) -> NewMessage:
            if choose_language(rule, languages) == DEFAULT_LANGUAGE:
                return default
            return with_third_party(render(rule, event, languages, policy), attached)

        try:
            delivery = await self._deliver(rule, event, default, compose, sending)
        except InvalidEvent:
            await self._forget(attached)
            raise
        if delivery.outcome in _NEVER_SUBMITTED:
            # Only then: after a FAILED, a first try whose answer was lost may still have
            # made the message (lost_submit: retry), and its content must stay.
            await self._forget(attached)
        return delivery, default

    async def _deliver(
        self,
        rule: Rule,
        event: Event,
        default: NewMessage,
        compose: Callable[[Sequence[str]], NewMessage],
        sending: Sending | None,
    ) -> Delivery:
        """Delivered, tried again while IO is away, until it settles."""
        tries, attempts = 0, 0
        while True:
            delivery = await self._deliverer.deliver(
                rule.service, default.fiscal_code, compose, sending
            )
            tries, attempts = tries + 1, attempts + delivery.attempts
            if delivery.error is None or delivery.error.type != "gave_up":
                return _with_attempts(delivery, attempts)
            pause = self._backoff.after(tries)
            self._observer.delivery_postponed(rule.service)
            log.warning(
                "IO unavailable, delivery postponed",
                extra={
                    "event_id": event.id,
                    "rule": rule.name,
                    "retry_in_s": pause,
                    "reason": delivery.error.detail,
                },
            )
            await asyncio.sleep(pause)

    async def _attach(self, rule: Rule, event: Event, message: NewMessage) -> Attached | None:
        if not rule.premium:
            return None
        if self._premium is None:
            raise RenderError("Premium content is not configured (content:)", rule=rule.name)
        return await self._premium.attach(rule, event, message)

    async def _forget(self, attached: Attached | None) -> None:
        if attached is not None and self._premium is not None:
            await self._premium.forget(attached)


def _delivered(
    event: Event,
    rule: Rule,
    position: InputPosition,
    delivery: Delivery,
    notice_number: str | None = None,
) -> StatusRecord:
    """`notice_number`: the rendered payment_data's, so a notice can be looked up later."""
    return StatusRecord(
        event_id=event.id,
        event_type=event.type,
        rule=rule.name,
        service=rule.service,
        outcome=delivery.outcome,
        io_message_id=delivery.io_message_id,
        notice_number=notice_number,
        attempts=delivery.attempts,
        http_status=delivery.http_status,
        error=delivery.error,
        input=position,
    )


def _cut_off(
    event: Event, rule: Rule, position: InputPosition, cut: SubmitInterrupted
) -> StatusRecord:
    """The submit was out when the job was stopped: IO may have created the message."""
    abandoned = ErrorInfo(type="answer_abandoned", detail=cut.detail)
    return _delivered(
        event, rule, position, Delivery(Outcome.UNKNOWN, cut.attempts, None, None, abandoned)
    )


def _unless_reported(prior: Prior, invalid: StatusRecord, error: InvalidEvent) -> Processed:
    """An invalid record reported before gets its dead letter again (a copy is harmless, a
    loss is not), but no second status record."""
    return Processed([] if None in prior else [invalid], error)


def _with_attempts(delivery: Delivery, attempts: int) -> Delivery:
    return Delivery(
        delivery.outcome, attempts, delivery.io_message_id, delivery.http_status, delivery.error
    )


def _duplicate(earlier: StatusRecord) -> StatusRecord:
    return earlier.model_copy(
        update={
            "outcome": Outcome.DUPLICATE,
            "attempts": 0,
            "at": datetime.now(UTC),
            "error": ErrorInfo(
                type="already_reported",
                detail=f"reported {earlier.outcome.value} at {earlier.at.isoformat()}",
            ),
        },
        deep=True,
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
