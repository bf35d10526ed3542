"""The built-in event types: what upstream systems send, and what rules may read."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    HttpUrl,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
)
from pydantic_core import PydanticCustomError

from consumer.events.fiscal_code import FiscalCodePolicy
from consumer.io.models import (
    FISCAL_CODE_PATTERN,
    NOTICE_NUMBER_PATTERN,
    ORGANIZATION_FISCAL_CODE_PATTERN,
)
from consumer.pagopa import notice_number


def _notice_number(value: object) -> object:
    """Printed notice numbers group their digits; upstream copies them with spaces."""
    if not isinstance(value, str | int) or isinstance(value, bool):
        return value  # the str type then refuses it, naming the type
    try:
        return notice_number(value)
    except ValueError as exc:
        raise PydanticCustomError("notice_number", str(exc)) from None


def _fiscal_code(value: str, info: ValidationInfo) -> str:
    """IO's pattern always; checksum and omocodia too when the policy is strict."""
    context = info.context or {}
    policy = context.get("fiscal_codes", _DEFAULT_POLICY)
    try:
        return str(policy.check(value))
    except ValueError as exc:
        raise PydanticCustomError("fiscal_code", str(exc)) from None


_DEFAULT_POLICY = FiscalCodePolicy()


_URL = TypeAdapter(HttpUrl)


def _https_url(value: str) -> str:
    """Checked as a URL, kept as the string upstream sent: templates print it as is."""
    try:
        url = _URL.validate_python(value)
    except ValidationError:
        raise PydanticCustomError("url", "must be an https URL") from None
    if url.scheme != "https":
        raise PydanticCustomError("url", "must be an https URL")
    return value


FiscalCode = Annotated[
    str,
    Field(pattern=FISCAL_CODE_PATTERN, min_length=16, max_length=16),
    AfterValidator(_fiscal_code),
]
NoticeNumber = Annotated[str, Field(pattern=NOTICE_NUMBER_PATTERN), BeforeValidator(_notice_number)]
_INSTANT = TypeAdapter(AwareDatetime)


def _date_or_instant(value: object) -> object:
    """'2027-03-31' is a local day; anything longer is an instant and must carry its offset,
    even at midnight (a lax date would otherwise swallow '2027-03-31T00:00:00-05:00')."""
    if isinstance(value, str) and len(value) != len("2027-03-31"):
        return _INSTANT.validate_python(value)
    return value


# A local Italian date, or an instant with its offset.
DueDate = Annotated[dt.date | AwareDatetime, BeforeValidator(_date_or_instant)]


class EventData(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class PaymentNoticeIssued(EventData):
    recipient_fiscal_code: FiscalCode
    notice_number: NoticeNumber
    amount_cents: Annotated[int, Field(gt=0, strict=True)]
    description: Annotated[str, Field(min_length=1)]
    payee_fiscal_code: Annotated[str, Field(pattern=ORGANIZATION_FISCAL_CODE_PATTERN)] | None = None
    payee_name: str | None = None
    due_date: DueDate | None = None
    invalid_after_due_date: bool = False
    category: str | None = None
    iuv: str | None = None
    debt_position_id: str | None = None


class DocumentReady(EventData):
    recipient_fiscal_code: FiscalCode
    document_id: Annotated[str, Field(min_length=1)]
    title: Annotated[str, Field(min_length=1)]
    category: str | None = None
    download_url: Annotated[str, Field(pattern=r"^https://"), AfterValidator(_https_url)] | None = (
        None
    )
    available_until: dt.date | None = None
    issuer_name: str | None = None


BUILT_IN_TYPES: dict[str, type[EventData]] = {
    "payment_notice.issued": PaymentNoticeIssued,
    "document.ready": DocumentReady,
}
