"""Deliver: check that the citizen can receive the message, then submit it.

IO's spec says a sender MUST check the profile (exists, sender_allowed) before every submit;
the profile cache makes fan-out and repeated events for one citizen cost one check.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from consumer.errors import AuthenticationFault, ConfigurationError
from consumer.io import (
    GaveUp,
    IoClient,
    IoService,
    NewMessage,
    Profile,
    ProfileCache,
    ProfileNotFound,
    Refused,
    Sending,
    Submitted,
    Unknown,
)
from consumer.report import ErrorInfo, Outcome

Compose = Callable[[Sequence[str]], NewMessage]


@dataclass(frozen=True, slots=True)
class Delivery:
    outcome: Outcome
    attempts: int
    io_message_id: str | None = None
    http_status: int | None = None
    error: ErrorInfo | None = None


class KeyGuard:
    """Tells a refused key from a refused message.

    A 401 means the subscription key is wrong or revoked: nothing of that service can work.
    A 403 may concern one message (ADVANCED without Premium, a payee without permission, a
    sandbox service writing to a citizen it may not reach), so only a run of them on one kind
    of call, with none of that kind accepted in between, makes the service a configuration
    fault: a service that may read profiles but not send is as broken as one that may do
    nothing.
    """

    def __init__(self, forbidden_before_fault: int = 5) -> None:
        self._limit = forbidden_before_fault
        self._forbidden_in_a_row: dict[tuple[str, str], int] = {}

    def accepted(self, service: str, call: str = "submit") -> None:
        self._forbidden_in_a_row.pop((service, call), None)

    def refused(self, service: str, refusal: Refused, call: str = "submit") -> None:
        """Raise AuthenticationFault when the refusal condemns the whole service."""
        if refusal.http_status == 401:
            raise AuthenticationFault(
                f"IO refused the subscription key of service {service!r} (401: "
                f"{refusal.detail}); check io.services.{service} and its secret"
            )
        if refusal.http_status == 403:
            count = self._forbidden_in_a_row.get((service, call), 0) + 1
            self._forbidden_in_a_row[(service, call)] = count
            if count >= self._limit:
                raise AuthenticationFault(
                    f"IO answered 403 to the last {count} calls of service {service!r} "
                    f"({refusal.detail}); check its key and permissions"
                )


class Deliverer:
    def __init__(
        self,
        client: IoClient,
        services: Mapping[str, IoService],
        profiles: ProfileCache,
        guard: KeyGuard | None = None,
    ) -> None:
        self._client = client
        self._services = dict(services)
        self._profiles = profiles
        self._guard = guard or KeyGuard()

    async def deliver(
        self,
        service_name: str,
        fiscal_code: str,
        compose: Compose,
        sending: Sending | None = None,
    ) -> Delivery:
        """Check the profile; if the citizen can receive it, compose in their language and send.

        `sending` is told while the submit's request is out (see consumer.io.sending)."""
        service = self._services.get(service_name)
        if service is None:
            raise ConfigurationError(f"rules use service {service_name!r}, not under io.services")
        profile, remembered = await self._profiles.get(
            service_name, fiscal_code, lambda: self._client.get_profile(service, fiscal_code)
        )
        attempts = 0 if remembered else profile.attempts
        match profile:
            case ProfileNotFound():
                self._guard.accepted(service_name, "profile")
                return Delivery(Outcome.NOT_SENT_PROFILE_NOT_FOUND, attempts, http_status=404)
            case Profile(sender_allowed=False):
                self._guard.accepted(service_name, "profile")
                return Delivery(Outcome.NOT_SENT_SENDER_NOT_ALLOWED, attempts, http_status=200)
            case Refused() | GaveUp():
                return self._failed(service_name, profile, attempts, "profile")
            case Profile(preferred_languages=languages):
                self._guard.accepted(service_name, "profile")
        submitted = await self._client.submit(service, compose(languages), sending)
        attempts += submitted.attempts
        match submitted:
            case Submitted(message_id=message_id, http_status=status):
                self._guard.accepted(service_name, "submit")
                return Delivery(Outcome.SUBMITTED, attempts, message_id, status)
            case Unknown(detail=detail):
                lost = ErrorInfo(type="answer_lost", detail=detail)
                return Delivery(Outcome.UNKNOWN, attempts, error=lost)
            case Refused() | GaveUp():
                return self._failed(service_name, submitted, attempts, "submit")

    def _failed(
        self, service: str, outcome: Refused | GaveUp, attempts: int, call: str
    ) -> Delivery:
        if isinstance(outcome, Refused):
            self._guard.refused(service, outcome, call)
            error = ErrorInfo(type="refused", detail=outcome.detail)
        else:
            error = ErrorInfo(type="gave_up", detail=outcome.detail)
        return Delivery(Outcome.FAILED, attempts, http_status=outcome.http_status, error=error)
