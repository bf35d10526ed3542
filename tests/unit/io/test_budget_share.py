"""BudgetShare on an account limiter whose clock moves only when it sleeps."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable

import pytest

from consumer.io import AccountLimiter, BudgetShare, RatePolicy

POLICY = RatePolicy(calls=10, per_seconds=1.0, margin_s=0.0)


class JumpingTime:
    """A clock, and a sleep that moves it on at once by what was asked."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


async def run_ready() -> None:
    """Let every task that can run, run, until each one waits."""
    for _ in range(100):
        await asyncio.sleep(0)


class Calls:
    """Acquires in the background: which have started, and clean-up of the rest."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.tasks: list[asyncio.Task[None]] = []

    def start(self, name: str, acquire: Awaitable[float]) -> asyncio.Task[None]:
        async def run() -> None:
            await acquire
            self.started.append(name)

        task = asyncio.create_task(run())
        self.tasks.append(task)
        return task


@pytest.fixture
def time() -> JumpingTime:
    return JumpingTime()


@pytest.fixture
def account(time: JumpingTime) -> AccountLimiter:
    return AccountLimiter(POLICY, clock=time.clock, sleep=time.sleep)


@pytest.fixture
async def calls() -> AsyncIterator[Calls]:
    calls = Calls()
    yield calls
    for task in calls.tasks:
        task.cancel()
    await asyncio.gather(*calls.tasks, return_exceptions=True)


async def test_a_fifth_share_starts_at_most_two_calls_in_a_window(
    account: AccountLimiter, calls: Calls
) -> None:
    share = BudgetShare(account, 0.2)
    for n in range(3):
        calls.start(f"share-{n}", share.acquire())

    await run_ready()

    assert share.policy.calls == 2
    assert calls.started == ["share-0", "share-1"]
    assert account.in_window() == 2


async def test_the_account_admits_the_other_eight_to_direct_callers(
    account: AccountLimiter, calls: Calls
) -> None:
    share = BudgetShare(account, 0.2)
    for n in range(3):
        calls.start(f"share-{n}", share.acquire())
    for n in range(9):
        calls.start(f"direct-{n}", account.acquire())

    await run_ready()

    assert sorted(calls.started) == sorted(
        ["share-0", "share-1", *(f"direct-{n}" for n in range(8))]
    )
    assert account.in_window() == 10


async def test_a_share_call_queues_behind_a_full_account(
    account: AccountLimiter, calls: Calls
) -> None:
    share = BudgetShare(account, 0.2)
    for n in range(10):
        calls.start(f"direct-{n}", account.acquire())
    await run_ready()
    calls.start("share", share.acquire())
    await run_ready()
    assert "share" not in calls.started

    account.settle(counted=False)
    await run_ready()

    assert calls.started[-1] == "share"


async def test_settle_frees_the_slot_in_the_share_and_the_account(
    account: AccountLimiter, calls: Calls
) -> None:
    share = BudgetShare(account, 0.2)
    for n in range(3):
        calls.start(f"share-{n}", share.acquire())
    await run_ready()

    share.settle(counted=False)
    await run_ready()

    assert calls.started == ["share-0", "share-1", "share-2"]
    assert account.in_window() == 2


async def test_a_counted_share_call_keeps_its_account_slot_for_the_window(
    time: JumpingTime, account: AccountLimiter, calls: Calls
) -> None:
    share = BudgetShare(account, 0.2)
    for n in range(2):
        calls.start(f"share-{n}", share.acquire())
    await run_ready()

    share.settle()
    assert account.in_window() == 2
    time.now = 0.999
    assert account.in_window() == 2
    time.now = 1.0
    assert account.in_window() == 1


async def test_a_share_call_abandoned_in_the_account_queue_gives_back_its_share_slot(
    account: AccountLimiter, calls: Calls
) -> None:
    share = BudgetShare(account, 0.2)
    for n in range(10):
        calls.start(f"direct-{n}", account.acquire())
    await run_ready()
    abandoned = calls.start("abandoned", share.acquire())
    await run_ready()
    abandoned.cancel()
    await run_ready()

    account.settle(counted=False)
    account.settle(counted=False)
    calls.start("share-0", share.acquire())
    calls.start("share-1", share.acquire())
    await run_ready()

    assert calls.started[-2:] == ["share-0", "share-1"]


async def test_hold_holds_every_caller_of_the_account(
    time: JumpingTime, account: AccountLimiter
) -> None:
    share = BudgetShare(account, 0.2)

    share.hold(2.5)
    waited = await account.acquire()

    assert waited == 2.5
    assert time.slept == [2.5]


def test_what_io_says_remains_is_booked_on_the_account(account: AccountLimiter) -> None:
    share = BudgetShare(account, 0.2)

    share.observe_remaining(3)

    assert account.in_window() == 7


@pytest.mark.parametrize("share", [0.0, -0.2, 1.01])
def test_a_share_outside_zero_to_one_is_refused(account: AccountLimiter, share: float) -> None:
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        BudgetShare(account, share)


@pytest.mark.parametrize(("share", "calls"), [(1.0, 10), (0.25, 2), (0.01, 1)])
def test_a_share_is_a_whole_number_of_calls_and_at_least_one(
    account: AccountLimiter, share: float, calls: int
) -> None:
    assert BudgetShare(account, share).policy == RatePolicy(calls, 1.0, 0.0)


async def test_the_share_window_passes_with_the_account_clock(
    account: AccountLimiter, calls: Calls
) -> None:
    share = BudgetShare(account, 0.2)
    for n in range(2):
        calls.start(f"share-{n}", share.acquire())
    await run_ready()
    share.settle()
    share.settle()

    calls.start("share-2", share.acquire())  # the account's clock jumps over the window
    await run_ready()

    assert calls.started == ["share-0", "share-1", "share-2"]


async def test_a_replica_owning_half_the_work_gets_half_the_share(calls: Calls) -> None:
    share = BudgetShare(AccountLimiter(RatePolicy(calls=20, per_seconds=1.0, margin_s=0.0)), 0.2)
    share.scale(0.5)  # two replicas with a tracking partition each: 2 of 4 calls each
    for n in range(3):
        calls.start(f"share-{n}", share.acquire())

    await run_ready()

    assert calls.started == ["share-0", "share-1"]
    assert share.policy.calls == 2


@pytest.mark.parametrize(("fraction", "expected"), [(0.0, 1), (0.1, 1), (1.0, 4), (7.0, 4)])
def test_a_scaled_share_keeps_one_call_and_never_grows_past_the_share(
    fraction: float, expected: int
) -> None:
    share = BudgetShare(AccountLimiter(RatePolicy(calls=20, per_seconds=1.0)), 0.2)

    share.scale(fraction)

    assert share.policy.calls == expected


async def test_a_larger_window_lets_a_waiting_call_start(
    account: AccountLimiter, calls: Calls
) -> None:
    share = BudgetShare(account, 0.2)
    share.scale(0.5)  # one call per window
    calls.start("first", share.acquire())
    calls.start("second", share.acquire())
    await run_ready()
    assert calls.started == ["first"]

    share.scale(1.0)  # the other replica left: two per window
    await run_ready()

    assert calls.started == ["first", "second"]
