"""Pace: a replica's part of an IO account, on a clock the test moves."""

from __future__ import annotations

import asyncio
import logging

import pytest

from consumer.io import AccountLimiter, Pace, RatePolicy
from consumer.io.pace import CUT, RECOVERY, RISE_PER_WINDOW, RUN
from tests.unit.io.test_limiter import Caller, VirtualTime, settle

WINDOW_S = 5.0
RAISE_AFTER_S = 7.0
SETTLE_S = RAISE_AFTER_S - WINDOW_S


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def pace_on(clock: Clock, calls: int = 150, *, wait_for_share: bool = False) -> Pace:
    return Pace(
        "main",
        calls,
        WINDOW_S,
        raise_after_s=RAISE_AFTER_S,
        wait_for_share=wait_for_share,
        clock=clock,
    )


def test_alone_the_pace_is_the_whole_account() -> None:
    pace = pace_on(Clock())
    assert pace.alone
    assert pace.calls() == 150


def test_a_falling_share_applies_at_once_and_a_rising_one_climbs_until_it_has_held() -> None:
    clock = Clock()
    pace = pace_on(clock)  # at 100
    pace.share(1 / 3)
    assert pace.calls() == 50

    clock.now = 101
    pace.share(2 / 3)  # a member left: its partitions came here
    assert pace.calls() == 50, "a rise waits: the leaver's calls are still in IO's window"
    clock.now = 101 + SETTLE_S
    assert pace.calls() == 50, "for two readings, not a call more"
    clock.now = 101 + SETTLE_S + WINDOW_S / 2
    # Then at RISE_PER_WINDOW of the account a window: half a window, 0.05 of 150.
    assert pace.calls() == int(150 * (1 / 3 + RISE_PER_WINDOW / 2))
    clock.now = 101 + RAISE_AFTER_S
    assert pace.calls() == 100, "held for raise_after_s: whole"

    pace.share(0.2)  # a member joined: the fall is at once
    assert pace.calls() == 30


def test_a_small_rise_goes_through_within_seconds() -> None:
    """The shares drifting as the group drains: a call more is not held for a window."""
    clock = Clock()
    pace = pace_on(clock)
    pace.share(40 / 150)
    clock.now += 1
    pace.share(41 / 150)
    clock.now += SETTLE_S + WINDOW_S * (1 / 150) / RISE_PER_WINDOW + 0.01
    assert pace.calls() == 41


def test_a_dip_in_the_middle_of_a_rise_holds_it_again() -> None:
    clock = Clock()
    pace = pace_on(clock)  # at 100
    pace.share(0.25)
    for share in (0.5, 0.5, 0.3, 0.5):  # at 102, 104, 106 (the dip) and 108
        clock.now += 2
        pace.share(share)
    clock.now = 108 + SETTLE_S
    assert pace.calls() == 45, "the dip was in force until 108"
    clock.now = 108 + RAISE_AFTER_S
    assert pace.calls() == 75


def test_a_replica_with_no_work_keeps_one_call_a_window() -> None:
    clock = Clock()
    pace = pace_on(clock)
    pace.share(0.0)
    assert pace.calls() == 1


async def test_in_a_group_calls_wait_for_the_first_share_which_applies_at_once() -> None:
    clock = Clock()
    pace = pace_on(clock, wait_for_share=True)
    assert not pace.alone
    waiting = asyncio.create_task(pace.known())
    await settle()
    assert not waiting.done()

    pace.share(0.5)  # nothing of this replica's is in IO's window yet: no wait for a rise

    await asyncio.wait_for(waiting, 1)
    assert pace.calls() == 75


