"""Pacing: use nearly all of an IO account's rate, and almost never be refused.

IO's gateway allows an account N calls in any S seconds (150 in 5 in production), counted
across all the account's services, profile checks and submits alike. The limiter mirrors the
gateway's window and lets a call start only when fewer than N hold a slot in it. The gateway
counts a call at some instant between our send and its answer, and that lag grows under load
(hundreds of milliseconds inside the burst a full window releases), so a call holds its slot
from its start until its answer (`settle`) and then S seconds plus a margin from the answer:
the local window never frees a slot before the gateway's does, whatever the lag. The margin
is left for what the answer does not bound, such as a gateway whose count is not exact.

How many calls a window this replica may make is its `Pace` (consumer.io.pace): the whole
account alone, its share of it in a group of replicas.

Two signals from IO correct the local view: `x-rate-limit-remaining` below what the pace
leaves for the others means somebody spends more than that (another tool, a replica whose
share has not fallen yet), so the excess is booked as if those calls were ours; a 429 holds
every caller of the account until its retry-after has passed, and tells the pace.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Protocol

from consumer.io.pace import Pace


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
        pace: Pace | None = None,
    ) -> None:
        """`pace`: this replica's part of `policy.calls` (none: all of it)."""
        self._policy = policy
        self._pace = pace
        self._clock = clock
        self._sleep = sleep
        self._in_flight = 0  # calls started, not yet settled: they never expire
        self._settled: deque[float] = deque()  # when calls ended (or were booked), in order
        self._held_until = 0.0
        # In a group, one call first: its answer's x-rate-limit-remaining shows what the
        # others have in IO's window (observe_remaining), before a share's worth goes out.
        self._in_group = pace is not None and not pace.alone
        self._first_answer = self._in_group
        self._turn = asyncio.Lock()  # FIFO: callers start in the order they asked
        self._ended = asyncio.Event()  # set by settle(): the window may have room

    @property
    def policy(self) -> RatePolicy:
        return self._policy

    @property
    def pace(self) -> Pace | None:
        return self._pace

    def calls(self) -> int:
        """Calls this replica may have in a window now."""
        return self._policy.calls if self._pace is None else self._pace.calls()

    @property
    def clock(self) -> Callable[[], float]:
        return self._clock

    @property
    def sleep(self) -> Callable[[float], Awaitable[None]]:
        return self._sleep

    async def acquire(self) -> float:
        """Wait for a slot in the account's window; return the seconds spent waiting.

        Each acquire must be followed by exactly one `settle()`, when the call has ended.
        """
        asked_at = self._clock()
        if self._pace is not None:
            await self._pace.known()
        async with self._turn:
            while (delay := self._delay(self._clock())) > 0:
                self._ended.clear()
                if math.isinf(delay):  # every slot is in flight: only an answer frees one
                    await self._ended.wait()
                else:
                    await self._sleep(delay)
            self._in_flight += 1
        return self._clock() - asked_at

    def settle(self, *, counted: bool = True) -> None:
        """A call has ended: it keeps its slot for the window from now, by when the gateway
        has surely counted it, or frees it at once if it never reached IO (`counted=False`)."""
        self._in_flight = max(0, self._in_flight - 1)
        if counted:
            self._first_answer = False
            self._settled.append(self._clock())
        self._ended.set()

    def resize(self, calls: int) -> None:
        """Allow `calls` per window from now on; the calls in the window stay counted."""
        self._policy = replace(self._policy, calls=max(1, calls))
        self._ended.set()  # a larger window may have room for a waiting caller

    def hold(self, retry_after_s: float) -> None:
        """The gateway refused a call: nobody on this account calls before retry-after."""
        self._held_until = max(self._held_until, self._clock() + retry_after_s)
        if self._pace is not None:
            self._pace.refused()

    def observe_remaining(self, remaining: int) -> None:
        """Book as spent the calls IO counted beyond this pace's and the others' parts.

        The others may have `policy.calls - calls()` in the window; IO counted
        `policy.calls - remaining` in all, so past those and ours, `calls() - remaining -
        ours` are somebody's excess."""
        now = self._clock()
        self._expire(now)
        unseen = (self.calls() - remaining) - self._in_flight - len(self._settled)
        self._settled.extend([now] * max(0, unseen))

    def in_window(self) -> int:
        self._expire(self._clock())
        return self._in_flight + len(self._settled)

    def _delay(self, now: float) -> float:
        if now < self._held_until:
            return self._held_until - now
        self._expire(now)
        if self._in_group and not self._in_flight and not self._settled:
            # Nothing of ours in the window (a start, a long idle, a freeze): the others may
            # have filled IO's, and this pace may be stale. One call first, as at the start.
            self._first_answer = True
        if self._first_answer and self._in_flight:
            return math.inf
        if self._in_flight + len(self._settled) < self.calls():
            return 0.0
        if not self._settled:
            return math.inf
        return self._settled[0] + self._policy.window_s - now

    def _expire(self, now: float) -> None:
        # The same expression as _delay's deadline: floating-point rounding must never let
        # one say "go" while the other still counts the call.
        window = self._policy.window_s
        while self._settled and self._settled[0] + window <= now:
            self._settled.popleft()


class Pacer(Protocol):
    """What the client needs of a limiter: an account's, or a share of one."""

    @property
    def policy(self) -> RatePolicy: ...

    async def acquire(self) -> float: ...

    def settle(self, *, counted: bool = True) -> None: ...

    def hold(self, retry_after_s: float) -> None: ...

    def observe_remaining(self, remaining: int) -> None: ...


class BudgetShare:
    """At most `share` of an account's calls, drawn from the account's own limiter.

    For work that may wait (following messages already sent), so that it never takes more
    than its share from work that should not (sending new ones): a call needs a slot in the
    share's window first, then one in the account's, where it queues with everybody else.

    Every replica has a share of its own: `scale` gives each the part of the share that its
    part of the work calls for (its tracking partitions among all), so that together they
    stay within one share of the account, however many there are.
    """

    def __init__(self, account: AccountLimiter, share: float) -> None:
        if not 0 < share <= 1:
            raise ValueError("share must be in (0, 1]")
        policy = account.policy
        self._account = account
        self._share = share
        self._own = AccountLimiter(
            RatePolicy(1, policy.per_seconds, policy.margin_s),
            clock=account.clock,
            sleep=account.sleep,
        )
        self.scale(1.0)

    @property
    def policy(self) -> RatePolicy:
        return self._own.policy

    def scale(self, fraction: float) -> None:
        """Use `fraction` (0 to 1) of the share: at least one call per window."""
        calls = self._account.policy.calls * self._share * min(1.0, max(0.0, fraction))
        self._own.resize(math.floor(calls))

    async def acquire(self) -> float:
        waited = await self._own.acquire()
        try:
            return waited + await self._account.acquire()
        except BaseException:
            self._own.settle(counted=False)
            raise

    def settle(self, *, counted: bool = True) -> None:
        self._account.settle(counted=counted)
        self._own.settle(counted=counted)

    def hold(self, retry_after_s: float) -> None:
        self._account.hold(retry_after_s)

    def observe_remaining(self, remaining: int) -> None:
        self._account.observe_remaining(remaining)
