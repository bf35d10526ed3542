"""The status record: one per (event, rule), the upstream systems' answer to "what happened?".

Its JSON Schema lives in schemas/status-record.schema.json and is generated from this model.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

from consumer.redact import mask, redact

_masked_type = functools.lru_cache(maxsize=1024)(mask)


class Stage(StrEnum):
    """Which part of a message's life a record speaks of.

    DELIVERY: the event's one record (submitted, skipped, refused...). The later stages follow a
    SUBMITTED message: PROCESSING ends in PROCESSED, REJECTED, FAILED or EXPIRED_TRACKING;
    READING (Premium) in READ, READ_UNAVAILABLE or EXPIRED_TRACKING; PAYMENT (Premium, with
    payment data) in PAID or EXPIRED_TRACKING. Each stage that starts ends with one record.
    """

    DELIVERY = "DELIVERY"
    PROCESSING = "PROCESSING"
    READING = "READING"
    PAYMENT = "PAYMENT"


class Outcome(StrEnum):
    SUBMITTED = "SUBMITTED"
    SKIPPED = "SKIPPED"
    NOT_SENT_PROFILE_NOT_FOUND = "NOT_SENT_PROFILE_NOT_FOUND"
    NOT_SENT_SENDER_NOT_ALLOWED = "NOT_SENT_SENDER_NOT_ALLOWED"
    INVALID = "INVALID"
    FAILED = "FAILED"
    UNKNOWN = "UNKNOWN"
    DUPLICATE = "DUPLICATE"
    # lifecycle, after SUBMITTED
    PROCESSED = "PROCESSED"
    REJECTED = "REJECTED"
    READ = "READ"
    READ_UNAVAILABLE = "READ_UNAVAILABLE"
    PAID = "PAID"
    EXPIRED_TRACKING = "EXPIRED_TRACKING"


DELIVERY_OUTCOMES = tuple(Outcome)[: list(Outcome).index(Outcome.PROCESSED)]
"""The outcomes of the DELIVERY stage; the rest belong to the lifecycle stages."""

LIFECYCLE_OUTCOMES = (
    *((Stage.PROCESSING, o) for o in (Outcome.PROCESSED, Outcome.REJECTED, Outcome.FAILED)),
    (Stage.PROCESSING, Outcome.EXPIRED_TRACKING),
    (Stage.READING, Outcome.READ),
    (Stage.READING, Outcome.READ_UNAVAILABLE),
    (Stage.READING, Outcome.EXPIRED_TRACKING),
    (Stage.PAYMENT, Outcome.PAID),
    (Stage.PAYMENT, Outcome.EXPIRED_TRACKING),
)
"""Every (stage, outcome) a lifecycle record can carry."""


class ErrorInfo(BaseModel):
    model_config = ConfigDict(frozen=True)

    type: str
    detail: str

    @field_validator("detail")
    @classmethod
    def _no_fiscal_code(cls, detail: str) -> str:
        """Every record's error passes here, whoever wrote it: IO's words, a library's."""
        return redact(detail)


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
    stage: Stage = Stage.DELIVERY
    outcome: Outcome
    io_message_id: str | None = None
    notice_number: str | None = Field(
        default=None,
        description="the pagoPA notice number of the message's payment_data (delivery "
        "records of payable messages); what `io-relay status --notice` looks for",
    )
    attempts: int = 0
    http_status: int | None = None
    error: ErrorInfo | None = None
    input: InputPosition
    at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    @field_validator("event_id")
    @classmethod
    def _no_fiscal_code_in_id(cls, value: str | None) -> str | None:
        """The upstream's words: an id may be, by mistake, a fiscal code."""
        return None if value is None else mask(value)

    @field_validator("event_type")
    @classmethod
    def _no_fiscal_code_in_type(cls, value: str | None) -> str | None:
        """A type may be one too; types are few, so each is masked once."""
        return None if value is None else _masked_type(value)

    def key(self) -> bytes | None:
        return self.event_id.encode() if self.event_id is not None else None

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()
