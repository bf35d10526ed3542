"""Pace: how many calls a window this replica allows itself on an IO account.

IO's gateway counts an account's calls together, from every replica of the group (150 per
5 s in production). So each replica takes a share of the account's calls: the share of the
group's waiting work that its partitions hold (consumer.runtime.demand). Every replica reads
the same figures, so the shares add up to one, and the calls go where the work is.

Two rules keep the group within the account while shares move:

- A share that falls applies at once; one that rises climbs at most RISE_PER_WINDOW of the
  account a window, from two readings after the lower share gave way, and in full once the
  rise has held for `raise_after_s` (IO's window plus two readings): the calls the other
  replicas made under their larger shares leave IO's window first. A rebalance thus costs
  a few seconds of pace, never a burst of 429s; the drift of shares as the group drains
  costs next to nothing.
- The account's own limit. A run of 429s says the gateway counted more than this replica's
  pace allowed for: the account allows fewer calls than `io.accounts.<name>.calls`, or
  something else spends them. The pace is then lowered by a quarter, with a warning naming
  the setting, and climbs back by `RECOVERY` of it a window while IO stops refusing.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import Callable
from contextlib import suppress
from itertools import pairwise

log = logging.getLogger(__name__)

RUN = 3
"""429s within one window that make a run."""
CUT = 0.75
"""What a run leaves of the account's limit."""
RECOVERY = 0.02
"""Of the configured calls, won back each window without a run."""
RISE_PER_WINDOW = 0.1
"""How fast a held rise climbs, in shares of the account per window (see `_share`)."""
FIRST_SHARE_WAIT_S = 10.0
"""How long calls wait for the group's first reading, then go on at the whole account."""


class Pace:
    def __init__(
        self,
        account: str,
        calls: int,
        window_s: float,
        *,
        raise_after_s: float | None = None,
        wait_for_share: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`wait_for_share`: no call before the group's first reading (several replicas
        starting together would each spend the whole account meanwhile)."""
        self._account = account
        self._configured = max(1, calls)
        self._window_s = window_s
        self._raise_after_s = window_s if raise_after_s is None else raise_after_s
        self._clock = clock
        self._shares: deque[tuple[float, float]] = deque([(clock(), 1.0)])
        """(since, share) over the last raise_after_s, and the one in force before them."""
        self._alone = not wait_for_share
        self._known = asyncio.Event()
        if not wait_for_share:
            self._known.set()
        self._refusals: deque[float] = deque()
        self._lowered_to = float(self._configured)
        self._lowered_at = -math.inf

    @property
    def alone(self) -> bool:
        """Not waiting for a share: the only pacer of the account."""
        return self._alone

    def calls(self) -> int:
        """Calls this replica may have in a window now: at least one."""
        now = self._clock()
        return max(1, math.floor(self._limit(now) * self._share(now) + 1e-9))

    def share(self, fraction: float) -> None:
        """The group's latest reading: this replica's share of the work (0 to 1)."""
        now = self._clock()
        fraction = min(1.0, max(0.0, fraction))
        if not self._known.is_set():  # the first: nothing of ours is in IO's window yet
            self._shares = deque([(now, fraction)])
            self._known.set()
            return
        self._shares.append((now, fraction))
        self._share(now)  # drops what has aged out

    async def known(self) -> None:
        """Return once the group's first reading came (or it was waited for long enough)."""
        if self._known.is_set():
            return
        with suppress(TimeoutError):
            async with asyncio.timeout(FIRST_SHARE_WAIT_S):
                await self._known.wait()
                return
        if self._known.is_set():
            return  # another caller gave up waiting first, and said so
        log.warning(
            "no reading of the group's work yet: calls go on at the whole account's pace",
            extra={"account": self._account},
        )
        self._known.set()

    def refused(self) -> None:
        """IO answered 429."""
        now = self._clock()
        self._refusals.append(now)
        while self._refusals and self._refusals[0] <= now - self._window_s:
            self._refusals.popleft()
        if len(self._refusals) < RUN or now - self._lowered_at < self._window_s:
            return  # one run lowers the pace once: its 429s answer calls of one window
        before = self._limit(now)
        self._lowered_to = max(1.0, before * CUT)
        self._lowered_at = now
        self._refusals.clear()
        log.warning(
            "IO refused calls in a run while io-relay kept to the account's pace: the account "
            "allows fewer calls than io.accounts.%s.calls says, or something else spends them; "
            "pace lowered until IO stops refusing",
            self._account,
            extra={
                "account": self._account,
                "setting": f"io.accounts.{self._account}.calls",
                "configured_calls": self._configured,
                "account_calls_now": math.floor(self._lowered_to),
                "refused_in_window": RUN,
            },
        )

    def _limit(self, now: float) -> float:
        """What the account seems to allow: the configured calls, unless a run lowered it."""
        if self._lowered_at == -math.inf:
            return float(self._configured)
        windows = max(0.0, now - self._lowered_at) / self._window_s
        regained = math.floor(windows) * RECOVERY * self._configured
        return min(float(self._configured), self._lowered_to + regained)

    def _share(self, now: float) -> float:
        """The share in force now: falls apply at once; a rise is held below each lower share
        of the last raise_after_s, by a margin that grows, from `raise_after_s - window_s`
        after that share gave way, by RISE_PER_WINDOW a window. A replica that fell stops
        at once, and its calls leave IO's window at the pace it made them: a small rise (a
        share drifting as the group drains) goes through within seconds, a large one (a
        rebalance) no faster than the calls it replaces leave, and in full after
        raise_after_s."""
        horizon = now - self._raise_after_s
        while len(self._shares) > 1 and self._shares[1][0] <= horizon:
            self._shares.popleft()
        allowed = self._shares[-1][1]
        settle_s = self._raise_after_s - self._window_s
        for (_since, share), (until, _next) in pairwise(self._shares):
            risen = max(0.0, now - until - settle_s) / self._window_s * RISE_PER_WINDOW
            allowed = min(allowed, share + risen)
        return allowed
