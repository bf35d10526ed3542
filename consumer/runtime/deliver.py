"""Deliver: check that the citizen can receive the message, then submit it.

IO's spec says a sender MUST check the profile (exists, sender_allowed) before every submit.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from pydantic import SecretStr

from consumer.errors import AuthenticationFault, ConfigurationError
from consumer.io import (
    GaveUp,
    IoClient,
    NewMessage,
    Profile,
    ProfileNotFound,
    Refused,
    Submitted,
    Unknown,
)
from consumer.report import ErrorInfo, Outcome


@dataclass(frozen=True, slots=True)
class Delivery:
    outcome: Outcome
    attempts: int
    io_message_id: str | None = None
    http_status: int | None = None
    error: ErrorInfo | None = None


class Deliverer:
    def __init__(self, client: IoClient, keys: Mapping[str, SecretStr]) -> None:
        self._client = client
        self._keys = dict(keys)

    async def deliver(
        self,
        service: str,
        fiscal_code: str,
        compose: Callable[[Sequence[str]], NewMessage],
    ) -> Delivery:
        """Check the profile; if the citizen can receive it, compose in their language and send."""
        key = self._keys.get(service)
        if key is None:
            raise ConfigurationError(
                f"service {service!r} is used by a rule but not under io.services"
            )
        profile = await self._client.get_profile(key, fiscal_code)
        match profile:
            case ProfileNotFound():
                return Delivery(Outcome.NOT_SENT_PROFILE_NOT_FOUND, 1, http_status=404)
            case Profile(sender_allowed=False):
                return Delivery(Outcome.NOT_SENT_SENDER_NOT_ALLOWED, 1, http_status=200)
            case Refused() | GaveUp():
                return _failed(service, profile, attempts=1)
        submitted = await self._client.submit(key, compose(profile.preferred_languages))
        match submitted:
            case Submitted(message_id=message_id, http_status=status):
                return Delivery(Outcome.SUBMITTED, 2, io_message_id=message_id, http_status=status)
            case Unknown(detail=detail):
                return Delivery(
                    Outcome.UNKNOWN, 2, error=ErrorInfo(type="answer_lost", detail=detail)
                )
            case _:
                return _failed(service, submitted, attempts=2)


def _failed(service: str, outcome: Refused | GaveUp, *, attempts: int) -> Delivery:
    if isinstance(outcome, Refused):
        if outcome.is_authentication:
            raise AuthenticationFault(
                f"IO refused the subscription key of service {service!r} "
                f"(HTTP {outcome.http_status}: {outcome.detail})"
            )
        error = ErrorInfo(type="refused", detail=outcome.detail)
    else:
        error = ErrorInfo(type="gave_up", detail=outcome.detail)
    return Delivery(Outcome.FAILED, attempts, http_status=outcome.http_status, error=error)
