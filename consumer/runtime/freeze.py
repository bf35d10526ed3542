"""The freeze guard: after the process was frozen, no submit goes out and no record is
written until the group has had its say.

A replica frozen past the session timeout (SIGSTOP, a VM paused, a container throttled) is
out of the group when it wakes: its partitions belong to another member, which has read
their ledger and is sending their events. But its own jobs wake too, and librdkafka tells
it the partitions are lost only once it has heartbeated again, about a second later. A job
that was about to submit would send its message a second time meanwhile, and one about to
report would write a second record for an event the new owner has settled.

Submits are cleared before they wait for a connection, and again right before their headers
and their body leave (consumer.io.wire), since a request may wait in the pool through the
freeze, or freeze between the two writes.

So a tick on the loop watches for gaps, and after one longer than `gap_s` submits and
reports are held:
- a gap shorter than the session timeout cannot have cost the membership by itself, but
  heartbeats may have been failing before it: held for `hold_s`, enough for librdkafka to
  heartbeat and hand over any loss;
- a longer one has cost it for certain: held until the group has had its say (a rebalance
  callback: the loss, which cancels the partitions' jobs, or a new assignment), and at most
  `longest_hold_s`, past which the hold gives up with a warning.
Jobs of partitions still owned then go on. A job whose request was already out at the
freeze cannot be helped: its answer is the new owner's double send, as for a crash.
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
LONGEST_HOLD_S = 60.0
_WAKE_S = 0.1  # a hold waiting for the group looks this often


class FreezeGuard:
    def __init__(
        self,
        *,
        session_timeout_s: float = 45.0,
        gap_s: float = GAP_S,
        hold_s: float = HOLD_S,
        longest_hold_s: float = LONGEST_HOLD_S,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._session_timeout_s = session_timeout_s
        self._gap_s = gap_s
        self._hold_s = hold_s
        self._longest_hold_s = longest_hold_s
        self._clock = clock
        self._sleep = sleep
        self._last_tick = clock()
        self._held_until = 0.0
        self._group_by: float | None = None
        """After a freeze past the session timeout: until the group speaks, by this time."""

    def group_spoke(self) -> None:
        """A rebalance callback came: what this replica owns is settled (thread-safe)."""
        self._group_by = None

    async def watch(self) -> None:
        """Tick until cancelled."""
        self._last_tick = self._clock()  # a slow start is no freeze
        while True:
            await self._sleep(TICK_S)
            self._look()

    async def clearance(self) -> None:
        """Return when a submit may go out: at once, unless a freeze was just seen."""
        self._look()
        while True:
            now = self._clock()
            group_by = self._group_by
            if group_by is not None and now >= group_by:
                log.warning("no word from the group after a freeze: submits go on")
                self._group_by = group_by = None
            if group_by is None and now >= self._held_until:
                return
            nap = _WAKE_S if group_by is not None else self._held_until - now
            await self._sleep(nap)
            # Awake on time, unless the process froze again meanwhile: then held again.
            self._last_tick = max(self._last_tick, now + nap)
            self._look()

    def _look(self) -> None:
        """Whoever runs first after a freeze (the tick or a job) sees the gap."""
        now = self._clock()
        gap = now - self._last_tick
        self._last_tick = now
        if gap <= self._gap_s:
            return
        self._held_until = max(self._held_until, now + self._hold_s)
        expelled = gap >= self._session_timeout_s
        if expelled:
            self._group_by = now + self._longest_hold_s
        log.warning(
            "the process was frozen: submits held while the group says whether this "
            "replica still owns its partitions",
            extra={"frozen_s": round(gap, 1), "past_the_session_timeout": expelled},
        )
