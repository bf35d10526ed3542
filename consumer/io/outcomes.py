"""Every answer IO can give to a call io-relay makes, as a value rather than an exception.

The caller matches on the type: each one maps to exactly one status-record outcome.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Profile:
    sender_allowed: bool
    preferred_languages: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ProfileNotFound:
    """404: no IO profile, or the inbox is disabled. Do not send."""


@dataclass(frozen=True, slots=True)
class Submitted:
    message_id: str
    http_status: int = 201


@dataclass(frozen=True, slots=True)
class Refused:
    """A 4xx that no retry will change; `detail` is IO's ProblemJson detail."""

    http_status: int
    detail: str

    @property
    def is_authentication(self) -> bool:
        """401/403 on a call: most often a wrong or revoked subscription key."""
        return self.http_status in (401, 403)


@dataclass(frozen=True, slots=True)
class GaveUp:
    """Transient failures until the retry budget ran out; the call may be tried again later."""

    detail: str
    http_status: int | None = None


@dataclass(frozen=True, slots=True)
class Unknown:
    """A submit whose answer never came: IO may or may not have the message."""

    detail: str


ProfileOutcome = Profile | ProfileNotFound | Refused | GaveUp
SubmitOutcome = Submitted | Refused | GaveUp | Unknown
