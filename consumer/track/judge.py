"""One answer of getMessage against what was already published: the records it calls for.

Only changes are published, each once: the tracking record remembers what was said (`seen`),
and the next one is written after the lifecycle records are acknowledged. An answer that says
nothing (no answer at all, a 404 from a gateway that has not caught up, a refusal) changes
nothing; the next check comes as scheduled, and the horizon ends tracking in any case.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from consumer.io import GaveUp, MessageNotFound, MessageOutcome, MessageState, Refused
from consumer.io.models import MessageStatus, PaymentStatus, ReadStatus
from consumer.report import ErrorInfo, Outcome, Stage, StatusRecord
from consumer.track.record import Seen, TrackingRecord
from consumer.track.schedule import TrackingSchedule, open_stages

_PROCESSING_OUTCOMES = {
    MessageStatus.PROCESSED: Outcome.PROCESSED,
    MessageStatus.REJECTED: Outcome.REJECTED,
    MessageStatus.FAILED: Outcome.FAILED,
}
_READING_OUTCOMES = {
    ReadStatus.READ: Outcome.READ,
    ReadStatus.UNAVAILABLE: Outcome.READ_UNAVAILABLE,
}


@dataclass(frozen=True, slots=True)
class Step:
    """What one check produced: lifecycle records, and the next tracking record (None: the
    message is settled, or given up on)."""

    statuses: list[StatusRecord]
    next: TrackingRecord | None


def judge(
    record: TrackingRecord, answer: MessageOutcome | None, now: datetime, schedule: TrackingSchedule
) -> Step:
    """`answer` None: no check could be made (the service is no longer configured)."""
    changes: list[tuple[Stage, Outcome]] = []
    seen = record.seen
    if isinstance(answer, MessageState):
        seen, changes = _changes(record, answer)
    checked = record.model_copy(update={"seen": seen, "checks": record.checks + 1})
    statuses = [_lifecycle(checked, stage, outcome, now) for stage, outcome in changes]
    still_open = open_stages(checked)
    if not still_open:
        return Step(statuses, None)
    horizon = schedule.horizon(checked)
    if answer is None or now >= horizon:
        why = _why_given_up(checked, answer)
        expired = [
            _lifecycle(checked, stage, Outcome.EXPIRED_TRACKING, now, why) for stage in still_open
        ]
        return Step(statuses + expired, None)
    next_at = schedule.next_check(checked, now)
    return Step(statuses, checked.model_copy(update={"next_check_at": next_at}))


def _changes(
    record: TrackingRecord, answer: MessageState
) -> tuple[Seen, list[tuple[Stage, Outcome]]]:
    seen, changes = record.seen, []
    if Stage.PROCESSING in open_stages(record) and answer.status is not seen.status:
        outcome = _PROCESSING_OUTCOMES.get(answer.status)
        if outcome is not None:
            changes.append((Stage.PROCESSING, outcome))
        seen = seen.model_copy(update={"status": answer.status})
    settled = record.model_copy(update={"seen": seen})
    stages = open_stages(settled)
    if Stage.READING in stages and answer.read_status in _READING_OUTCOMES:
        changes.append((Stage.READING, _READING_OUTCOMES[answer.read_status]))
        seen = seen.model_copy(update={"read_status": answer.read_status})
    if Stage.PAYMENT in stages and answer.payment_status is PaymentStatus.PAID:
        changes.append((Stage.PAYMENT, Outcome.PAID))
        seen = seen.model_copy(update={"payment_status": PaymentStatus.PAID})
    return seen, changes


def _why_given_up(record: TrackingRecord, answer: MessageOutcome | None) -> ErrorInfo:
    if answer is None:
        return ErrorInfo(
            type="service_gone", detail=f"service {record.service!r} is no longer configured"
        )
    seen = record.seen
    said = [f"status {seen.status.value}"]
    if record.advanced and seen.status is MessageStatus.PROCESSED:
        said.append(f"read_status {(seen.read_status or ReadStatus.UNREAD).value}")
        if record.pays:
            said.append(f"payment_status {(seen.payment_status or PaymentStatus.NOT_PAID).value}")
    reported = ", ".join(said)
    after = f"after {record.checks} checks"
    match answer:
        case MessageState():
            detail = f"{after} IO still reported {reported}"
        case MessageNotFound():
            detail = f"{after} IO last answered 404 (message not found); it had reported {reported}"
        case Refused(http_status=status, detail=why):
            detail = (
                f"{after} IO last refused the check ({status}: {why}); it had reported {reported}"
            )
        case GaveUp(detail=why):
            detail = (
                f"{after} the last check got no answer (gave up: {why}); IO had reported {reported}"
            )
    return ErrorInfo(type="tracking_horizon", detail=detail)


def _lifecycle(
    record: TrackingRecord,
    stage: Stage,
    outcome: Outcome,
    now: datetime,
    error: ErrorInfo | None = None,
) -> StatusRecord:
    return StatusRecord(
        event_id=record.event_id,
        event_type=record.event_type,
        rule=record.rule,
        service=record.service,
        stage=stage,
        outcome=outcome,
        io_message_id=record.message_id,
        attempts=record.checks,
        http_status=200 if error is None else None,
        error=error,
        input=record.input,
        at=now,
    )
