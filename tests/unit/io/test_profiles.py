"""ProfileCache: what it remembers, for how long, and how concurrent askers share one call."""

from __future__ import annotations

import asyncio

import pytest

from consumer.io import GaveUp, Profile, ProfileCache, ProfileNotFound, ProfileOutcome, Refused

CITIZEN = "AAAAAA00A00A000A"
OTHER = "BBBBBB00B00B000B"


class Check:
    """A profile check that counts its calls; with `gate`, each call waits for it to open."""

    def __init__(
        self, outcome: ProfileOutcome | BaseException, gate: asyncio.Event | None = None
    ) -> None:
        self.outcome = outcome
        self.gate = gate
        self.calls = 0

    async def __call__(self) -> ProfileOutcome:
        self.calls += 1
        if self.gate is not None:
            await self.gate.wait()
        if isinstance(self.outcome, BaseException):
            raise self.outcome
        return self.outcome


ALLOWED = Profile(sender_allowed=True, preferred_languages=("it_IT",), attempts=2)


async def test_a_remembered_profile_costs_no_call() -> None:
    cache = ProfileCache()
    check = Check(ALLOWED)

    first = await cache.get("tari", CITIZEN, check)
    second = await cache.get("tari", CITIZEN, check)

    assert first == (ALLOWED, False)
    assert second == (ALLOWED, True)
    assert check.calls == 1


async def test_no_profile_is_remembered_too() -> None:
    cache = ProfileCache()
    check = Check(ProfileNotFound(attempts=1))

    await cache.get("tari", CITIZEN, check)
    outcome, remembered = await cache.get("tari", CITIZEN, check)

    assert outcome == ProfileNotFound(attempts=1)
    assert remembered
    assert check.calls == 1


async def test_each_service_and_citizen_is_its_own_entry() -> None:
    cache = ProfileCache()
    check = Check(ALLOWED)

    await cache.get("tari", CITIZEN, check)
    await cache.get("tari", OTHER, check)
    await cache.get("imu", CITIZEN, check)

    assert check.calls == 3


async def test_an_answer_expires_after_its_ttl() -> None:
    cache = ProfileCache(ttl_s=0.05)
    check = Check(ALLOWED)

    await cache.get("tari", CITIZEN, check)
    assert (await cache.get("tari", CITIZEN, check))[1]
    await asyncio.sleep(0.1)
    outcome, remembered = await cache.get("tari", CITIZEN, check)

    assert (outcome, remembered) == (ALLOWED, False)
    assert check.calls == 2


async def test_the_oldest_entry_goes_when_the_cache_is_full() -> None:
    cache = ProfileCache(max_entries=2)
    check = Check(ALLOWED)
    third = "CCCCCC00C00C000C"

    for citizen in (CITIZEN, OTHER, third):
        await cache.get("tari", citizen, check)
    assert check.calls == 3

    assert (await cache.get("tari", third, check))[1]
    assert (await cache.get("tari", OTHER, check))[1]
    assert not (await cache.get("tari", CITIZEN, check))[1]  # evicted: asked again
    assert check.calls == 4


async def test_concurrent_askers_share_one_call() -> None:
    cache = ProfileCache()
    gate = asyncio.Event()
    check = Check(ALLOWED, gate)

    askers = [asyncio.create_task(cache.get("tari", CITIZEN, check)) for _ in range(10)]
    await asyncio.sleep(0)
    gate.set()
    answers = await asyncio.gather(*askers)

    assert check.calls == 1
    assert [outcome for outcome, _ in answers] == [ALLOWED] * 10
    # One asker made the call; the nine others say they made none (attempts are not re-counted).
    assert sorted(remembered for _, remembered in answers) == [False] + [True] * 9


@pytest.mark.parametrize(
    "outcome",
    [Refused(403, "forbidden"), Refused(401, "bad key"), GaveUp("IO answered 503", 503, 6)],
)
async def test_refusals_and_give_ups_are_not_remembered(outcome: ProfileOutcome) -> None:
    cache = ProfileCache()
    check = Check(outcome)

    first = await cache.get("tari", CITIZEN, check)
    second = await cache.get("tari", CITIZEN, check)

    assert first == (outcome, False)
    assert second == (outcome, False)
    assert check.calls == 2


async def test_concurrent_askers_share_a_refusal_but_the_next_asker_calls_again() -> None:
    cache = ProfileCache()
    gate = asyncio.Event()
    check = Check(GaveUp("IO answered 503", 503, 6), gate)

    askers = [asyncio.create_task(cache.get("tari", CITIZEN, check)) for _ in range(3)]
    await asyncio.sleep(0)
    gate.set()
    answers = await asyncio.gather(*askers)
    check.outcome = ALLOWED
    later = await cache.get("tari", CITIZEN, check)

    assert {outcome for outcome, _ in answers} == {GaveUp("IO answered 503", 503, 6)}
    assert later == (ALLOWED, False)
    assert check.calls == 2


async def test_an_error_in_the_check_reaches_every_waiter_and_is_not_remembered() -> None:
    cache = ProfileCache()
    gate = asyncio.Event()
    check = Check(RuntimeError("boom"), gate)

    askers = [asyncio.create_task(cache.get("tari", CITIZEN, check)) for _ in range(5)]
    await asyncio.sleep(0)
    gate.set()
    answers = await asyncio.gather(*askers, return_exceptions=True)

    assert check.calls == 1
    assert all(isinstance(answer, RuntimeError) for answer in answers), answers
    assert [str(answer) for answer in answers] == ["boom"] * 5
    check.outcome = ALLOWED
    check.gate = None
    assert await cache.get("tari", CITIZEN, check) == (ALLOWED, False)
    assert check.calls == 2


async def test_a_cancelled_asker_does_not_cancel_the_askers_waiting_on_its_call() -> None:
    """Only the task that was cancelled should see CancelledError; a waiter that shared its
    call was not cancelled and still needs the citizen's profile."""
    cache = ProfileCache()
    gate = asyncio.Event()
    check = Check(ALLOWED, gate)
    first = asyncio.create_task(cache.get("tari", CITIZEN, check))
    await asyncio.sleep(0)
    waiter = asyncio.create_task(cache.get("tari", CITIZEN, check))
    await asyncio.sleep(0)

    first.cancel()
    await asyncio.sleep(0)
    gate.set()
    done, _ = await asyncio.wait([first, waiter], timeout=5)

    assert first.cancelled()
    assert waiter in done
    assert not waiter.cancelled(), "the waiter was cancelled by another task's cancellation"
    assert waiter.result()[0] == ALLOWED
