"""The gateway's per-account rate limit, as Azure APIM's `rate-limit-by-key` enforces it.

A sliding log: each account keeps the times of its accepted calls in the last `period_s`
seconds. A call at time t is accepted when fewer than `calls` were accepted in (t - period_s,
t], so no window of `period_s` seconds ever holds more than `calls` accepted calls, wherever
it starts. A refused call is not logged: a 429 does not count as a call. Memory is at most
`calls` timestamps per account.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from consumer.sandbox.settings import RateLimitPolicy

Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class Admission:
    """The verdict on one call. `retry_after_s` (whole seconds, ≥ 1) is set when refused."""

    accepted: bool
    remaining: int
    retry_after_s: int = 0


class SlidingWindowLimiter:
    def __init__(self, policy: RateLimitPolicy, clock: Clock = time.monotonic) -> None:
        self._calls = policy.calls
        self._period_s = float(policy.period_s)
        self._clock = clock
        self._logs: dict[str, deque[float]] = {}

    def admit(self, account: str) -> Admission:
        now = self._clock()
        log = self._logs.setdefault(account, deque())
        horizon = now - self._period_s
        while log and log[0] <= horizon:
            log.popleft()
        if len(log) < self._calls:
            log.append(now)
            return Admission(accepted=True, remaining=self._calls - len(log))
        # The oldest call leaves the window at log[0] + period; round up so a client that
        # waits exactly this long is accepted.
        wait_s = log[0] + self._period_s - now
        return Admission(accepted=False, remaining=0, retry_after_s=max(1, math.ceil(wait_s)))
