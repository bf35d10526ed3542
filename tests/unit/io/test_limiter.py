"""AccountLimiter on virtual time: the clock moves only when the test says so."""

from __future__ import annotations

import asyncio
import heapq
import math
import random
from collections.abc import Sequence
from itertools import count

import pytest

from consumer.io import AccountLimiter, RatePolicy

# Binary fractions, so sums of window lengths stay exact in floating point.
POLICY = RatePolicy(calls=5, per_seconds=1.0, margin_s=0.25)
WINDOW = POLICY.window_s  # 1.25


async def settle() -> None:
    """Let every task that can run, run, until each one waits on the virtual clock."""
    for _ in range(200):
        await asyncio.sleep(0)


class VirtualTime:
    """A clock and a sleep for the limiter; time passes only through `advance_to`."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = count()

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        woken: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + seconds, next(self._order), woken))
        await woken

    async def advance_to(self, instant: float) -> None:
        """Wake each sleeper at its deadline, in order, up to `instant`."""
        await settle()
        while self._sleepers and self._sleepers[0][0] <= instant:
            deadline, _, woken = heapq.heappop(self._sleepers)
            self.now = max(self.now, deadline)
            woken.set_result(None)
            await settle()
        self.now = max(self.now, instant)
        await settle()

    async def run_out(self) -> None:
        """Advance until nobody sleeps any more."""
        await settle()
        while self._sleepers:
            await self.advance_to(self._sleepers[0][0])


def limiter_on(time: VirtualTime, policy: RatePolicy = POLICY) -> AccountLimiter:
    return AccountLimiter(policy, clock=time.clock, sleep=time.sleep)


class Caller:
    """One call through the limiter: when it asked, when it started, what it was told.

    Its answer comes `answer_after` seconds after it starts (at once unless told): the
    limiter is then told the call ended.
    """

    def __init__(
        self,
        limiter: AccountLimiter,
        time: VirtualTime,
        starts: list[Caller],
        *,
        answer_after: float | None = 0.0,
    ) -> None:
        self.asked_at = time.now
        self.started_at: float | None = None
        self.waited: float | None = None
        self._time = time
        self._starts = starts
        self._answer_after = answer_after
        self.task = asyncio.create_task(self._run(limiter))

    async def _run(self, limiter: AccountLimiter) -> None:
        self.waited = await limiter.acquire()
        self.started_at = self._time.now
        self._starts.append(self)
        if self._answer_after is None:
            return  # in flight until the test settles it
        if self._answer_after:
            await self._time.sleep(self._answer_after)
        limiter.settle()


def assert_no_window_overfull(starts: Sequence[float], calls: int, window_s: float) -> None:
    """No half-open window of `window_s` seconds holds more than `calls` starts."""
    ordered = sorted(starts)
    for first, later in zip(ordered, ordered[calls:], strict=False):
        assert later - first >= window_s - 1e-9, (first, later, ordered)


async def test_a_burst_is_paced_to_exactly_the_policy() -> None:
    time = VirtualTime()
    limiter = limiter_on(time)
    started: list[Caller] = []
    callers = [Caller(limiter, time, started) for _ in range(23)]

    await time.run_out()

    starts = [caller.started_at for caller in callers]
    # Five at once, then five more each time the oldest five leave the window: the full rate,
    # and never a sixth call inside any 1.25 s.
    assert starts == [WINDOW * (index // 5) for index in range(23)]
    assert [caller.waited for caller in callers] == starts
    assert_no_window_overfull([s for s in starts if s is not None], 5, WINDOW)


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
async def test_random_arrivals_never_overfill_a_window_and_never_wait_for_nothing(
    seed: int,
) -> None:
    generator = random.Random(seed)
    # On a grid of 1/1024 s, so the arithmetic is exact and only the algorithm is tested
    # (floating-point rounding at the boundary has its own test below).
    arrivals = sorted(generator.randrange(10 * 1024) / 1024 for _ in range(60))
    time = VirtualTime()
    limiter = limiter_on(time)
    started: list[Caller] = []
    callers: list[Caller] = []
    for arrival in arrivals:
        await time.advance_to(arrival)
        callers.append(Caller(limiter, time, started))
    await time.run_out()

    assert started == callers  # first come, first served
    starts = [caller.started_at for caller in callers]
    assert None not in starts
    begun = [start for start in starts if start is not None]
    assert_no_window_overfull(begun, 5, WINDOW)
    for index, caller in enumerate(callers):
        start = begun[index]
        assert caller.waited == pytest.approx(start - caller.asked_at)
        if start == caller.asked_at:
            continue
        # A caller that waited did so for the window, or behind an earlier caller that did.
        freed_at = begun[index - 5] + WINDOW if index >= 5 else math.nan
        assert start == pytest.approx(freed_at) or start == begun[index - 1]


async def test_a_slot_freed_at_the_exact_deadline_admits_one_caller_not_the_whole_queue() -> None:
    """A start at 0.2 s with a 1.25 s window: 0.2 + 1.25 - 1.45 == 0.0, yet
    1.45 - 1.25 < 0.2 in floating point, so `_delay` says "go" while `_expire` keeps the
    old start. Every queued caller then sees delay 0 and starts at once."""
    time = VirtualTime()
    await time.advance_to(0.2)
    limiter = limiter_on(time, RatePolicy(calls=1, per_seconds=1.0, margin_s=0.25))
    started: list[Caller] = []
    callers = [Caller(limiter, time, started) for _ in range(4)]
    await time.advance_to(1.45)  # the deadline of the second caller, computed by the limiter

    admitted = [caller for caller in callers if caller.started_at is not None]
    assert len(admitted) == 2, [caller.started_at for caller in callers]


async def test_waiters_start_in_the_order_they_asked() -> None:
    time = VirtualTime()
    limiter = limiter_on(time, RatePolicy(calls=1, per_seconds=1.0, margin_s=0.25))
    started: list[Caller] = []
    first = Caller(limiter, time, started)
    await time.advance_to(0.5)
    second = Caller(limiter, time, started)
    await time.advance_to(0.75)
    third = Caller(limiter, time, started)
    await time.advance_to(1.5)  # the second started at 1.25; the third waits until 2.5
    fourth = Caller(limiter, time, started)  # asks while the third waits
    await time.run_out()

    assert started == [first, second, third, fourth]
    assert [caller.started_at for caller in started] == [0.0, 1.25, 2.5, 3.75]
    assert [caller.waited for caller in started] == [0.0, 0.75, 1.75, 2.25]


async def test_hold_delays_every_caller_until_the_retry_after() -> None:
    time = VirtualTime()
    limiter = limiter_on(time)
    await time.advance_to(1.0)
    limiter.hold(2.0)
    started: list[Caller] = []
    callers = [Caller(limiter, time, started) for _ in range(3)]
    await time.run_out()

    assert [caller.started_at for caller in callers] == [3.0, 3.0, 3.0]
    assert [caller.waited for caller in callers] == [2.0, 2.0, 2.0]


async def test_a_hold_arriving_while_callers_wait_pushes_them_further() -> None:
    time = VirtualTime()
    limiter = limiter_on(time)
    started: list[Caller] = []
    callers = [Caller(limiter, time, started) for _ in range(6)]
    await time.advance_to(0.5)  # five started at 0, the sixth waits for 1.25
    limiter.hold(3.0)
    await time.run_out()

    assert [caller.started_at for caller in callers] == [0.0] * 5 + [3.5]


async def test_a_shorter_hold_never_shortens_a_longer_one() -> None:
    time = VirtualTime()
    limiter = limiter_on(time)
    limiter.hold(4.0)
    limiter.hold(1.0)
    started: list[Caller] = []
    caller = Caller(limiter, time, started)
    await time.run_out()

    assert caller.started_at == 4.0
    assert caller.waited == 4.0


async def test_remaining_below_expectation_books_calls_spent_elsewhere() -> None:
    time = VirtualTime()
    limiter = limiter_on(time, RatePolicy(calls=10, per_seconds=1.0, margin_s=0.25))
    started: list[Caller] = []
    for _ in range(2):
        Caller(limiter, time, started)
    await settle()

    limiter.observe_remaining(5)  # IO counted 5 calls; 3 of them are somebody else's

    assert limiter.in_window() == 5
    later = [Caller(limiter, time, started) for _ in range(6)]
    await time.run_out()
    # Only five more fit; the sixth waits for the window to pass.
    assert [caller.started_at for caller in later] == [0.0] * 5 + [1.25]
    assert later[-1].waited == 1.25


async def test_remaining_above_expectation_frees_nothing() -> None:
    time = VirtualTime()
    limiter = limiter_on(time, RatePolicy(calls=10, per_seconds=1.0, margin_s=0.25))
    started: list[Caller] = []
    for _ in range(8):
        Caller(limiter, time, started)
    await settle()

    limiter.observe_remaining(9)  # IO saw only one call: its window is not ours
    limiter.observe_remaining(1_000)

    assert limiter.in_window() == 8
    later = [Caller(limiter, time, started) for _ in range(3)]
    await time.run_out()
    assert [caller.started_at for caller in later] == [0.0, 0.0, 1.25]


async def test_booked_calls_leave_the_window_like_our_own() -> None:
    time = VirtualTime()
    limiter = limiter_on(time, RatePolicy(calls=10, per_seconds=1.0, margin_s=0.25))
    limiter.observe_remaining(0)

    assert limiter.in_window() == 10
    await time.advance_to(1.0)
    assert limiter.in_window() == 10
    await time.advance_to(1.25)
    assert limiter.in_window() == 0


async def test_waited_seconds_are_what_the_caller_spent_waiting() -> None:
    time = VirtualTime()
    limiter = limiter_on(time, RatePolicy(calls=2, per_seconds=1.0, margin_s=0.25))

    assert await limiter.acquire() == 0.0
    limiter.settle()
    await time.advance_to(0.5)
    assert await limiter.acquire() == 0.0
    limiter.settle()
    await time.advance_to(1.0)
    third = asyncio.create_task(limiter.acquire())
    await time.run_out()

    assert await third == 0.25  # the first start leaves the window at 1.25
    assert time.slept == [0.25]
    assert limiter.in_window() == 2


async def test_a_slot_is_held_from_the_start_until_the_window_after_the_answer() -> None:
    """The gateway counts a call somewhere between its start and its answer: a slow answer
    must not free the slot a window after the start, when the gateway may still count it."""
    time = VirtualTime()
    limiter = limiter_on(time, RatePolicy(calls=1, per_seconds=1.0, margin_s=0.25))
    started: list[Caller] = []
    slow = Caller(limiter, time, started, answer_after=0.5)
    following = Caller(limiter, time, started)
    await time.run_out()

    assert slow.started_at == 0.0
    assert following.started_at == 0.5 + WINDOW  # not WINDOW: the answer came at 0.5


async def test_a_full_window_of_calls_in_flight_waits_for_an_answer() -> None:
    time = VirtualTime()
    limiter = limiter_on(time, RatePolicy(calls=2, per_seconds=1.0, margin_s=0.25))
    started: list[Caller] = []
    first = Caller(limiter, time, started, answer_after=None)
    Caller(limiter, time, started, answer_after=None)
    third = Caller(limiter, time, started)
    await time.advance_to(10.0)  # however long: no answer, no slot
    assert third.started_at is None
    assert limiter.in_window() == 2

    limiter.settle()  # the first answer comes at 10 s
    await time.run_out()
    assert first.started_at == 0.0
    assert third.started_at == 10.0 + WINDOW


async def test_a_call_that_never_reached_io_frees_its_slot_at_once() -> None:
    time = VirtualTime()
    limiter = limiter_on(time, RatePolicy(calls=1, per_seconds=1.0, margin_s=0.25))
    started: list[Caller] = []
    Caller(limiter, time, started, answer_after=None)
    waiting = Caller(limiter, time, started)
    await time.advance_to(0.5)

    limiter.settle(counted=False)  # the connection was refused: IO counted nothing
    await time.run_out()
    assert waiting.started_at == 0.5
