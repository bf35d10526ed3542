"""Pacing: use nearly all of an IO account's rate, and almost never be refused.

IO's gateway allows an account N calls in any S seconds (150 in 5 in production), counted
across all the account's services, profile checks and submits alike. The limiter keeps the
start times of its own calls, the mirror of the gateway's window, and lets a call start only
when fewer than N started in the last S seconds plus a margin: the margin absorbs the
difference between when a call leaves here and when the gateway counts it.

Two signals from IO correct the local view: `x-rate-limit-remaining` below what the limiter
expects means somebody else spends the account's budget (another replica, another tool), so
the shortfall is booked as if those calls were ours; a 429 holds every caller of the account
until its retry-after has passed.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RatePolicy:
    calls: int = 150
    per_seconds: float = 5.0
    margin_s: float = 0.1

    @property
    def window_s(self) -> float:
        return self.per_seconds + self.margin_s


class AccountLimiter:
    def __init__(
        self,
        policy: RatePolicy,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._policy = policy
        self._clock = clock
        self._sleep = sleep
        self._starts: deque[float] = deque()
        self._held_until = 0.0
        self._turn = asyncio.Lock()  # FIFO: callers start in the order they asked

    @property
    def policy(self) -> RatePolicy:
        return self._policy

    async def acquire(self) -> float:
        """Wait for a slot in the account's window; return the seconds spent waiting."""
        asked_at = self._clock()
        async with self._turn:
            while (delay := self._delay(self._clock())) > 0:
                await self._sleep(delay)
            self._starts.append(self._clock())
        return self._clock() - asked_at

    def hold(self, retry_after_s: float) -> None:
        """The gateway refused a call: nobody on this account calls before retry-after."""
        self._held_until = max(self._held_until, self._clock() + retry_after_s)

    def observe_remaining(self, remaining: int) -> None:
        """Book as spent the calls IO counted that the limiter did not start."""
        now = self._clock()
        self._expire(now)
        unseen = (self._policy.calls - remaining) - len(self._starts)
        self._starts.extend([now] * max(0, unseen))

    def in_window(self) -> int:
        self._expire(self._clock())
        return len(self._starts)

    def _delay(self, now: float) -> float:
        if now < self._held_until:
            return self._held_until - now
        self._expire(now)
        if len(self._starts) < self._policy.calls:
            return 0.0
        return self._starts[0] + self._policy.window_s - now

    def _expire(self, now: float) -> None:
        # The same expression as _delay's deadline: floating-point rounding must never let
        # one say "go" while the other still counts the start.
        window = self._policy.window_s
        while self._starts and self._starts[0] + window <= now:
            self._starts.popleft()
