"""The freeze guard: after the process was frozen, no submit goes out until the group has
had its say.

A replica frozen past the session timeout (SIGSTOP, a VM paused, a container throttled) is
out of the group when it wakes: its partitions belong to another member, which has read
their ledger and is sending their events. But its own jobs wake too, and librdkafka tells
it the partitions are lost only once it has heartbeated again, about a second later. A job
that was about to submit would send its message a second time meanwhile.

So a tick on the loop watches for gaps. After one longer than `gap_s`, submits are held
for `hold_s`, enough for librdkafka to heartbeat, learn it is out and hand the partitions
over as lost, which cancels their jobs. Those of partitions still owned then go on. A job
whose request was already out at the freeze cannot be helped: its answer is the new
owner's double send, the same window as a crash's.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

TICK_S = 0.5
GAP_S = 2.0
HOLD_S = 5.0


class FreezeGuard:
    def __init__(
        self,
        *,
        gap_s: float = GAP_S,
        hold_s: float = HOLD_S,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._gap_s = gap_s
        self._hold_s = hold_s
        self._clock = clock
        self._sleep = sleep
        self._last_tick = clock()
        self._held_until = 0.0

    async def watch(self) -> None:
        """Tick until cancelled."""
        self._last_tick = self._clock()  # a slow start is no freeze
        while True:
            await self._sleep(TICK_S)
            self._look()

    async def clearance(self) -> None:
        """Return when a submit may go out: at once, unless a freeze was just seen."""
        self._look()
        while (remaining := self._held_until - self._clock()) > 0:
            await self._sleep(remaining)
            # Awake at the hold's end, unless the process froze again meanwhile: then held again.
            self._last_tick = max(self._last_tick, self._held_until)
            self._look()

    def _look(self) -> None:
        """Whoever runs first after a freeze (the tick or a job) sees the gap."""
        now = self._clock()
        gap = now - self._last_tick
        self._last_tick = now
        if gap > self._gap_s:
            self._held_until = now + self._hold_s
            log.warning(
                "the process was frozen: submits held while the group says whether this "
                "replica still owns its partitions",
                extra={"frozen_s": round(gap, 1), "held_s": self._hold_s},
            )
