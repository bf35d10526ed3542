"""Backpressure: when the loop stops fetching, and which partitions it pauses.

Full (`max_in_flight` records held): the loop waits for room without polling. No room for
`_PAUSE_AFTER_S` (IO slow, throttled or down): the input partitions are paused and polling
goes on, so the group never sees a silent member; they resume when half the room is free.
A full tracking book pauses the tracking partitions only, except one being restored: its
restore must end.

Pausing is for stalls only: librdkafka drops a paused partition's fetched records, and the
fetch after the resume costs about half a second (measured: pausing at every fill capped
the relay at twice max_in_flight events a second).
"""

from __future__ import annotations

import asyncio
from contextlib import suppress

from consumer.runtime.commit import TopicPartition
from consumer.runtime.scheduler import KeyedScheduler
from consumer.runtime.source import Source
from consumer.runtime.tracking import TrackingFeed

# Full with no room for this long: pause the partitions and keep polling (the group must
# hear from us).
_PAUSE_AFTER_S = 1.0


class Backpressure:
    def __init__(
        self, scheduler: KeyedScheduler, max_in_flight: int, tracking: TrackingFeed | None
    ) -> None:
        self._scheduler = scheduler
        self._max_in_flight = max_in_flight
        self._tracking = tracking
        # Paused because the loop is stalled (input partitions) or the book is full (tracking).
        self._stalled = False
        self._book_full = False

    @property
    def stalled(self) -> bool:
        return self._stalled

    async def apply(self, source: Source) -> None:
        """Wait for room if full; pause or resume what needs it."""
        if not self._scheduler.full:
            if self._stalled and self._scheduler.held <= self._max_in_flight // 2:
                self._stalled = False
        elif not self._stalled and not await self._room_within(_PAUSE_AFTER_S):
            self._stalled = True
        tracking = self._tracking
        held: set[TopicPartition] = set()
        if self._stalled:  # tracking records wait in the book, not in the scheduler
            held = {p for p in source.assigned if tracking is None or not tracking.owns(p)}
        if tracking is not None:
            book = tracking.book
            if book.full:
                self._book_full = True
            elif len(book) <= book.capacity // 2:
                self._book_full = False
            if self._book_full:
                held |= {p for p in source.assigned if tracking.owns(p) and not book.restoring(p)}
        await source.pause_only(held)

    async def _room_within(self, timeout_s: float) -> bool:
        """Until a quarter of the room is free, or the timeout: polling for every single free
        slot would spend the loop on itself."""
        enough = self._max_in_flight - max(1, self._max_in_flight // 4)
        with suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await self._scheduler.wait_until_held_at_most(enough)
        return not self._scheduler.full
