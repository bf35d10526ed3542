"""Hooks through which the IO client reports what it does; metrics plug in here.

The client calls them and never depends on Prometheus: the observability package implements
`IoObserver` for it, tests implement it to count.
"""

from __future__ import annotations

from typing import Literal, Protocol

Endpoint = Literal["profile", "submit", "get_message"]
RetryReason = Literal["rate_limited", "server_error", "no_answer", "unreachable"]


class IoObserver(Protocol):
    def call_finished(self, endpoint: Endpoint, status: int | None, seconds: float) -> None:
        """One HTTP attempt ended: `status` None when no answer came."""

    def retrying(self, endpoint: Endpoint, reason: RetryReason, wait_s: float) -> None:
        """An attempt failed in a way worth another; the next comes after `wait_s`."""

    def rate_limited(self, account: str, retry_after_s: float) -> None:
        """IO answered 429: the account is held for `retry_after_s`."""

    def limiter_waited(self, account: str, seconds: float) -> None:
        """A call waited this long for a slot in its account's window."""


class NoObserver:
    def call_finished(self, endpoint: Endpoint, status: int | None, seconds: float) -> None:
        pass

    def retrying(self, endpoint: Endpoint, reason: RetryReason, wait_s: float) -> None:
        pass

    def rate_limited(self, account: str, retry_after_s: float) -> None:
        pass

    def limiter_waited(self, account: str, seconds: float) -> None:
        pass
