"""Stopping jobs without losing a word: for a revoke, a lost partition and a shutdown.

A job may be stopped at any await except one: while its submit's request is out, IO may be
creating the message. So a drain drops the jobs still waiting their turn, cancels the
running ones that have no submit out, waits for the others' answers until the deadline, and
then cancels them too: those report UNKNOWN (see consumer.io.sending). A cancelled job still
reports what it settled before it stops, so each cancel waits a moment for that.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress

from consumer.io import Sending
from consumer.runtime.scheduler import KeyedScheduler, Lane

# After the deadline, how long a cancelled job may take to report what it settled (its
# records are produced already: this is Kafka's acknowledgement).
REPORT_GRACE_S = 2.0

Which = Callable[[Lane], bool]


class Jobs:
    """The loop's jobs by lane, and which of them have a submit out."""

    def __init__(
        self, capacity: int, clearance: Callable[[], Awaitable[None]] | None = None
    ) -> None:
        """`clearance`: awaited before each submit goes out (see freeze.py)."""
        self.scheduler = KeyedScheduler(capacity)
        self._sending: dict[Lane, Sending] = {}
        self._quiet = asyncio.Event()
        self._clearance = clearance

    def sending(self, lane: Lane) -> Sending:
        """For the job now running in `lane`; `finished(lane)` when it ends."""
        sending = Sending(on_quiet=self._quiet.set, clearance=self._clearance)
        self._sending[lane] = sending
        return sending

    def finished(self, lane: Lane) -> None:
        self._sending.pop(lane, None)

    async def drain(self, which: Which, deadline: float) -> int:
        """Stop the jobs `which` picks, by the deadline (monotonic clock); return how many
        were abandoned before they finished."""
        abandoned = self.scheduler.drop_waiting(which)
        while True:
            running = self.scheduler.running(which)
            if not running:
                return abandoned
            remaining = deadline - time.monotonic()
            late = remaining <= 0
            stoppable = frozenset(lane for lane in running if late or not self._out(lane))
            if stoppable:
                wait_s = REPORT_GRACE_S if late else max(remaining, REPORT_GRACE_S)
                abandoned += await self.scheduler.cancel(stoppable.__contains__, wait_s)
            if late:
                return abandoned
            self._quiet.clear()
            left = self.scheduler.running(which)
            # Only submits out are left: wait for an answer (or the deadline), then look again.
            if left and all(self._out(lane) for lane in left):
                with suppress(TimeoutError):
                    async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                        await self._quiet.wait()

    def abandon(self, which: Which) -> int:
        """Cancel the jobs `which` picks at once, waiting for nothing: their partitions are
        someone else's already."""
        dropped = self.scheduler.drop_waiting(which)
        running = self.scheduler.running(which)
        for lane in running:
            self.scheduler.cancel_running(lane)
        return dropped + len(running)

    def _out(self, lane: Lane) -> bool:
        sending = self._sending.get(lane)
        return sending is not None and sending.out
