"""When to ask IO about a message next, and when to stop asking.

Checks back off: they fall at fixed offsets after the submit (30 s, 2 min, 10 min, 1 h, 6 h,
1 day by default), then every 2 days, plus one `check_after_due_s` after a payable message's
due date, when its payment status matters. A late check is followed by the next one due, not
by the ones it missed. A message IO has not processed is given up on `horizon_s` after the
submit; a Premium message's read and payment status are followed until `premium_horizon_s`
after its due date (or its submit, without one). The last check falls on the horizon itself,
so that "given up" always means "IO still had not said, at the horizon".

The arithmetic of the defaults (a unit test counts it): a standard message IO processes
within 30 s costs 1 check, within 2 min 2; an unread, unpaid Premium message due in 30 days
is followed for 60 days, with 37 checks.
"""

from __future__ import annotations

import math
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
    checks_after_s: Sequence[float] = (30.0, 120.0, 600.0, 3600.0, 21_600.0, 86_400.0)
    then_every_s: float = 172_800.0
    horizon_s: float = 172_800.0
    premium_horizon_s: float = 2_592_000.0
    check_after_due_s: float | None = 3600.0

    @property
    def first_check_after_s(self) -> float:
        return self.checks_after_s[0]

    def next_check(self, record: TrackingRecord, now: datetime) -> datetime:
        """The first check of the schedule after `now`, the horizon at the latest.

        Counted from the submit, not from the last check: a check made late (after an
        outage, or with the budget share spent) is followed by the next one due, never by a
        burst of the ones missed.
        """
        elapsed = (now - record.submitted_at).total_seconds()
        after = next((offset for offset in self.checks_after_s if offset > elapsed), None)
        if after is None:
            last = self.checks_after_s[-1]
            after = (
                last + (math.floor((elapsed - last) / self.then_every_s) + 1) * self.then_every_s
            )
        scheduled = min(record.submitted_at + timedelta(seconds=after), self.horizon(record))
        due_check = self._after_due(record)
        if due_check is not None and now < due_check < scheduled:
            return due_check
        return scheduled

    def _after_due(self, record: TrackingRecord) -> datetime | None:
        """Just after the due date, for a message whose payment is still open."""
        if self.check_after_due_s is None or record.due_date is None:
            return None
        if Stage.PAYMENT not in open_stages(record):
            return None
        return record.due_date + timedelta(seconds=self.check_after_due_s)

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
