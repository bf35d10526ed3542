"""When to ask IO about a message next, and when to stop asking.

Checks fall at fixed offsets after the submit (30 s, 2 min, 10 min, 1 h by default), then at a
fixed interval. A message IO has not processed is given up on `horizon_s` after the submit; a
Premium message's read and payment status are followed until `premium_horizon_s` after its
due date (or its submit, without one). The last check falls on the horizon itself, so that
"given up" always means "IO still had not said, at the horizon".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from consumer.io.models import MessageStatus, PaymentStatus, ReadStatus
from consumer.report import Stage
from consumer.track.record import TrackingRecord

_OPEN = frozenset({MessageStatus.ACCEPTED, MessageStatus.THROTTLED})
_READ_FINAL = frozenset({ReadStatus.READ, ReadStatus.UNAVAILABLE})


@dataclass(frozen=True, slots=True)
class TrackingSchedule:
    checks_after_s: Sequence[float] = (30.0, 120.0, 600.0, 3600.0)
    then_every_s: float = 3600.0
    horizon_s: float = 172_800.0
    premium_horizon_s: float = 2_592_000.0

    @property
    def first_check_after_s(self) -> float:
        return self.checks_after_s[0]

    def next_check(self, record: TrackingRecord) -> datetime:
        """When check number `record.checks + 1` is due, the horizon at the latest."""
        done = record.checks
        if done < len(self.checks_after_s):
            after = self.checks_after_s[done]
        else:
            beyond = done - len(self.checks_after_s) + 1
            after = self.checks_after_s[-1] + beyond * self.then_every_s
        return min(record.submitted_at + timedelta(seconds=after), self.horizon(record))

    def horizon(self, record: TrackingRecord) -> datetime:
        """When tracking of the record's open stages ends."""
        if Stage.PROCESSING in open_stages(record):
            return record.submitted_at + timedelta(seconds=self.horizon_s)
        start = max(record.submitted_at, record.due_date or record.submitted_at)
        return start + timedelta(seconds=self.premium_horizon_s)


def open_stages(record: TrackingRecord) -> list[Stage]:
    """The stages IO has not settled yet, as far as was published."""
    seen = record.seen
    if seen.status in _OPEN:
        return [Stage.PROCESSING]
    if seen.status is not MessageStatus.PROCESSED or not record.advanced:
        return []
    stages = []
    if seen.read_status not in _READ_FINAL:
        stages.append(Stage.READING)
    if record.pays and seen.payment_status is not PaymentStatus.PAID:
        stages.append(Stage.PAYMENT)
    return stages
