"""IoClient, IoService and AccountLimiter, wired as consumer/runtime/app.py wires them, against
the real IO sandbox over HTTP: 429 storms, 5xx bursts, stalls, dropped connections, keys.

Figures worth reading are printed (run with -s to see them).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from consumer.errors import AuthenticationFault
from consumer.io import (
    AccountLimiter,
    GaveUp,
    IoClient,
    IoService,
    LostSubmit,
    MessageNotFound,
    MessageState,
    NewMessage,
    Profile,
    ProfileCache,
    ProfileNotFound,
    RatePolicy,
    Refused,
    RetryPolicy,
    Sending,
    SubmitInterrupted,
    Submitted,
    Timeouts,
    Unknown,
)
from consumer.io.models import MessageStatus
from consumer.io.observer import Endpoint
from consumer.runtime.deliver import Deliverer
from tests.fixtures.sandbox import Sandbox, SandboxFactory, message_body

PROFILE_ROUTE = "POST /api/v1/profiles"
SUBMIT_ROUTE = "POST /api/v1/messages"
ALLOWED = "AAAAAA00A00A000A"
NO_LANGUAGES = "BBBBBB00B00B000B"
BLOCKED = "CCCCCC00C00C000C"
NO_PROFILE = "DDDDDD00D00D000D"
QUICK_RETRY = RetryPolicy(
    max_attempts=15, max_elapsed_s=60.0, initial_backoff_s=0.01, max_backoff_s=0.05
)


def citizen(number: int) -> str:
    """A distinct fiscal code matching IO's pattern: six letters, then 00A00A000A."""
    letters = "".join(chr(ord("A") + number // 26**power % 26) for power in range(5, -1, -1))
    return f"{letters}00A00A000A"


def write_profiles(
    tmp_path: Path,
    allowed: list[str],
    subscriptions: Mapping[str, Mapping[str, str]] | None = None,
) -> Path:
    """Citizens: `allowed` and ALLOWED accept messages, BLOCKED blocked the sender, NO_PROFILE
    has no profile."""
    profiles: dict[str, dict[str, Any]] = {code: {"sender_allowed": True} for code in allowed}
    profiles[ALLOWED] = {"sender_allowed": True, "preferred_languages": ["it_IT", "en_GB"]}
    profiles[NO_LANGUAGES] = {"sender_allowed": True}
    profiles[BLOCKED] = {"sender_allowed": False, "preferred_languages": ["de_DE"]}
    document: dict[str, Any] = {"profiles": profiles}
    if subscriptions is not None:
        document["subscriptions"] = subscriptions
    path = tmp_path / "citizens.json"
    path.write_text(json.dumps(document))
    return path


def message_for(fiscal_code: str) -> NewMessage:
    return NewMessage.model_validate(message_body(fiscal_code))


def io_service(
    policy: RatePolicy, key: str = "key-tari", name: str = "tari", account: str = "default"
) -> IoService:
    """As app.io_services builds one: a name, a secret key, the account's shared limiter."""
    return IoService(name, SecretStr(key), account, AccountLimiter(policy))


@dataclass
class Attempt:
    endpoint: Endpoint
    status: int | None
    started: float
    ended: float
    retry_after: float | None = None


class TimedObserver:
    """Every attempt with its start and end, on the clock the limiter uses (CLOCK_MONOTONIC)."""

    def __init__(self) -> None:
        self.attempts: list[Attempt] = []
        self.retries: list[tuple[Endpoint, str, float]] = []
        self.waits: list[float] = []

    def call_finished(self, endpoint: Endpoint, status: int | None, seconds: float) -> None:
        now = time.perf_counter()
        self.attempts.append(Attempt(endpoint, status, now - seconds, now))

    def retrying(self, endpoint: Endpoint, reason: str, wait_s: float) -> None:
        self.retries.append((endpoint, reason, wait_s))

    def rate_limited(self, account: str, retry_after_s: float) -> None:
        # The client calls this right after call_finished for the same 429, with no await
        # in between, so the last attempt is the one refused.
        self.attempts[-1].retry_after = retry_after_s

    def limiter_waited(self, account: str, seconds: float) -> None:
        self.waits.append(seconds)

    def statuses(self, endpoint: Endpoint) -> Counter[int | None]:
        return Counter(a.status for a in self.attempts if a.endpoint == endpoint)


ClientFactory = Callable[..., IoClient]


@pytest.fixture
async def make_client() -> AsyncIterator[ClientFactory]:
    clients: list[IoClient] = []

    def make(sandbox: Sandbox, **options: Any) -> IoClient:
        options.setdefault("retry", QUICK_RETRY)
        client = IoClient(sandbox.base_url, **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


def gaps_after_429s(attempts: list[Attempt]) -> list[tuple[float, float]]:
    """For each 429: (seconds until the account's next accepted call started, retry-after)."""
    result = []
    for refused in attempts:
        if refused.status != 429:
            continue
        assert refused.retry_after is not None
        later = [a.started for a in attempts if a.status == 200 and a.started > refused.ended]
        if later:
            result.append((min(later) - refused.ended, refused.retry_after))
    return result


# --- the rate limit --------------------------------------------------------------------------


async def test_a_429_storm_from_a_wrong_policy_is_retried_and_honours_retry_after(
    start_sandbox: SandboxFactory, make_client: ClientFactory, tmp_path: Path
) -> None:
    citizens = [citizen(number) for number in range(60)]
    sandbox = start_sandbox(rate_limit="10/1s", profiles=write_profiles(tmp_path, citizens))
    observer = TimedObserver()
    retry = RetryPolicy(max_attempts=20, max_elapsed_s=60.0, initial_backoff_s=0.05)
    client = make_client(sandbox, retry=retry, observer=observer)
    wrong = io_service(RatePolicy(calls=100, per_seconds=1.0))  # IO allows 10/1s

    outcomes = await asyncio.gather(*(client.get_profile(wrong, code) for code in citizens))

    assert [type(outcome) for outcome in outcomes] == [Profile] * 60
    assert all(isinstance(o, Profile) and o.sender_allowed for o in outcomes)
    stats = sandbox.stats()
    refused = observer.statuses("profile")[429]
    assert stats["rate_limited"] > 0
    assert stats["rate_limited"] == refused
    assert stats["requests"] == {PROFILE_ROUTE: {"200": 60, "429": refused}}
    assert sum(o.attempts for o in outcomes if isinstance(o, Profile)) == 60 + refused
    gaps = gaps_after_429s(observer.attempts)
    assert len(gaps) == refused  # every 429 was followed by an accepted call
    for gap, retry_after in gaps:
        assert retry_after >= 1  # the sandbox's whole seconds
        assert gap >= retry_after, (gap, retry_after)
    # Nothing at all left for the account before a retry-after passed, not only the accepted.
    for refusal in (a for a in observer.attempts if a.status == 429):
        assert refusal.retry_after is not None
        too_soon = [
            a
            for a in observer.attempts
            if refusal.ended < a.started < refusal.ended + refusal.retry_after
        ]
        assert too_soon == []
    print(
        f"\nwrong policy: {refused} x 429 for 60 calls; retry-after "
        f"{sorted({r for _, r in gaps})} s; gap to the next accepted call "
        f"min {min(g for g, _ in gaps):.3f} s, max {max(g for g, _ in gaps):.3f} s"
    )


async def test_the_right_policy_gets_a_burst_through_without_429s(
    start_sandbox: SandboxFactory, make_client: ClientFactory, tmp_path: Path
) -> None:
    citizens = [citizen(number) for number in range(60)]
    sandbox = start_sandbox(rate_limit="10/1s", profiles=write_profiles(tmp_path, citizens))
    observer = TimedObserver()
    client = make_client(sandbox, observer=observer)
    right = io_service(RatePolicy(calls=10, per_seconds=1.0))

    started = time.monotonic()
    outcomes = await asyncio.gather(*(client.get_profile(right, code) for code in citizens))
    elapsed = time.monotonic() - started

    assert all(isinstance(o, Profile) and o.sender_allowed for o in outcomes)
    assert sandbox.stats()["rate_limited"] <= 1  # at most 1% of 60 calls, rounded down
    assert sandbox.stats()["requests"][PROFILE_ROUTE]["200"] == 60
    assert elapsed >= 5.0  # 60 calls at 10 a second need five full windows after the first
    print(
        f"\nright policy: {sandbox.stats()['rate_limited']} x 429 for 60 calls in "
        f"{elapsed:.2f} s ({60 / elapsed:.1f} calls/s for an allowance of 10/s)"
    )


# --- 5xx, stalls and dropped connections -----------------------------------------------------


async def test_5xx_bursts_are_retried_and_submits_are_recorded_once(
    start_sandbox: SandboxFactory, make_client: ClientFactory, tmp_path: Path
) -> None:
    citizens = [citizen(number) for number in range(40)]
    sandbox = start_sandbox(
        rate_limit="off",
        fault_rate=0.5,
        faults="500,503",
        seed=7,
        profiles=write_profiles(tmp_path, citizens),
    )
    observer = TimedObserver()
    client = make_client(sandbox, observer=observer)
    service = io_service(RatePolicy())

    profiles = await asyncio.gather(*(client.get_profile(service, code) for code in citizens))
    submits = await asyncio.gather(
        *(client.submit(service, message_for(code)) for code in citizens[:20])
    )

    assert all(isinstance(o, Profile) and o.sender_allowed for o in profiles)
    assert all(isinstance(o, Submitted) for o in submits), submits
    assert observer.retries, "fault rate 0.5 and no retry?"
    faults = sandbox.stats()["faults"]
    seen = observer.statuses("profile") + observer.statuses("submit")
    assert faults == {kind: seen[int(kind)] for kind in faults}  # every fault seen, none more
    assert seen[200] == 40
    assert seen[201] == 20
    # A 500 or 503 means IO did not take the message (the sandbox answers them before the
    # service runs), so exactly one message per Submitted, and no other.
    recorded = sandbox.messages()
    assert sorted(m["id"] for m in recorded) == sorted(
        s.message_id for s in submits if isinstance(s, Submitted)
    )
    assert sorted(m["fiscal_code"] for m in recorded) == sorted(citizens[:20])
    print(f"\n5xx: {dict(faults)} faults, {len(observer.retries)} retries, 0 duplicates")


async def test_stalled_profile_checks_time_out_and_are_retried(
    start_sandbox: SandboxFactory, make_client: ClientFactory, tmp_path: Path
) -> None:
    citizens = [citizen(number) for number in range(8)]
    sandbox = start_sandbox(
        rate_limit="off",
        fault_rate=0.5,
        faults="slow",
        slow_ms=3000,
        seed=3,
        profiles=write_profiles(tmp_path, citizens),
    )
    observer = TimedObserver()
    timeouts = Timeouts(connect_s=2.0, read_s=0.5, total_s=10.0)
    client = make_client(sandbox, timeouts=timeouts, observer=observer)
    service = io_service(RatePolicy())

    outcomes = await asyncio.gather(*(client.get_profile(service, code) for code in citizens))

    assert all(isinstance(o, Profile) and o.sender_allowed for o in outcomes)
    timed_out = observer.statuses("profile")[None]
    assert timed_out > 0
    assert timed_out == sandbox.stats()["faults"]["slow"]
    assert sum(o.attempts for o in outcomes if isinstance(o, Profile)) == 8 + timed_out
    assert all(reason == "no_answer" for _, reason, _ in observer.retries)
    stalled = [a for a in observer.attempts if a.status is None]
    assert all(a.ended - a.started >= 0.5 for a in stalled)


async def test_a_stalled_submit_is_unknown_and_not_resent(
    start_sandbox: SandboxFactory, make_client: ClientFactory, tmp_path: Path
) -> None:
    sandbox = start_sandbox(
        rate_limit="off",
        fault_rate=1.0,
        faults="slow",
        slow_ms=3000,
        profiles=write_profiles(tmp_path, []),
    )
    timeouts = Timeouts(connect_s=2.0, read_s=0.5, total_s=10.0)
    client = make_client(sandbox, timeouts=timeouts)

    outcome = await client.submit(io_service(RatePolicy()), message_for(ALLOWED))

    assert outcome == Unknown("the answer never came (ReadTimeout)", attempts=1)
    assert sandbox.stats()["faults"] == {"slow": 1}
    # Why it must not be resent: IO finishes the call after the client stopped waiting.
    for _ in range(100):  # the stall is 3 s; give it up to 10
        if sandbox.messages():
            break
        await asyncio.sleep(0.1)
    assert [m["fiscal_code"] for m in sandbox.messages()] == [ALLOWED]


async def test_dropped_connections_exhaust_profile_retries_and_leave_a_submit_unknown(
    start_sandbox: SandboxFactory, make_client: ClientFactory, tmp_path: Path
) -> None:
    sandbox = start_sandbox(
        rate_limit="off", fault_rate=1.0, faults="drop", profiles=write_profiles(tmp_path, [])
    )
    retry = RetryPolicy(max_attempts=4, initial_backoff_s=0.01, max_backoff_s=0.05)
    client = make_client(sandbox, retry=retry)
    service = io_service(RatePolicy())

    profile = await client.get_profile(service, ALLOWED)
    submitted = await client.submit(service, message_for(ALLOWED))

    assert isinstance(profile, GaveUp)
    assert profile.attempts == 4
    assert profile.http_status is None
    assert isinstance(submitted, Unknown)
    assert submitted.attempts == 1
    assert "RemoteProtocolError" in submitted.detail
    assert sandbox.stats()["requests"] == {
        PROFILE_ROUTE: {"dropped": 4},
        SUBMIT_ROUTE: {"dropped": 1},
    }


async def test_resending_lost_submits_may_duplicate_but_every_id_is_real(
    start_sandbox: SandboxFactory, make_client: ClientFactory, tmp_path: Path
) -> None:
    citizens = [citizen(number) for number in range(20)]
    sandbox = start_sandbox(
        rate_limit="off",
        fault_rate=0.5,
        faults="drop",
        seed=11,
        profiles=write_profiles(tmp_path, citizens),
    )
    client = make_client(sandbox, lost_submit=LostSubmit.RETRY)
    service = io_service(RatePolicy())

    outcomes = [await client.submit(service, message_for(code)) for code in citizens]

    assert all(isinstance(o, Submitted) for o in outcomes), outcomes
    recorded = sandbox.messages()
    ids_by_citizen: dict[str, set[str]] = {}
    for stored in recorded:
        ids_by_citizen.setdefault(stored["fiscal_code"], set()).add(stored["id"])
    for code, outcome in zip(citizens, outcomes, strict=True):
        assert isinstance(outcome, Submitted)
        assert outcome.message_id in ids_by_citizen[code]
    duplicates = len(recorded) - len(citizens)
    dropped = sandbox.stats()["requests"][SUBMIT_ROUTE].get("dropped", 0)
    assert 0 <= duplicates <= dropped  # only a submit dropped after it took effect doubles
    assert sum(o.attempts for o in outcomes if isinstance(o, Submitted)) == 20 + dropped
    print(f"\nlost_submit=retry: {dropped} dropped submits, {duplicates} duplicate messages")


# --- what IO says about citizens, keys and messages ------------------------------------------


async def test_profiles_as_io_reports_them(
    start_sandbox: SandboxFactory, make_client: ClientFactory, tmp_path: Path
) -> None:
    sandbox = start_sandbox(rate_limit="off", profiles=write_profiles(tmp_path, []))
    client = make_client(sandbox)
    service = io_service(RatePolicy())

    assert await client.get_profile(service, ALLOWED) == Profile(True, ("it_IT", "en_GB"), 1)
    assert await client.get_profile(service, NO_LANGUAGES) == Profile(True, (), 1)
    assert await client.get_profile(service, BLOCKED) == Profile(False, ("de_DE",), 1)
    assert await client.get_profile(service, NO_PROFILE) == ProfileNotFound(attempts=1)


async def test_a_refused_key_is_401_and_stops_the_deliverer(
    start_sandbox: SandboxFactory,
    make_client: ClientFactory,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    subscriptions = {"key-tari-0123456789": {"service": "tari", "account": "comune"}}
    sandbox = start_sandbox(rate_limit="off", profiles=write_profiles(tmp_path, [], subscriptions))
    client = make_client(sandbox)
    good = io_service(RatePolicy(), key="key-tari-0123456789", account="comune")
    bad = io_service(RatePolicy(), key="key-revoked-9876543210", account="comune")

    assert await client.get_profile(good, ALLOWED) == Profile(True, ("it_IT", "en_GB"), 1)
    refused = await client.get_profile(bad, ALLOWED)
    deliverer = Deliverer(client, {"tari": bad}, ProfileCache())
    with pytest.raises(AuthenticationFault, match=r"service 'tari' \(401") as fault:
        await deliverer.deliver("tari", ALLOWED, message_for_languages)

    assert isinstance(refused, Refused)
    assert (refused.http_status, refused.attempts) == (401, 1)
    assert sandbox.stats()["requests"] == {PROFILE_ROUTE: {"200": 1, "401": 2}}
    for key in ("key-tari-0123456789", "key-revoked-9876543210"):
        assert key not in str(fault.value)
        assert key not in repr(refused)
        assert key not in caplog.text


def message_for_languages(languages: object) -> NewMessage:
    return message_for(ALLOWED)


async def test_message_status_moves_from_accepted_to_processed_or_rejected(
    start_sandbox: SandboxFactory, make_client: ClientFactory, tmp_path: Path
) -> None:
    sandbox = start_sandbox(
        rate_limit="off", processing_delay_ms=1000, profiles=write_profiles(tmp_path, [])
    )
    client = make_client(sandbox)
    service = io_service(RatePolicy())
    other_service = io_service(RatePolicy(), key="key-imu", name="imu")

    sent = {
        code: await client.submit(service, message_for(code))
        for code in (ALLOWED, NO_PROFILE, BLOCKED)
    }
    ids = {code: s.message_id for code, s in sent.items() if isinstance(s, Submitted)}
    assert ids.keys() == sent.keys(), sent  # IO accepts first, decides later
    early = await client.get_message(service, ALLOWED, ids[ALLOWED])
    await asyncio.sleep(1.05)
    later = {code: await client.get_message(service, code, ids[code]) for code in ids}

    assert early == MessageState(MessageStatus.ACCEPTED, attempts=1)
    assert later == {
        ALLOWED: MessageState(MessageStatus.PROCESSED, attempts=1),
        NO_PROFILE: MessageState(MessageStatus.REJECTED, attempts=1),
        BLOCKED: MessageState(MessageStatus.REJECTED, attempts=1),
    }
    unknown_id = "01JQ0000000000000000000000"
    assert await client.get_message(service, ALLOWED, unknown_id) == MessageNotFound(1)
    # Only the sending service sees its message, and only under its recipient.
    assert await client.get_message(other_service, ALLOWED, ids[ALLOWED]) == MessageNotFound(1)
    assert await client.get_message(service, BLOCKED, ids[ALLOWED]) == MessageNotFound(1)


# --- the last moment before the bytes leave ----------------------------------------------------


async def test_a_submit_held_at_the_wire_and_cancelled_never_reaches_io(
    start_sandbox: SandboxFactory, make_client: ClientFactory, tmp_path: Path
) -> None:
    """After a freeze a request may already wait in the connection pool: the Sending clears it
    again right before its headers are written, and a cancel there is a plain cancel."""
    sandbox = start_sandbox(rate_limit="off", profiles=write_profiles(tmp_path, []))
    client = make_client(sandbox)
    asked: list[str] = []
    at_the_wire = asyncio.Event()

    async def clearance() -> None:
        asked.append("cleared")
        if len(asked) == 2:  # the second time: right before the headers
            at_the_wire.set()
            await asyncio.sleep(30)  # the freeze guard holding it

    sending = Sending(clearance=clearance)
    submit = asyncio.create_task(
        client.submit(io_service(RatePolicy()), message_for(ALLOWED), sending)
    )
    async with asyncio.timeout(10):
        await at_the_wire.wait()

    submit.cancel()

    with pytest.raises(asyncio.CancelledError) as cancelled:
        await submit
    assert not isinstance(cancelled.value, SubmitInterrupted)
    await asyncio.sleep(0.3)
    assert sandbox.messages() == []

    # The same client then sends, clearing each request before the pool and at the wire.
    outcome = await client.submit(io_service(RatePolicy()), message_for(ALLOWED), Sending())
    assert isinstance(outcome, Submitted)
    assert [m["fiscal_code"] for m in sandbox.messages()] == [ALLOWED]


async def test_a_submit_held_before_its_body_and_released_goes_again_once(
    start_sandbox: SandboxFactory, make_client: ClientFactory, tmp_path: Path
) -> None:
    """Released after a hold, the half-sent request is dropped, not finished (the server may
    have given up on it): the submit goes again on a fresh connection, and IO has it once."""
    sandbox = start_sandbox(rate_limit="off", profiles=write_profiles(tmp_path, []))
    client = make_client(sandbox)
    asked: list[str] = []

    async def clearance() -> None:
        asked.append("cleared")
        if len(asked) == 3:  # the first attempt's body
            await asyncio.sleep(0.3)  # the freeze guard holding it, then letting it go

    outcome = await client.submit(
        io_service(RatePolicy()), message_for(ALLOWED), Sending(clearance=clearance)
    )

    assert isinstance(outcome, Submitted)
    assert outcome.attempts == 2
    assert [m["fiscal_code"] for m in sandbox.messages()] == [ALLOWED]


async def test_a_submit_frozen_between_its_headers_and_its_body_is_held_and_never_accepted(
    start_sandbox: SandboxFactory, make_client: ClientFactory, tmp_path: Path
) -> None:
    """A freeze after the headers' write, before the body's: the Sending clears the body too,
    so the hold catches it there, and a cancel there sent nothing IO could act on."""
    sandbox = start_sandbox(rate_limit="off", profiles=write_profiles(tmp_path, []))
    client = make_client(sandbox)
    asked: list[str] = []
    before_the_body = asyncio.Event()

    async def clearance() -> None:
        asked.append("cleared")
        if len(asked) == 3:  # before the pool, before the headers, then before the body
            before_the_body.set()
            await asyncio.sleep(30)  # the freeze guard holding it

    submit = asyncio.create_task(
        client.submit(io_service(RatePolicy()), message_for(ALLOWED), Sending(clearance=clearance))
    )
    async with asyncio.timeout(10):
        await before_the_body.wait()

    submit.cancel()

    with pytest.raises(asyncio.CancelledError) as cancelled:
        await submit
    assert not isinstance(cancelled.value, SubmitInterrupted)
    await asyncio.sleep(0.3)
    assert sandbox.messages() == []
