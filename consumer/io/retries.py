"""Retries: what happens after an IO call's first attempt failed in a way worth repeating.

tenacity decides: up to `max_attempts` and `max_elapsed_s`, with IO's own retry-after when
it gave one, else exponential backoff with jitter. The first attempt is made without it (see
IoClient._call): its machinery is some forty objects in reference cycles per call, which
only the garbage collector frees.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    RetryError,
    retry_if_exception_type,
    stop_after_attempt,
    stop_before_delay,
    wait_exponential_jitter,
)

from consumer.io.observer import Endpoint, IoObserver, RetryReason
from consumer.io.outcomes import GaveUp
from consumer.io.sending import SubmitInterrupted

log = logging.getLogger("consumer.io.client")  # the client's lines, as before the split


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 6
    max_elapsed_s: float = 120.0
    initial_backoff_s: float = 0.5
    max_backoff_s: float = 30.0


class Retry(Exception):
    """An attempt worth repeating."""

    def __init__(
        self,
        detail: str,
        status: int | None = None,
        retry_after: float | None = None,
        *,
        lost: bool = False,
    ) -> None:
        self.detail = detail
        self.status = status
        self.retry_after = retry_after
        self.lost = lost  # the request left: IO may have acted on it
        super().__init__(detail)

    @property
    def kind(self) -> RetryReason:
        """A few values, for metrics: the detail is for logs."""
        if self.status == 429:
            return "rate_limited"
        if self.status is not None:
            return "server_error"
        return "no_answer" if self.lost else "unreachable"


class AnswerLost(Exception):
    """The request left, the answer never came: IO may have acted on it."""

    def __init__(self, detail: str, attempts: int) -> None:
        self.detail = detail
        self.attempts = attempts
        super().__init__(detail)


@dataclass(frozen=True, slots=True)
class Answer:
    response: httpx.Response
    attempts: int


class Retries:
    def __init__(self, policy: RetryPolicy, observer: IoObserver) -> None:
        self._policy = policy
        self._observer = observer

    async def after(
        self,
        endpoint: Endpoint,
        once: Callable[[], Awaitable[httpx.Response]],
        first: Retry,
        spent_s: float,
    ) -> Answer | GaveUp:
        """The attempts after a first one that failed with `first`, `spent_s` ago."""
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(Retry),
            # stop_before_delay: a wait that would end past the budget is not begun.
            stop=stop_after_attempt(self._policy.max_attempts)
            | stop_before_delay(self._policy.max_elapsed_s - spent_s),
            wait=self._wait,
            before_sleep=lambda state: self._before_sleep(endpoint, state),
            reraise=False,
        )
        attempts, lost = 0, False
        try:
            async for attempt in retrying:
                with attempt:
                    attempts += 1
                    try:
                        if attempts == 1:
                            raise first  # replayed: tenacity decides what follows it
                        response = await once()
                    except Retry as retry:
                        lost = lost or retry.lost
                        raise
                    return Answer(response, attempts)
        except RetryError as exc:
            last = exc.last_attempt.exception()
            if not isinstance(last, Retry):
                raise
            if lost and endpoint == "submit":  # resent, and never sure: still unknown
                raise AnswerLost(f"{last.detail}; an earlier answer was lost", attempts) from None
            return GaveUp(f"{last.detail}, {attempts} attempts", last.status, attempts)
        except AnswerLost as lost:
            raise AnswerLost(lost.detail, attempts) from None
        except SubmitInterrupted as cut:
            raise SubmitInterrupted(cut.detail, attempts) from None
        raise AssertionError("unreachable: tenacity either returns or raises")

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, Retry) and error.retry_after is not None:
            return error.retry_after
        backoff = wait_exponential_jitter(
            multiplier=self._policy.initial_backoff_s,
            max=self._policy.max_backoff_s,
            jitter=self._policy.initial_backoff_s,
        )
        return float(backoff(state))

    def _before_sleep(self, endpoint: Endpoint, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        reason = str(error) if error else "unknown"
        wait_s = state.next_action.sleep if state.next_action else 0.0
        if isinstance(error, Retry):
            self._observer.retrying(endpoint, error.kind, wait_s)
        log.info(
            "io call retried",
            extra={"endpoint": endpoint, "reason": reason, "attempt": state.attempt_number},
        )
