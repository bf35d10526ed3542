"""IO services API payloads, with the constraints of IO's official OpenAPI spec.

One definition serves both sides: io-relay builds its requests from these models, and the
sandbox validates what it receives with them. The contract tests hold both against the
official spec, so a constraint written wrong here fails there.

Unknown fields are ignored, as IO's own decoders do; io-relay never sets any. An optional
field is either absent or valid: `null` is refused, as IO refuses it (Swagger 2 has no
nullable). Lengths count UTF-16 code units, as IO's JavaScript does: an emoji counts two.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

FISCAL_CODE_PATTERN = (
    r"^[A-Z]{6}[0-9LMNPQRSTUV]{2}[ABCDEHLMPRST][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]$"
)
ORGANIZATION_FISCAL_CODE_PATTERN = r"^[0-9]{11}$"
NOTICE_NUMBER_PATTERN = r"^[0123][0-9]{17}$"
ULID_PATTERN = r"^[0-9a-hjkmnp-tv-zA-HJKMNP-TV-Z]{26}$"
_UTC_ISO_DATE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?$")

SUBJECT_MIN, SUBJECT_MAX = 10, 120
MARKDOWN_MIN, MARKDOWN_MAX = 80, 10_000
AMOUNT_MIN, AMOUNT_MAX = 1, 9_999_999_999
TIME_TO_LIVE_MIN, TIME_TO_LIVE_MAX = 3_600, 604_800


def _valid_timestamp(value: str) -> str:
    """IO's `UTCISODateFromString`: an ISO-8601 date-time that also parses as a real instant."""
    if not _UTC_ISO_DATE.match(value):
        raise PydanticCustomError(
            "timestamp", "must be an ISO-8601 date-time such as 2026-03-31T21:59:59.000Z"
        )
    try:
        datetime.fromisoformat(value)
    except ValueError as exc:
        raise PydanticCustomError(
            "timestamp", "is not a real date-time: {why}", {"why": str(exc)}
        ) from None
    return value


def utf16_length(value: str) -> int:
    """A string's length as JavaScript, and so IO, measures it."""
    return len(value.encode("utf-16-le")) // 2


def _utf16_between(low: int, high: int) -> AfterValidator:
    def check(value: str) -> str:
        length = utf16_length(value)
        if not low <= length <= high:
            raise PydanticCustomError(
                "string_length",
                "must be {low} to {high} characters long, not {length}",
                {"low": low, "high": high, "length": length},
            )
        return value

    return AfterValidator(check)


def _email(value: str) -> str:
    local, at, domain = value.rpartition("@")
    if not (local and at and domain):
        raise PydanticCustomError("email", "must be an email address")
    return value


FiscalCode = Annotated[str, StringConstraints(pattern=FISCAL_CODE_PATTERN)]
OrganizationFiscalCode = Annotated[str, StringConstraints(pattern=ORGANIZATION_FISCAL_CODE_PATTERN)]
Timestamp = Annotated[str, AfterValidator(_valid_timestamp)]


def format_timestamp(instant: datetime) -> str:
    """The form IO documents for timestamps: UTC, milliseconds, a trailing Z."""
    if instant.tzinfo is None:
        raise ValueError("a timestamp for IO needs a time zone")
    utc = instant.astimezone(UTC)
    return f"{utc.year:04d}-" + utc.strftime("%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


class FeatureLevelType(StrEnum):
    STANDARD = "STANDARD"
    ADVANCED = "ADVANCED"


class MessageStatus(StrEnum):
    ACCEPTED = "ACCEPTED"
    THROTTLED = "THROTTLED"
    FAILED = "FAILED"
    PROCESSED = "PROCESSED"
    REJECTED = "REJECTED"


class ReadStatus(StrEnum):
    UNAVAILABLE = "UNAVAILABLE"
    UNREAD = "UNREAD"
    READ = "READ"


class PaymentStatus(StrEnum):
    PAID = "PAID"
    NOT_PAID = "NOT_PAID"


class _Answer(BaseModel):
    """What IO sends back: read leniently, so a new or null field never breaks io-relay."""

    model_config = ConfigDict(frozen=True, extra="ignore")


class _Model(BaseModel):
    """What IO receives: exactly as strict as IO."""

    model_config = ConfigDict(strict=True, frozen=True, extra="ignore")

    @field_validator("*", mode="before")
    @classmethod
    def _absent_rather_than_null(cls, value: object, info: ValidationInfo) -> object:
        if value is None:
            raise PydanticCustomError(
                "null", "{field} may be left out, but not null", {"field": info.field_name}
            )
        return value


class Payee(_Model):
    fiscal_code: OrganizationFiscalCode


class PaymentData(_Model):
    amount: Annotated[int, Field(ge=AMOUNT_MIN, le=AMOUNT_MAX)]
    notice_number: Annotated[str, StringConstraints(pattern=NOTICE_NUMBER_PATTERN)]
    invalid_after_due_date: bool = False
    payee: Payee | None = None


class ThirdPartyData(_Model):
    id: Annotated[str, StringConstraints(min_length=1)]
    original_sender: Annotated[str, StringConstraints(min_length=1)] | None = None
    original_receipt_date: Timestamp | None = None
    has_attachments: bool = False
    has_remote_content: bool = False
    has_precondition: Annotated[str, Field(pattern=r"^(ALWAYS|ONCE|NEVER)$")] | None = None
    summary: Annotated[str, StringConstraints(min_length=1)] | None = None
    configuration_id: Annotated[str, StringConstraints(pattern=ULID_PATTERN)] | None = None


class EuCovidCert(_Model):
    auth_code: str


class MessageContent(_Model):
    subject: Annotated[str, _utf16_between(SUBJECT_MIN, SUBJECT_MAX)]
    markdown: Annotated[str, _utf16_between(MARKDOWN_MIN, MARKDOWN_MAX)]
    require_secure_channels: bool | None = None
    payment_data: PaymentData | None = None
    due_date: Timestamp | None = None
    third_party_data: ThirdPartyData | None = None
    eu_covid_cert: EuCovidCert | None = None


class DefaultAddresses(_Model):
    email: Annotated[str, AfterValidator(_email)] | None = None


class NewMessage(_Model):
    """The body of `POST /api/v1/messages` (submitMessageforUserWithFiscalCodeInBody)."""

    fiscal_code: FiscalCode
    content: MessageContent
    time_to_live: Annotated[int, Field(ge=TIME_TO_LIVE_MIN, le=TIME_TO_LIVE_MAX)] | None = None
    feature_level_type: FeatureLevelType | None = None
    default_addresses: DefaultAddresses | None = None

    def to_json_body(self) -> dict[str, Any]:
        """The exact request body: unset optional fields are left out, not sent as null."""
        return self.model_dump(mode="json", exclude_none=True)


class FiscalCodePayload(_Model):
    """The body of `POST /api/v1/profiles` (getProfileByPOST)."""

    fiscal_code: FiscalCode


class LimitedProfile(_Answer):
    sender_allowed: bool
    preferred_languages: list[str] | None = None


class CreatedMessage(_Answer):
    id: str


class ProblemJson(_Answer):
    """IO's error body. Every field is optional: gateways answer with less."""

    type: str | None = None
    title: str | None = None
    status: int | None = None
    detail: str | None = None
    instance: str | None = None


class ExternalMessageResponse(_Answer):
    """The part of getMessage's answer that io-relay reads."""

    status: MessageStatus | None = None
    read_status: ReadStatus | None = None
    payment_status: PaymentStatus | None = None
