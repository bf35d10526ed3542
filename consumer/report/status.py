"""The status record: one per (event, rule), the upstream systems' answer to "what happened?".

Its JSON Schema lives in schemas/status-record.schema.json and is generated from this model.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class Outcome(StrEnum):
    SUBMITTED = "SUBMITTED"
    SKIPPED = "SKIPPED"
    NOT_SENT_PROFILE_NOT_FOUND = "NOT_SENT_PROFILE_NOT_FOUND"
    NOT_SENT_SENDER_NOT_ALLOWED = "NOT_SENT_SENDER_NOT_ALLOWED"
    INVALID = "INVALID"
    FAILED = "FAILED"
    UNKNOWN = "UNKNOWN"
    DUPLICATE = "DUPLICATE"


class ErrorInfo(BaseModel):
    model_config = ConfigDict(frozen=True)

    type: str
    detail: str


class InputPosition(BaseModel):
    model_config = ConfigDict(frozen=True)

    topic: str
    partition: int
    offset: int


class StatusRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    event_id: str | None = Field(description="null only when the event could not be decoded")
    event_type: str | None
    rule: str | None = None
    service: str | None = None
    outcome: Outcome
    io_message_id: str | None = None
    attempts: int = 0
    http_status: int | None = None
    error: ErrorInfo | None = None
    input: InputPosition
    at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    def key(self) -> bytes | None:
        return self.event_id.encode() if self.event_id is not None else None

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()