def test_a_run_of_429s_lowers_the_pace_once_a_window_and_names_the_setting(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    pace = pace_on(clock, 300)  # IO allows this account 150
    with caplog.at_level(logging.WARNING, logger="consumer.io.pace"):
        for _ in range(RUN - 1):
            pace.refused()
        assert pace.calls() == 300, "two 429s are no run"
        pace.refused()
        assert pace.calls() == int(300 * CUT)
        for _ in range(3 * RUN):  # the rest of the same burst
            pace.refused()
        assert pace.calls() == int(300 * CUT)
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "io.accounts.main.calls" in warning.getMessage()
    assert warning.__dict__["setting"] == "io.accounts.main.calls"
    assert warning.__dict__["account_calls_now"] == 225

    clock.now += WINDOW_S + 0.1  # the next window refuses again
    for _ in range(RUN):
        pace.refused()
    assert pace.calls() == int((225 + RECOVERY * 300) * CUT)  # a window regained first


def test_429s_spread_thinner_than_a_run_never_lower_the_pace() -> None:
    clock = Clock()
    pace = pace_on(clock)
    for _ in range(20):
        pace.refused()
        clock.now += WINDOW_S / (RUN - 1) + 0.01
    assert pace.calls() == 150


def test_the_pace_climbs_back_while_io_stops_refusing_never_past_the_setting() -> None:
    clock = Clock()
    pace = pace_on(clock, 100)
    for _ in range(RUN):
        pace.refused()
    assert pace.calls() == 75
    clock.now += 5 * WINDOW_S
    assert pace.calls() == 75 + int(5 * RECOVERY * 100)
    clock.now += 100 * WINDOW_S
    assert pace.calls() == 100


def test_the_share_and_the_lowered_limit_multiply() -> None:
    clock = Clock()
    pace = pace_on(clock, 200)
    pace.share(0.5)
    for _ in range(RUN):
        pace.refused()
    assert pace.calls() == int(200 * CUT * 0.5)


# --- the pace inside the account's limiter ---------------------------------------------------


def paced_limiter(time: VirtualTime, calls: int, *, wait_for_share: bool) -> AccountLimiter:
    policy = RatePolicy(calls=calls, per_seconds=1.0, margin_s=0.25)
    pace = Pace(
        "main",
        calls,
        policy.window_s,
        raise_after_s=2.0,
        wait_for_share=wait_for_share,
        clock=time.clock,
    )
    return AccountLimiter(policy, clock=time.clock, sleep=time.sleep, pace=pace)


async def test_the_limiter_keeps_to_its_share_of_the_account() -> None:
    time = VirtualTime()
    limiter = paced_limiter(time, 10, wait_for_share=False)
    assert limiter.pace is not None
    limiter.pace.share(0.4)
    started: list[Caller] = []
    callers = [Caller(limiter, time, started) for _ in range(5)]
    await time.run_out()
    assert [c.started_at for c in callers] == [0.0] * 4 + [1.25]


async def test_in_a_group_the_first_call_goes_alone_and_its_remaining_books_the_others() -> None:
    """A replica joining a busy group: the others' calls fill IO's window, which only the
    first answer's x-rate-limit-remaining shows."""
    time = VirtualTime()
    limiter = paced_limiter(time, 10, wait_for_share=True)
    assert limiter.pace is not None
    limiter.pace.share(0.5)  # 5 of the account's 10
    started: list[Caller] = []
    first = Caller(limiter, time, started, answer_after=None)
    others = [Caller(limiter, time, started) for _ in range(4)]
    await settle()
    assert [c.started_at for c in (first, *others)] == [0.0, None, None, None, None]

    limiter.settle()
    limiter.observe_remaining(0)  # the others spend the whole window

    await time.run_out()
    # Its share was booked as spent: the next calls wait for that window to pass.
    assert [c.started_at for c in others] == [1.25] * 4


async def test_a_429_tells_the_pace() -> None:
    time = VirtualTime()
    limiter = paced_limiter(time, 8, wait_for_share=False)
    for _ in range(RUN):
        limiter.hold(0.0)
    assert limiter.calls() == int(8 * CUT)


async def test_after_a_window_with_nothing_of_ours_the_first_call_goes_alone_again() -> None:
    """A long idle, or a freeze: the pace may be stale, and the others may fill IO's window."""
    time = VirtualTime()
    limiter = paced_limiter(time, 10, wait_for_share=True)
    assert limiter.pace is not None
    limiter.pace.share(0.5)
    started: list[Caller] = []
    Caller(limiter, time, started)
    await time.run_out()
    await time.advance_to(time.now + 2)  # past the window: nothing of ours in it

    first = Caller(limiter, time, started, answer_after=None)
    second = Caller(limiter, time, started)
    await settle()
    assert (first.started_at, second.started_at) == (2.0, None)
    limiter.settle()
    await time.run_out()
    assert second.started_at == 2.0
