"""Every answer IO can give to a call io-relay makes, as a value rather than an exception.

The caller matches on the type: each one maps to exactly one status-record outcome.
`attempts` counts the HTTP attempts the call took, retries included.
"""

from __future__ import annotations

from dataclasses import dataclass

from consumer.io.models import MessageStatus, PaymentStatus, ReadStatus


@dataclass(frozen=True, slots=True)
class Profile:
    sender_allowed: bool
    preferred_languages: tuple[str, ...] = ()
    attempts: int = 1


@dataclass(frozen=True, slots=True)
class ProfileNotFound:
    """404: no IO profile, or the inbox is disabled. Do not send."""

    attempts: int = 1


@dataclass(frozen=True, slots=True)
class Submitted:
    message_id: str
    http_status: int = 201
    attempts: int = 1


@dataclass(frozen=True, slots=True)
class MessageState:
    status: MessageStatus
    read_status: ReadStatus | None = None
    payment_status: PaymentStatus | None = None
    attempts: int = 1


@dataclass(frozen=True, slots=True)
class MessageNotFound:
    attempts: int = 1


@dataclass(frozen=True, slots=True)
class Refused:
    """A 4xx that no retry will change; `detail` is IO's ProblemJson detail."""

    http_status: int
    detail: str
    attempts: int = 1

    @property
    def is_authentication(self) -> bool:
        """401/403: a wrong or revoked key, or a permission the service lacks."""
        return self.http_status in (401, 403)


@dataclass(frozen=True, slots=True)
class GaveUp:
    """Transient failures until the retry budget ran out; worth trying again later."""

    detail: str
    http_status: int | None = None
    attempts: int = 1


@dataclass(frozen=True, slots=True)
class Unknown:
    """A submit whose answer never came: IO may or may not hold the message."""

    detail: str
    attempts: int = 1


ProfileOutcome = Profile | ProfileNotFound | Refused | GaveUp
SubmitOutcome = Submitted | Refused | GaveUp | Unknown
MessageOutcome = MessageState | MessageNotFound | Refused | GaveUp
