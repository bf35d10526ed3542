"""Accepted submissions, kept in arrival order, and the status IO would report for each.

IO processes a message asynchronously: it is ACCEPTED at first, then PROCESSED (stored in the
citizen's inbox) or REJECTED (no profile, or the citizen blocked the service). The sandbox
decides the outcome when the message arrives and reveals it once the processing delay has
passed, so no background task is needed. Tests move a message further by hand (`mark`): to
REJECTED, and for ADVANCED messages to READ (or UNAVAILABLE) and PAID.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ulid import ULID

from consumer.io.models import (
    FeatureLevelType,
    MessageStatus,
    NewMessage,
    PaymentStatus,
    ReadStatus,
    format_timestamp,
)
from consumer.sandbox.auth import Caller

DEFAULT_TIME_TO_LIVE_S = 3_600  # IO's default for TimeToLiveSeconds


@dataclass(frozen=True, slots=True)
class StoredMessage:
    id: str
    caller: Caller
    message: NewMessage
    raw_body: bytes
    received_at: datetime
    received_monotonic: float
    outcome: MessageStatus

    def record(self) -> dict[str, Any]:
        """The admin view: what was sent, by whom, when."""
        return {
            "id": self.id,
            "fiscal_code": self.message.fiscal_code,
            "service": self.caller.service,
            "key_fingerprint": self.caller.key_fingerprint,
            "body": json.loads(self.raw_body),
            "received_at": format_timestamp(self.received_at),
        }


@dataclass(frozen=True, slots=True)
class Marks:
    """What a test says IO later learnt of a message: its outcome, whether the citizen read
    it, whether the notice was paid. Unset fields keep the sandbox's own answer."""

    status: MessageStatus | None = None
    read_status: ReadStatus | None = None
    payment_status: PaymentStatus | None = None


class MarkRefused(ValueError):
    """The mark cannot apply to this message (read or payment status of a non-ADVANCED one)."""


class MessageStore:
    """Every accepted message, for the life of the process or until `clear()`."""

    def __init__(
        self,
        processing_delay_s: float,
        monotonic: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._processing_delay_s = processing_delay_s
        self._monotonic = monotonic
        self._wall_clock = wall_clock
        self._messages: dict[str, StoredMessage] = {}
        self._marks: dict[str, Marks] = {}

    def add(
        self, caller: Caller, message: NewMessage, raw_body: bytes, *, deliverable: bool
    ) -> str:
        """Record an accepted message; `deliverable` is False when IO will reject it."""
        message_id = str(ULID())
        self._messages[message_id] = StoredMessage(
            id=message_id,
            caller=caller,
            message=message,
            raw_body=raw_body,
            received_at=self._wall_clock(),
            received_monotonic=self._monotonic(),
            outcome=MessageStatus.PROCESSED if deliverable else MessageStatus.REJECTED,
        )
        return message_id

    def find(self, message_id: str, fiscal_code: str, service: str) -> StoredMessage | None:
        """The message, only for its recipient's fiscal code and the service that sent it."""
        stored = self._messages.get(message_id)
        if stored is None or stored.message.fiscal_code != fiscal_code:
            return None
        return stored if stored.caller.service == service else None

    def get(self, message_id: str) -> StoredMessage | None:
        return self._messages.get(message_id)

    def mark(self, stored: StoredMessage, marks: Marks) -> None:
        """Move a message on, as IO would once the citizen acts; raise MarkRefused when IO
        could not report it (read and payment status exist only for ADVANCED messages)."""
        advanced = stored.message.feature_level_type is FeatureLevelType.ADVANCED
        if (marks.read_status or marks.payment_status) and not advanced:
            raise MarkRefused("read_status and payment_status exist only for ADVANCED messages")
        if marks.payment_status and stored.message.content.payment_data is None:
            raise MarkRefused("payment_status needs a message with payment_data")
        earlier = self._marks.get(stored.id, Marks())
        self._marks[stored.id] = Marks(
            status=marks.status or earlier.status,
            read_status=marks.read_status or earlier.read_status,
            payment_status=marks.payment_status or earlier.payment_status,
        )

    def status(self, stored: StoredMessage) -> MessageStatus:
        marked = self._marks.get(stored.id, Marks()).status
        if marked is not None:
            return marked
        elapsed = self._monotonic() - stored.received_monotonic
        return stored.outcome if elapsed >= self._processing_delay_s else MessageStatus.ACCEPTED

    def view(self, stored: StoredMessage) -> dict[str, Any]:
        """getMessage's answer (ExternalMessageResponseWithContent)."""
        message = stored.message
        feature_level = message.feature_level_type or FeatureLevelType.STANDARD
        content = message.content.model_dump(mode="json", exclude_none=True)
        if "payment_data" in content and "payee" not in content["payment_data"]:
            # IO fills the payee with the sender's organisation (NewMessageContent needs one).
            content["payment_data"]["payee"] = {
                "fiscal_code": stored.caller.organization_fiscal_code
            }
        answer: dict[str, Any] = {
            "message": {
                "id": stored.id,
                "fiscal_code": message.fiscal_code,
                "content": content,
                "time_to_live": message.time_to_live or DEFAULT_TIME_TO_LIVE_S,
                "created_at": format_timestamp(stored.received_at),
                "sender_service_id": stored.caller.service,
                "feature_level_type": feature_level.value,
            },
            "status": self.status(stored).value,
        }
        if feature_level is FeatureLevelType.ADVANCED:
            marks = self._marks.get(stored.id, Marks())
            answer["read_status"] = (marks.read_status or ReadStatus.UNREAD).value
            if message.content.payment_data is not None:
                answer["payment_status"] = (marks.payment_status or PaymentStatus.NOT_PAID).value
        return answer

    def records(self) -> list[dict[str, Any]]:
        return [stored.record() for stored in self._messages.values()]

    def clear(self) -> None:
        self._messages.clear()
        self._marks.clear()
