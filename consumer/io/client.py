"""The IO services API client: profile checks, submissions and message status over one pool.

It knows nothing of Kafka or rules. Every call waits for a slot in its account's window,
then is retried as its failure deserves:

    429                          hold the whole account for x-rate-limit-retry-after (or
                                 Retry-After; 1 s without either, and the caller backs off)
    5xx, timeouts, lost answers  backoff with jitter, up to max_attempts and max_elapsed_s
    other 4xx                    never: an outcome value says why

A submit is the exception. If its answer never came (a timeout after the request left, a
dropped connection, a 502/504 from the gateway), IO may hold the message already: with
`lost_submit=REPORT_UNKNOWN`, the default, it is reported Unknown and never sent again, so no
citizen receives a message twice; `RETRY` sends it again and accepts that risk.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, SecretStr, ValidationError

from consumer.io.limiter import Pacer
from consumer.io.lines import Lines, NoLineFree, exchange
from consumer.io.models import (
    CreatedMessage,
    ExternalMessageResponse,
    LimitedProfile,
    NewMessage,
    ProblemJson,
)
from consumer.io.observer import Endpoint, IoObserver, NoObserver
from consumer.io.outcomes import (
    GaveUp,
    MessageNotFound,
    MessageOutcome,
    MessageState,
    Profile,
    ProfileNotFound,
    ProfileOutcome,
    Refused,
    SubmitOutcome,
    Submitted,
    Unknown,
)
from consumer.io.retries import Answer, AnswerLost, Retries, Retry, RetryPolicy
from consumer.io.sending import Sending, SubmitInterrupted
from consumer.io.wire import HeldBeforeBody, Wire
from consumer.redact import redact

log = logging.getLogger(__name__)

KEY_HEADER = "Ocp-Apim-Subscription-Key"
USER_AGENT = "io-relay"
RETRY_AFTER_HEADERS = ("x-rate-limit-retry-after", "retry-after")
REMAINING_HEADER = "x-rate-limit-remaining"
# Gateway answers that may come after IO's backend acted on the request.
_AMBIGUOUS_STATUSES = frozenset({502, 504})
_LINES = 64
"""Connections to IO, each lent to one request at a time (see lines.py)."""


class LostSubmit(StrEnum):
    REPORT_UNKNOWN = "report_unknown"
    RETRY = "retry"


@dataclass(frozen=True, slots=True)
class Timeouts:
    connect_s: float = 5.0
    read_s: float = 10.0
    total_s: float = 30.0


@dataclass(frozen=True, slots=True)
class IoService:
    """One IO service: its key, and the limiter of the account it belongs to."""

    name: str
    key: SecretStr
    account: str
    limiter: Pacer = field(repr=False, compare=False)


class IoClient:
    def __init__(
        self,
        base_url: str,
        *,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
        lost_submit: LostSubmit = LostSubmit.REPORT_UNKNOWN,
        observer: IoObserver | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._timeouts = timeouts or Timeouts()
        self._base_url = base_url.rstrip("/")
        timeout = httpx.Timeout(self._timeouts.read_s, connect=self._timeouts.connect_s)
        self._timeout = timeout.as_dict()
        # Idle connections are closed here before a server's usual 5 s keep-alive closes them:
        # a submit sent on a connection the server is closing loses its answer (UNKNOWN).
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1, keepalive_expiry=4.0)
        # One TLS context for all: each transport would load the CA bundle again (30 ms each).
        tls = httpx.create_ssl_context()
        transports = (
            [transport]
            if transport is not None
            else [httpx.AsyncHTTPTransport(limits=limits, verify=tls) for _ in range(_LINES)]
        )
        # A request waits for a line as long as it would have waited in httpx's pool.
        self._lines = Lines(transports, _LINES, wait_s=self._timeouts.read_s)
        self._lost_submit = lost_submit
        self._observer = observer or NoObserver()
        self._retries = Retries(retry or RetryPolicy(), self._observer)

    async def aclose(self) -> None:
        await self._lines.aclose()

    async def get_profile(self, service: IoService, fiscal_code: str) -> ProfileOutcome:
        body = {"fiscal_code": fiscal_code}
        answer = await self._call("profile", service, "POST", "/api/v1/profiles", body)
        if isinstance(answer, GaveUp):
            return answer
        response, attempts = answer.response, answer.attempts
        if response.status_code == 200:
            profile = _parse(LimitedProfile, response)
            if profile is None:
                return GaveUp("IO answered 200 with an unreadable profile", 200, attempts)
            languages = tuple(profile.preferred_languages or ())
            return Profile(profile.sender_allowed, languages, attempts)
        if response.status_code == 404:
            return ProfileNotFound(attempts)
        return Refused(response.status_code, _detail(response), attempts)

    async def submit(
        self, service: IoService, message: NewMessage, sending: Sending | None = None
    ) -> SubmitOutcome:
        """`sending` is told while the request is out. Cancelled then, the submit raises
        SubmitInterrupted (with `lost_submit=RETRY`, a plain CancelledError: it may be sent
        again)."""
        body = message.to_json_body()
        repeatable = self._lost_submit is LostSubmit.RETRY
        try:
            answer = await self._call(
                "submit",
                service,
                "POST",
                "/api/v1/messages",
                body,
                repeatable=repeatable,
                sending=sending,
            )
        except AnswerLost as lost:
            return Unknown(lost.detail, lost.attempts)
        if isinstance(answer, GaveUp):
            return answer
        response, attempts = answer.response, answer.attempts
        if response.status_code == 201:
            created = _parse(CreatedMessage, response)
            if created is None:
                return Unknown("IO answered 201 without a readable message id", attempts)
            return Submitted(created.id, 201, attempts)
        return Refused(response.status_code, _detail(response), attempts)

    async def get_message(
        self, service: IoService, fiscal_code: str, message_id: str
    ) -> MessageOutcome:
        path = f"/api/v1/messages/{fiscal_code}/{message_id}"
        answer = await self._call("get_message", service, "GET", path, None)
        if isinstance(answer, GaveUp):
            return answer
        response, attempts = answer.response, answer.attempts
        if response.status_code == 200:
            state = _parse(ExternalMessageResponse, response)
            if state is None or state.status is None:
                return GaveUp("IO answered 200 without a readable status", 200, attempts)
            return MessageState(state.status, state.read_status, state.payment_status, attempts)
        if response.status_code == 404:
            return MessageNotFound(attempts)
        return Refused(response.status_code, _detail(response), attempts)

    async def _call(
        self,
        endpoint: Endpoint,
        service: IoService,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        *,
        repeatable: bool = True,
        sending: Sending | None = None,
    ) -> Answer | GaveUp:
        """Send with pacing and retries; raise AnswerLost only for a non-repeatable call.

        Most calls take one attempt, and make it without tenacity: its machinery is some
        forty objects in reference cycles per call, which only the collector frees (full
        collections of 100 ms every few seconds at 600 calls a second, a p99 of their own).
        tenacity takes over from the first retry, with the first failure replayed to it."""

        def once() -> Awaitable[httpx.Response]:
            return self._attempt(
                endpoint, service, method, path, body, repeatable=repeatable, sending=sending
            )

        started = time.monotonic()
        try:
            return Answer(await once(), 1)
        except Retry as first:
            return await self._retries.after(endpoint, once, first, time.monotonic() - started)
        except AnswerLost as lost:
            raise AnswerLost(lost.detail, 1) from None
        except SubmitInterrupted as cut:
            raise SubmitInterrupted(cut.detail, 1) from None

    async def _attempt(
        self,
        endpoint: Endpoint,
        service: IoService,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        *,
        repeatable: bool,
        sending: Sending | None = None,
    ) -> httpx.Response:
        waited = await service.limiter.acquire()
        if waited > 0:
            self._observer.limiter_waited(service.account, waited)
        headers = {KEY_HEADER: service.key.get_secret_value(), "user-agent": USER_AGENT}
        extensions: dict[str, Any] = {"timeout": self._timeout}
        reached_io = False
        out = False  # whether `sending` was told
        wire = Wire(sending)
        extensions.update(wire.extensions or {})
        request = httpx.Request(
            method, self._base_url + path, json=body, headers=headers, extensions=extensions
        )
        try:
            if sending is not None:
                await sending.cleared()  # held after a freeze; cancelled there, nothing went
                sending.started()
                out = True
            started = time.perf_counter()
            async with self._lines.lend() as line, asyncio.timeout(self._timeouts.total_s):
                reached_io = True  # unless shown otherwise, the gateway may have counted it
                response = await exchange(line, request)
        except asyncio.CancelledError:
            if not out or repeatable or wire.unsent or not reached_io:
                raise  # nothing left, or nothing IO could act on
            self._observer.call_finished(endpoint, None, time.perf_counter() - started)
            raise SubmitInterrupted(
                "io-relay stopped waiting for IO's answer (partition revoked or shutting down)",
                1,
            ) from None
        except HeldBeforeBody:
            self._observer.call_finished(endpoint, None, time.perf_counter() - started)
            raise Retry("held by the freeze guard before its body: sent again") from None
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, NoLineFree) as exc:
            reached_io = False
            self._observer.call_finished(endpoint, None, time.perf_counter() - started)
            raise Retry(f"cannot reach IO ({type(exc).__name__})") from None
        except (TimeoutError, httpx.TransportError) as exc:
            self._observer.call_finished(endpoint, None, time.perf_counter() - started)
            if wire.unsent:  # its body never left: IO cannot have acted on it
                raise Retry(f"cannot reach IO ({type(exc).__name__})") from None
            detail = f"the answer never came ({type(exc).__name__})"
            raise (Retry(detail, lost=True) if repeatable else AnswerLost(detail, 0)) from None
        finally:  # the gateway counted it by now, if ever: the window runs from here
            service.limiter.settle(counted=reached_io)
            if out and sending is not None:
                sending.answered()
        self._observer.call_finished(endpoint, response.status_code, time.perf_counter() - started)
        return self._judge(response, service, repeatable=repeatable)

    def _judge(
        self, response: httpx.Response, service: IoService, *, repeatable: bool
    ) -> httpx.Response:
        status = response.status_code
        remaining = _int_header(response, REMAINING_HEADER)
        if remaining is not None and status != 429:  # a 429's own hold says when to go on
            service.limiter.observe_remaining(remaining)
        if status == 429:
            # Never longer than two of the account's windows: a gateway's `inf`, `1e9` or
            # far-off date would otherwise hold the whole account for good.
            retry_after = _retry_after(response, 2 * service.limiter.policy.per_seconds)
            service.limiter.hold(retry_after if retry_after is not None else 1.0)
            self._observer.rate_limited(service.account, retry_after or 1.0)
            raise Retry("IO answered 429", 429, retry_after)
        if status >= 500:
            detail = f"IO answered {status}"
            ambiguous = status in _AMBIGUOUS_STATUSES
            if ambiguous and not repeatable:
                raise AnswerLost(detail, 0)
            raise Retry(detail, status, lost=ambiguous)
        return response


_Body = TypeVar("_Body", bound=BaseModel)


def _parse(model: type[_Body], response: httpx.Response) -> _Body | None:
    try:
        return model.model_validate_json(response.content)
    except ValidationError:
        return None


def _detail(response: httpx.Response) -> str:
    """IO's words, masked and cut where they enter: IO may echo the request's fiscal code."""
    try:
        problem = ProblemJson.model_validate_json(response.content)
    except ValidationError:
        return redact(response.reason_phrase or f"HTTP {response.status_code}")
    return redact(problem.detail or problem.title or f"HTTP {response.status_code}")


def _int_header(response: httpx.Response, name: str) -> int | None:
    try:
        return int(response.headers[name])
    except (KeyError, ValueError):
        return None


def _retry_after(response: httpx.Response, longest_s: float) -> float | None:
    """Seconds from IO's gateway header, or a standard Retry-After (seconds or HTTP date),
    at most `longest_s`; a value that is no finite number is ignored."""
    for name in RETRY_AFTER_HEADERS:
        value = response.headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value)
        except ValueError:
            try:
                seconds = parsedate_to_datetime(value).timestamp() - time.time()
            except (TypeError, ValueError, OverflowError):
                continue
        if math.isfinite(seconds):
            return min(max(0.0, seconds), longest_s)
    return None
