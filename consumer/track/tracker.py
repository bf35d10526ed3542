"""One check: ask IO about a message, judge the answer against what was published.

The services given here pace their calls with a share of their account's budget
(`BudgetShare`), so checks never take the room new messages need.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from consumer.io import IoClient, IoService, Refused
from consumer.track.judge import Step, judge
from consumer.track.record import TrackingRecord
from consumer.track.schedule import TrackingSchedule

log = logging.getLogger(__name__)


class Tracker:
    def __init__(
        self,
        client: IoClient,
        services: Mapping[str, IoService],
        schedule: TrackingSchedule,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._client = client
        self._services = dict(services)
        self._schedule = schedule
        self._clock = clock

    async def check(self, record: TrackingRecord) -> Step:
        service = self._services.get(record.service)
        if service is None:
            return judge(record, None, self._clock(), self._schedule)
        answer = await self._client.get_message(service, record.fiscal_code, record.message_id)
        if isinstance(answer, Refused):
            log.warning(
                "IO refused a message check",
                extra={
                    "event_id": record.event_id,
                    "rule": record.rule,
                    "http_status": answer.http_status,
                    "detail": answer.detail,
                },
            )
        return judge(record, answer, self._clock(), self._schedule)
