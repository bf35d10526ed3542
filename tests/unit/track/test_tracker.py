from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import cast

from pydantic import SecretStr

from consumer.io import (
    AccountLimiter,
    IoClient,
    IoService,
    MessageOutcome,
    MessageState,
    RatePolicy,
    Refused,
)
from consumer.io.models import MessageStatus
from consumer.report import InputPosition, Outcome, Stage
from consumer.track import Tracker, TrackingRecord, TrackingSchedule, judge

FISCAL_CODE = "AAAAAA00A00A000A"
SUBMITTED = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
NOW = SUBMITTED + timedelta(seconds=30)
SCHEDULE = TrackingSchedule()
TARI = IoService("tari", SecretStr("key"), "comune", AccountLimiter(RatePolicy()))


class FakeClient:
    def __init__(self, answer: MessageOutcome) -> None:
        self.answer = answer
        self.asked: list[tuple[str, str, str]] = []

    async def get_message(
        self, service: IoService, fiscal_code: str, message_id: str
    ) -> MessageOutcome:
        self.asked.append((service.name, fiscal_code, message_id))
        return self.answer


def record(service: str = "tari") -> TrackingRecord:
    return TrackingRecord(
        message_id="01MSG",
        service=service,
        fiscal_code=FISCAL_CODE,
        event_id="evt-1",
        event_type="payment.due",
        rule="payments",
        input=InputPosition(topic="events", partition=0, offset=3),
        submitted_at=SUBMITTED,
        advanced=False,
        pays=False,
        next_check_at=NOW,
    )


def tracker_with(client: FakeClient) -> Tracker:
    return Tracker(cast(IoClient, client), {"tari": TARI}, SCHEDULE, clock=lambda: NOW)


async def test_a_check_asks_io_for_the_message_and_returns_the_judged_step() -> None:
    client = FakeClient(MessageState(MessageStatus.PROCESSED))
    tracked = record()

    step = await tracker_with(client).check(tracked)

    assert client.asked == [("tari", FISCAL_CODE, "01MSG")]
    assert step == judge(tracked, client.answer, NOW, SCHEDULE)
    assert [(s.stage, s.outcome, s.at) for s in step.statuses] == [
        (Stage.PROCESSING, Outcome.PROCESSED, NOW)
    ]


async def test_a_refused_check_is_judged_like_no_news() -> None:
    client = FakeClient(Refused(403, "forbidden"))

    step = await tracker_with(client).check(record())

    assert step.statuses == []
    assert step.next is not None
    assert step.next.next_check_at == SUBMITTED + timedelta(seconds=120)


async def test_an_unknown_service_expires_tracking_without_calling_io() -> None:
    client = FakeClient(MessageState(MessageStatus.PROCESSED))

    step = await tracker_with(client).check(record(service="gone"))

    assert client.asked == []
    assert [(s.stage, s.outcome) for s in step.statuses] == [
        (Stage.PROCESSING, Outcome.EXPIRED_TRACKING)
    ]
    assert step.statuses[0].error is not None
    assert step.statuses[0].error.type == "service_gone"
    assert step.next is None
