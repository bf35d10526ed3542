"""Stopping jobs without losing a word: for a revoke, a lost partition and a shutdown.

A job may be stopped at any await except one: while its submit's request is out, IO may be
creating the message. So a drain drops the jobs still waiting their turn, tells the running
ones to start no new submit, cancels those that have none out, waits for the others'
answers until the deadline, and then cancels them too: those report UNKNOWN (see
consumer.io.sending). A cancelled job still reports what it settled before it stops, and
the drain waits up to `grace_s` for Kafka to acknowledge that: a revoke must not hand over
a partition whose records are still on their way, or its next owner would not see them.

A stop (SIGTERM) during a revoke's drain brings that drain's deadline forward to the
stop's: a shutdown never waits for a revoke and then for itself.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress

from consumer.io import Sending
from consumer.runtime.scheduler import KeyedScheduler, Lane

Which = Callable[[Lane], bool]


class Jobs:
    """The loop's jobs by lane, and which of them have a submit out."""

    def __init__(
        self, capacity: int, clearance: Callable[[], Awaitable[None]] | None = None
    ) -> None:
        """`clearance`: awaited before each submit goes out (see freeze.py)."""
        self.scheduler = KeyedScheduler(capacity)
        self._sending: dict[Lane, Sending] = {}
        self._wake = asyncio.Event()
        self._clearance = clearance
        self._cap: tuple[float, float] | None = None

    def sending(self, lane: Lane) -> Sending:
        """For the job now running in `lane`; `finished(lane)` when it ends."""
        sending = Sending(on_quiet=self._wake.set, clearance=self._clearance)
        self._sending[lane] = sending
        return sending

    def finished(self, lane: Lane) -> None:
        self._sending.pop(lane, None)

    async def cleared(self) -> None:
        """Return when a job may write: at once, unless the process was just frozen."""
        if self._clearance is not None:
            await self._clearance()

    def cap(self, deadline: float, grace_s: float) -> None:
        """No drain, running or to come, goes past `deadline` (then `grace_s` for reports)."""
        self._cap = (deadline, grace_s)
        self._wake.set()

    async def drain(self, which: Which, deadline: float, grace_s: float) -> int:
        """Stop the jobs `which` picks: submits out get their answer until `deadline`
        (monotonic clock), and reports `grace_s` more. Return how many were abandoned
        before they finished."""
        abandoned = self.scheduler.drop_waiting(which)
        while True:
            if self._cap is not None and self._cap[0] < deadline:
                deadline, grace_s = self._cap
            running = self.scheduler.running(which)
            for lane in running:
                if (sending := self._sending.get(lane)) is not None:
                    sending.stop()
            if not running:
                return abandoned
            remaining = deadline - time.monotonic()
            late = remaining <= 0
            stoppable = frozenset(lane for lane in running if late or not self._out(lane))
            if stoppable:
                wait_s = grace_s if late else max(remaining, grace_s)
                abandoned += await self.scheduler.cancel(stoppable.__contains__, wait_s)
            if late:
                return abandoned
            self._wake.clear()
            left = self.scheduler.running(which)
            # Only submits out are left: wait for an answer (or the deadline), then look again.
            if left and all(self._out(lane) for lane in left):
                with suppress(TimeoutError):
                    async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                        await self._wake.wait()

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
