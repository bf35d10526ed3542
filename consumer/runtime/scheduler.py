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
        self._idle = asyncio.Event()
        self._idle.set()
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
        self._idle.clear()
        lane = self._lanes.get(key)
        if lane is not None:
            lane.waiting.append(job)
            return
        self._lanes[key] = _Queue(deque())
        self._start(key, job)

    async def wait_idle(self, timeout_s: float | None = None) -> bool:
        """Wait until nothing is held; False if the timeout came first."""
        try:
            async with asyncio.timeout(timeout_s):
                await self._idle.wait()
        except TimeoutError:
            return False
        return True

    async def wait_until_held_at_most(self, count: int) -> None:
        """Until no more than `count` jobs are held (wake-ups come after the count drops)."""
        while self._held > count:
            self._released.clear()
            await self._released.wait()

    async def cancel(self, which: Callable[[Lane], bool] = lambda _: True) -> int:
        """Abandon the jobs of the lanes `which` picks, running or waiting; return how many."""
        chosen = [key for key in self._lanes if which(key)]
        dropped = 0
        for key in chosen:
            waiting = self._lanes[key].waiting
            dropped += len(waiting)
            self._held -= len(waiting)
            waiting.clear()
        self._released.set()
        running = [task for key, task in self._running.items() if key in chosen]
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        if self._held == 0:
            self._idle.set()
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
        if self._held == 0:
            self._idle.set()


async def _call(job: Job) -> None:
    await job()
