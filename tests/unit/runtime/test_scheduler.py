import asyncio
from collections.abc import Awaitable, Callable

import pytest

from consumer.runtime.scheduler import KeyedScheduler


async def idle(scheduler: KeyedScheduler, timeout_s: float) -> bool:
    """Whether nothing is held within the timeout."""
    try:
        async with asyncio.timeout(timeout_s):
            await scheduler.wait_until_held_at_most(0)
    except TimeoutError:
        return False
    return True


async def test_same_lane_runs_in_order_and_lanes_run_side_by_side() -> None:
    scheduler = KeyedScheduler(capacity=10)
    log: list[str] = []
    release = asyncio.Event()

    def job(name: str, wait: bool = False) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            log.append(f"start {name}")
            if wait:
                await release.wait()
            log.append(f"end {name}")

        return run

    scheduler.submit("a", job("a1", wait=True))
    scheduler.submit("a", job("a2"))
    scheduler.submit("b", job("b1"))
    await asyncio.sleep(0.01)

    assert log == ["start a1", "start b1", "end b1"]  # a2 waits for a1; b1 does not
    assert scheduler.held == 2
    release.set()
    assert await idle(scheduler, 1)
    assert log[3:] == ["end a1", "start a2", "end a2"]


async def test_full_at_capacity() -> None:
    scheduler = KeyedScheduler(capacity=2)
    gate = asyncio.Event()

    async def wait() -> None:
        await gate.wait()

    scheduler.submit("a", wait)
    assert not scheduler.full
    scheduler.submit("b", wait)
    assert scheduler.full
    gate.set()
    assert await idle(scheduler, 1)
    assert not scheduler.full


async def test_a_failing_job_is_kept_for_the_loop_and_its_lane_goes_on() -> None:
    scheduler = KeyedScheduler(capacity=5)
    ran: list[str] = []

    async def boom() -> None:
        raise RuntimeError("bug")

    async def after() -> None:
        ran.append("after")

    scheduler.submit("a", boom)
    scheduler.submit("a", after)
    assert await idle(scheduler, 1)

    assert isinstance(scheduler.failure, RuntimeError)
    assert ran == ["after"]


async def test_cancel_abandons_only_the_chosen_lanes() -> None:
    scheduler = KeyedScheduler(capacity=10)
    never = asyncio.Event()
    done: list[str] = []

    async def hang() -> None:
        await never.wait()

    async def finish() -> None:
        done.append("b")

    scheduler.submit(("t", 0, b"k"), hang)
    scheduler.submit(("t", 0, b"k"), hang)
    scheduler.submit(("t", 1, b"k"), finish)

    abandoned = await scheduler.cancel(lambda lane: isinstance(lane, tuple) and lane[1] == 0)

    assert abandoned == 2
    assert await idle(scheduler, 1)
    assert done == ["b"]
    assert scheduler.held == 0


async def test_a_hung_job_keeps_it_held_until_cancelled() -> None:
    scheduler = KeyedScheduler(capacity=1)
    gate = asyncio.Event()

    async def hang() -> None:
        await gate.wait()

    scheduler.submit("a", hang)

    assert not await idle(scheduler, 0.05)
    await scheduler.cancel()
    assert await idle(scheduler, 1)


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        KeyedScheduler(capacity=0)
