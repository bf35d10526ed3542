"""The freeze guard holds submits after the loop was frozen, and only then."""

from __future__ import annotations

import asyncio
import logging

import pytest

from consumer.runtime.freeze import TICK_S, FreezeGuard


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 3))
        self.now += seconds
        await asyncio.sleep(0)  # others run meanwhile, as they would


def _guard(clock: Clock) -> FreezeGuard:
    return FreezeGuard(gap_s=2.0, hold_s=5.0, clock=clock, sleep=clock.sleep)


async def test_no_freeze_no_hold() -> None:
    clock = Clock()
    guard = _guard(clock)
    clock.now += 1.0  # the loop ticks every half second: a second apart is normal enough

    await guard.clearance()

    assert clock.slept == []


async def test_a_job_that_wakes_first_after_a_freeze_is_held_for_the_hold(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    guard = _guard(clock)
    clock.now += 30.0  # SIGSTOP for 30 s; the job runs before the tick does

    with caplog.at_level(logging.WARNING, logger="consumer.runtime.freeze"):
        await guard.clearance()

    assert clock.slept == [5.0]
    assert [r.__dict__["frozen_s"] for r in caplog.records] == [30.0]


async def test_a_tick_that_wakes_first_after_a_freeze_holds_the_jobs_that_follow() -> None:
    clock = Clock()
    ticks: asyncio.Queue[None] = asyncio.Queue()

    async def sleep(seconds: float) -> None:
        if seconds == TICK_S:  # the watch: each tick when the test lets it
            await ticks.get()
        else:
            await clock.sleep(seconds)

    guard = FreezeGuard(gap_s=2.0, hold_s=5.0, clock=clock, sleep=sleep)
    watch = asyncio.create_task(guard.watch())
    await asyncio.sleep(0)  # the watch waits for its first tick
    clock.now += 30.0
    ticks.put_nowait(None)
    await asyncio.sleep(0)  # the tick sees the gap before any job asks
    await asyncio.sleep(0)

    await guard.clearance()

    watch.cancel()
    assert clock.slept == [5.0]


async def test_the_hold_ends_and_later_submits_go_at_once() -> None:
    clock = Clock()
    guard = _guard(clock)
    clock.now += 30.0
    await guard.clearance()
    clock.slept.clear()

    await guard.clearance()

    assert clock.slept == []


async def test_a_second_freeze_during_the_hold_holds_again() -> None:
    clock = Clock()
    refrozen = False

    async def sleep(seconds: float) -> None:
        nonlocal refrozen
        clock.slept.append(round(seconds, 3))
        clock.now += seconds
        if not refrozen:  # frozen for 20 s more, right at the end of the first hold
            refrozen = True
            clock.now += 20.0

    guard = FreezeGuard(gap_s=2.0, hold_s=5.0, clock=clock, sleep=sleep)
    clock.now += 30.0

    await guard.clearance()

    assert clock.slept == [5.0, 5.0]


async def test_a_freeze_past_the_session_timeout_holds_until_the_group_speaks() -> None:
    clock = Clock()
    guard = FreezeGuard(session_timeout_s=10.0, hold_s=5.0, clock=clock, sleep=clock.sleep)
    clock.now += 30.0  # expelled for certain
    waiting = asyncio.create_task(guard.clearance())
    for _ in range(100):  # 10 s of the fake clock: past the 5 s hold, still no word
        await asyncio.sleep(0)
    assert not waiting.done()

    guard.group_spoke()  # the loss came: the lost partitions' jobs are cancelled

    async with asyncio.timeout(1):
        await waiting
    assert sum(clock.slept) >= 5.0


async def test_with_no_word_from_the_group_the_hold_gives_up_at_its_longest() -> None:
    clock = Clock()
    guard = FreezeGuard(
        session_timeout_s=10.0, hold_s=5.0, longest_hold_s=20.0, clock=clock, sleep=clock.sleep
    )
    clock.now += 30.0

    async with asyncio.timeout(1):
        await guard.clearance()

    assert 19.9 <= sum(clock.slept) <= 20.2
