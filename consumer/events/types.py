"""The built-in event types: what upstream systems send, and what rules may read."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, HttpUrl

from consumer.io.models import FISCAL_CODE_PATTERN, ORGANIZATION_FISCAL_CODE_PATTERN

_NOTICE_NUMBER = re.compile(r"^[0-9]{18}$")


def _normalise_notice_number(value: object) -> object:
    """Notice numbers are printed in groups of digits; upstream copies them with spaces."""
    return value.replace(" ", "") if isinstance(value, str) else value


def _notice_number(value: str) -> str:
    if not _NOTICE_NUMBER.match(value):
        raise ValueError("must be 18 digits (spaces allowed between groups)")
    return value


def _https_only(value: HttpUrl) -> HttpUrl:
    if value.scheme != "https":
        raise ValueError("must be an https URL")
    return value


FiscalCode = Annotated[str, Field(pattern=FISCAL_CODE_PATTERN, min_length=16, max_length=16)]
NoticeNumber = Annotated[
    str, BeforeValidator(_normalise_notice_number), AfterValidator(_notice_number)
]
DueDate = dt.date | dt.datetime


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
    download_url: Annotated[HttpUrl, AfterValidator(_https_only)] | None = None
    available_until: dt.date | None = None
    issuer_name: str | None = None


BUILT_IN_TYPES: dict[str, type[EventData]] = {
    "payment_notice.issued": PaymentNoticeIssued,
    "document.ready": DocumentReady,
}
