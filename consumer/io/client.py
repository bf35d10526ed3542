"""The IO services API client: profile checks and submissions over one httpx pool.

It knows nothing of Kafka or rules. Transport failures and IO's error answers are turned into
outcome values here, at the boundary.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
from pydantic import SecretStr, ValidationError
from tenacity import (
    AsyncRetrying,
    RetryError,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from consumer.io.models import CreatedMessage, LimitedProfile, NewMessage, ProblemJson
from consumer.io.outcomes import (
    GaveUp,
    Profile,
    ProfileNotFound,
    ProfileOutcome,
    Refused,
    SubmitOutcome,
    Submitted,
    Unknown,
)

_KEY_HEADER = "Ocp-Apim-Subscription-Key"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 5
    initial_wait_s: float = 0.2
    max_wait_s: float = 10.0


class _Retryable(Exception):
    """An answer worth another try: 429 or 5xx, or a request that surely never arrived."""

    def __init__(self, detail: str, http_status: int | None = None) -> None:
        self.detail = detail
        self.http_status = http_status
        super().__init__(detail)


class IoClient:
    def __init__(
        self,
        base_url: str,
        *,
        connect_timeout_s: float = 5.0,
        read_timeout_s: float = 10.0,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        timeout = httpx.Timeout(read_timeout_s, connect=connect_timeout_s)
        self._http = httpx.AsyncClient(base_url=base_url, timeout=timeout, transport=transport)
        self._retry = retry or RetryPolicy()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def get_profile(self, key: SecretStr, fiscal_code: str) -> ProfileOutcome:
        try:
            response = await self._call(
                "POST", "/api/v1/profiles", key, {"fiscal_code": fiscal_code}, idempotent=True
            )
        except _Retryable as exc:
            return GaveUp(exc.detail, exc.http_status)
        if response.status_code == 200:
            profile = _parse(LimitedProfile, response)
            if profile is None:
                return GaveUp("IO answered 200 with an unreadable profile", 200)
            return Profile(profile.sender_allowed, tuple(profile.preferred_languages or ()))
        if response.status_code == 404:
            return ProfileNotFound()
        return Refused(response.status_code, _detail(response))

    async def submit(self, key: SecretStr, message: NewMessage) -> SubmitOutcome:
        try:
            response = await self._call(
                "POST", "/api/v1/messages", key, message.to_json_body(), idempotent=False
            )
        except _Retryable as exc:
            return GaveUp(exc.detail, exc.http_status)
        except _AnswerLost as exc:
            return Unknown(str(exc))
        if response.status_code == 201:
            created = _parse(CreatedMessage, response)
            if created is None:
                return Unknown("IO answered 201 without a readable message id")
            return Submitted(created.id)
        return Refused(response.status_code, _detail(response))

    async def _call(
        self, method: str, path: str, key: SecretStr, body: dict[str, Any], *, idempotent: bool
    ) -> httpx.Response:
        """Send with retries. A lost answer is retried only for a call that is safe to repeat."""
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(_Retryable),
            stop=stop_after_attempt(self._retry.max_attempts),
            wait=wait_exponential_jitter(
                multiplier=self._retry.initial_wait_s, max=self._retry.max_wait_s
            ),
            reraise=False,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._send_once(method, path, key, body, idempotent=idempotent)
        except RetryError as exc:
            last = exc.last_attempt.exception()
            raise last if isinstance(last, _Retryable) else _Retryable(str(last)) from None
        raise AssertionError("unreachable: tenacity either returns or raises")

    async def _send_once(
        self, method: str, path: str, key: SecretStr, body: dict[str, Any], *, idempotent: bool
    ) -> httpx.Response:
        headers = {_KEY_HEADER: key.get_secret_value()}
        try:
            response = await self._http.request(method, path, json=body, headers=headers)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise _Retryable(f"cannot reach IO: {type(exc).__name__}") from None
        except httpx.TransportError as exc:
            detail = f"the answer never came: {type(exc).__name__}"
            raise (_Retryable(detail) if idempotent else _AnswerLost(detail)) from None
        if response.status_code == 429 or response.status_code >= 500:
            raise _Retryable(f"IO answered {response.status_code}", response.status_code)
        return response


class _AnswerLost(Exception):
    """The request left, the answer never came: IO may have acted on it."""


_Body = TypeVar("_Body", LimitedProfile, CreatedMessage)


def _parse(model: type[_Body], response: httpx.Response) -> _Body | None:
    try:
        return model.model_validate_json(response.content, strict=False)
    except ValidationError:
        return None


def _detail(response: httpx.Response) -> str:
    try:
        problem = ProblemJson.model_validate_json(response.content, strict=False)
    except ValidationError:
        return response.reason_phrase or f"HTTP {response.status_code}"
    return problem.detail or problem.title or f"HTTP {response.status_code}"
