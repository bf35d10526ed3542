"""Concurrency with order: events that share a Kafka key run one after another, events of
different keys run side by side, and no more than `capacity` are held at once.

The scheduler only runs coroutines; it knows nothing of Kafka beyond the key. A failure that
is not the event's own (a FatalError) is kept for the loop to raise: it must stop, not skip.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass

Job = Callable[[], Awaitable[None]]
Lane = Hashable


@dataclass(slots=True)
class _Queue:
    """The jobs of one key: one running, the rest waiting their turn."""

    waiting: deque[Job]


class KeyedScheduler:
    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._capacity = capacity
        self._lanes: dict[Lane, _Queue] = {}
        self._running: dict[Lane, asyncio.Task[None]] = {}
        self._held = 0
        self._failure: BaseException | None = None
        self._released = asyncio.Event()

    @property
    def held(self) -> int:
        """Jobs running or waiting for their key."""
        return self._held

    @property
    def full(self) -> bool:
        return self._held >= self._capacity

    @property
    def failure(self) -> BaseException | None:
        return self._failure

    def submit(self, key: Lane, job: Job) -> None:
        """Run `job` after every job submitted before it with the same key."""
        self._held += 1
        lane = self._lanes.get(key)
        if lane is not None:
            lane.waiting.append(job)
            return
        self._lanes[key] = _Queue(deque())
        self._start(key, job)

    async def wait_until_held_at_most(self, count: int) -> None:
        """Until no more than `count` jobs are held (wake-ups come after the count drops)."""
        while self._held > count:
            self._released.clear()
            await self._released.wait()

    def drop_waiting(self, which: Callable[[Lane], bool]) -> int:
        """Drop the jobs waiting their turn in the lanes `which` picks (the running ones
        go on); return how many."""
        dropped = 0
        for key, lane in self._lanes.items():
            if which(key) and lane.waiting:
                dropped += len(lane.waiting)
                self._held -= len(lane.waiting)
                lane.waiting.clear()
        if dropped:
            self._released.set()
        return dropped

    def running(self, which: Callable[[Lane], bool] = lambda _: True) -> list[Lane]:
        """The lanes `which` picks that have a job running."""
        return [key for key in self._running if which(key)]

    def cancel_running(self, lane: Lane) -> None:
        """Cancel the job running in `lane`, without waiting for it."""
        task = self._running.get(lane)
        if task is not None:
            task.cancel()

    async def cancel(
        self, which: Callable[[Lane], bool] = lambda _: True, wait_s: float | None = None
    ) -> int:
        """Abandon the jobs of the lanes `which` picks, running or waiting; return how many.

        Waits up to `wait_s` (None: without end) for the running ones to finish cancelling:
        a job may still report what it settled before it stops."""
        dropped = self.drop_waiting(which)
        running = [task for key, task in self._running.items() if which(key)]
        for task in running:
            task.cancel()
        if running:
            await asyncio.wait(running, timeout=wait_s)
        return dropped + len(running)

    def _start(self, key: Lane, job: Job) -> None:
        task = asyncio.create_task(_call(job))
        self._running[key] = task
        # A done callback, not a `finally`: it also runs for a task cancelled before it started.
        task.add_done_callback(lambda finished: self._finished(key, finished))

    def _finished(self, key: Lane, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            # Kept, and raised by the loop: a job must not vanish silently.
            self._failure = self._failure or task.exception()
        self._held -= 1
        self._released.set()
        self._next(key)

    def _next(self, key: Lane) -> None:
        lane = self._lanes[key]
        if lane.waiting:
            self._start(key, lane.waiting.popleft())
        else:
            del self._lanes[key]
            del self._running[key]


async def _call(job: Job) -> None:
    await job()
