"""Deliverer and KeyGuard over a scripted IO client: which outcome, how many attempts, when
a refused key stops the relay."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import cast

import pytest
from pydantic import SecretStr

from consumer.errors import AuthenticationFault, ConfigurationError
from consumer.io import (
    AccountLimiter,
    GaveUp,
    IoClient,
    IoService,
    NewMessage,
    Profile,
    ProfileCache,
    ProfileNotFound,
    ProfileOutcome,
    RatePolicy,
    Refused,
    SubmitOutcome,
    Submitted,
    Unknown,
)
from consumer.report import ErrorInfo, Outcome
from consumer.runtime.deliver import Deliverer, Delivery, KeyGuard

CITIZEN = "AAAAAA00A00A000A"
OTHER = "BBBBBB00B00B000B"
MESSAGE_ID = "01JQ0000000000000000000000"
ALLOWED = Profile(sender_allowed=True, preferred_languages=("de_DE", "it_IT"), attempts=2)


class FakeIo:
    """Answers from scripts (the last answer repeats) and counts the calls."""

    def __init__(
        self,
        profiles: Sequence[ProfileOutcome] = (ALLOWED,),
        submits: Sequence[SubmitOutcome] = (Submitted(MESSAGE_ID),),
        gate: asyncio.Event | None = None,
    ) -> None:
        self.profiles = list(profiles)
        self.submits = list(submits)
        self.gate = gate
        self.profile_calls: list[tuple[str, str]] = []
        self.submitted: list[NewMessage] = []

    async def get_profile(self, service: IoService, fiscal_code: str) -> ProfileOutcome:
        self.profile_calls.append((service.name, fiscal_code))
        if self.gate is not None:
            await self.gate.wait()
        return self.profiles.pop(0) if len(self.profiles) > 1 else self.profiles[0]

    async def submit(
        self, service: IoService, message: NewMessage, sending: object = None
    ) -> SubmitOutcome:
        self.submitted.append(message)
        return self.submits.pop(0) if len(self.submits) > 1 else self.submits[0]


class Composer:
    """The render step: records the languages it was asked for."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, ...]] = []

    def __call__(self, languages: Sequence[str]) -> NewMessage:
        self.asked.append(tuple(languages))
        return NewMessage.model_validate(
            {
                "fiscal_code": CITIZEN,
                "content": {"subject": "Avviso di pagamento TARI", "markdown": "m" * 80},
            }
        )


def services() -> dict[str, IoService]:
    limiter = AccountLimiter(RatePolicy())
    return {
        "tari": IoService("tari", SecretStr("key-tari"), "comune", limiter),
        "imu": IoService("imu", SecretStr("key-imu"), "comune", limiter),
    }


def deliverer(io: FakeIo, guard: KeyGuard | None = None) -> Deliverer:
    return Deliverer(cast(IoClient, io), services(), ProfileCache(), guard)


async def test_submitted_counts_the_attempts_of_both_calls_and_uses_preferred_languages() -> None:
    io = FakeIo(submits=[Submitted(MESSAGE_ID, 201, attempts=3)])
    compose = Composer()

    delivery = await deliverer(io).deliver("tari", CITIZEN, compose)

    assert delivery == Delivery(Outcome.SUBMITTED, 5, MESSAGE_ID, 201)
    assert compose.asked == [("de_DE", "it_IT")]
    assert len(io.submitted) == 1
    assert io.profile_calls == [("tari", CITIZEN)]


async def test_a_profile_without_languages_composes_with_none() -> None:
    io = FakeIo(profiles=[Profile(sender_allowed=True)])
    compose = Composer()

    await deliverer(io).deliver("tari", CITIZEN, compose)

    assert compose.asked == [()]


async def test_no_profile_is_not_sent() -> None:
    io = FakeIo(profiles=[ProfileNotFound(attempts=2)])
    compose = Composer()

    delivery = await deliverer(io).deliver("tari", CITIZEN, compose)

    assert delivery == Delivery(Outcome.NOT_SENT_PROFILE_NOT_FOUND, 2, http_status=404)
    assert compose.asked == []
    assert io.submitted == []


async def test_a_blocked_sender_is_not_sent() -> None:
    io = FakeIo(profiles=[Profile(sender_allowed=False, preferred_languages=("it_IT",))])
    compose = Composer()

    delivery = await deliverer(io).deliver("tari", CITIZEN, compose)

    assert delivery == Delivery(Outcome.NOT_SENT_SENDER_NOT_ALLOWED, 1, http_status=200)
    assert compose.asked == []
    assert io.submitted == []


@pytest.mark.parametrize(
    ("profile", "error", "status"),
    [
        (
            Refused(400, "bad fiscal code", 1),
            ErrorInfo(type="refused", detail="bad fiscal code"),
            400,
        ),
        (
            GaveUp("IO answered 503, 6 attempts", 503, 6),
            ErrorInfo(type="gave_up", detail="IO answered 503, 6 attempts"),
            503,
        ),
        (
            GaveUp("cannot reach IO (ConnectError), 6 attempts", None, 6),
            ErrorInfo(type="gave_up", detail="cannot reach IO (ConnectError), 6 attempts"),
            None,
        ),
    ],
)
async def test_a_failed_profile_check_fails_the_delivery_without_a_submit(
    profile: ProfileOutcome, error: ErrorInfo, status: int | None
) -> None:
    io = FakeIo(profiles=[profile])

    delivery = await deliverer(io).deliver("tari", CITIZEN, Composer())

    assert delivery == Delivery(Outcome.FAILED, profile.attempts, http_status=status, error=error)
    assert io.submitted == []


@pytest.mark.parametrize(
    ("submitted", "expected"),
    [
        (
            Refused(400, "content.subject too short", 1),
            Delivery(
                Outcome.FAILED,
                3,
                http_status=400,
                error=ErrorInfo(type="refused", detail="content.subject too short"),
            ),
        ),
        (
            GaveUp("IO answered 500, 6 attempts", 500, 6),
            Delivery(
                Outcome.FAILED,
                8,
                http_status=500,
                error=ErrorInfo(type="gave_up", detail="IO answered 500, 6 attempts"),
            ),
        ),
        (
            Unknown("the answer never came (ReadTimeout)", 1),
            Delivery(
                Outcome.UNKNOWN,
                3,
                error=ErrorInfo(type="answer_lost", detail="the answer never came (ReadTimeout)"),
            ),
        ),
    ],
)
async def test_what_the_submit_answered_decides_the_outcome(
    submitted: SubmitOutcome, expected: Delivery
) -> None:
    io = FakeIo(submits=[submitted])

    assert await deliverer(io).deliver("tari", CITIZEN, Composer()) == expected


async def test_an_unknown_service_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="'pec'"):
        await deliverer(FakeIo()).deliver("pec", CITIZEN, Composer())


# --- the profile cache -----------------------------------------------------------------------


async def test_a_remembered_profile_costs_no_call_and_no_attempt() -> None:
    io = FakeIo(submits=[Submitted(MESSAGE_ID, 201, attempts=1)])
    relay = deliverer(io)
    compose = Composer()

    first = await relay.deliver("tari", CITIZEN, compose)
    second = await relay.deliver("tari", CITIZEN, compose)

    assert io.profile_calls == [("tari", CITIZEN)]
    assert (first.outcome, first.attempts) == (Outcome.SUBMITTED, 3)
    assert (second.outcome, second.attempts) == (Outcome.SUBMITTED, 1)  # the submit only
    assert compose.asked == [("de_DE", "it_IT")] * 2
    assert len(io.submitted) == 2


async def test_concurrent_deliveries_to_one_citizen_share_one_profile_check() -> None:
    gate = asyncio.Event()
    io = FakeIo(gate=gate)
    relay = deliverer(io)

    pending = [asyncio.create_task(relay.deliver("tari", CITIZEN, Composer())) for _ in range(3)]
    await asyncio.sleep(0)
    gate.set()
    deliveries = await asyncio.gather(*pending)

    assert io.profile_calls == [("tari", CITIZEN)]
    assert sorted(delivery.attempts for delivery in deliveries) == [1, 1, 3]
    assert {delivery.outcome for delivery in deliveries} == {Outcome.SUBMITTED}


async def test_each_service_checks_the_citizen_for_itself() -> None:
    io = FakeIo()
    relay = deliverer(io)

    await relay.deliver("tari", CITIZEN, Composer())
    await relay.deliver("imu", CITIZEN, Composer())
    await relay.deliver("tari", OTHER, Composer())

    assert io.profile_calls == [("tari", CITIZEN), ("imu", CITIZEN), ("tari", OTHER)]


# --- KeyGuard --------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["profile", "submit"])
async def test_one_401_is_an_authentication_fault_naming_the_service(where: str) -> None:
    refused = Refused(401, "Access denied due to invalid subscription key", 1)
    io = FakeIo(profiles=[refused]) if where == "profile" else FakeIo(submits=[refused])

    with pytest.raises(AuthenticationFault, match=r"service 'tari' \(401") as fault:
        await deliverer(io).deliver("tari", CITIZEN, Composer())

    assert "key-tari" not in str(fault.value)


async def test_a_single_403_fails_only_its_message() -> None:
    io = FakeIo(submits=[Refused(403, "ADVANCED without Premium", 1)])

    delivery = await deliverer(io).deliver("tari", CITIZEN, Composer())

    assert delivery.outcome is Outcome.FAILED
    assert delivery.http_status == 403
    assert delivery.error == ErrorInfo(type="refused", detail="ADVANCED without Premium")


async def test_403s_on_profile_checks_in_a_row_are_a_fault() -> None:
    io = FakeIo(profiles=[Refused(403, "forbidden", 1)])
    relay = deliverer(io, KeyGuard(forbidden_before_fault=3))

    for _ in range(2):
        assert (await relay.deliver("tari", CITIZEN, Composer())).outcome is Outcome.FAILED
    with pytest.raises(AuthenticationFault, match=r"last 3 calls of service 'tari'"):
        await relay.deliver("tari", CITIZEN, Composer())


async def test_403s_on_submits_in_a_row_are_a_fault() -> None:
    """A key that may check profiles but not send: each submit is refused, so nothing of the
    service can be delivered. A run of refused submits must stop the relay even though the
    profile checks before them succeed."""
    io = FakeIo(submits=[Refused(403, "missing permission", 1)])
    relay = deliverer(io, KeyGuard(forbidden_before_fault=3))
    citizens = [f"{letters}00A00A000A" for letters in ("AAAAAA", "BBBBBB", "CCCCCC")]

    first = await relay.deliver("tari", citizens[0], Composer())
    second = await relay.deliver("tari", citizens[1], Composer())
    assert (first.outcome, second.outcome) == (Outcome.FAILED, Outcome.FAILED)
    with pytest.raises(AuthenticationFault, match=r"service 'tari'"):
        await relay.deliver("tari", citizens[2], Composer())


def test_a_success_in_between_resets_the_run() -> None:
    guard = KeyGuard(forbidden_before_fault=3)
    forbidden = Refused(403, "forbidden", 1)

    for _ in range(4):
        guard.refused("tari", forbidden)
        guard.refused("tari", forbidden)
        guard.accepted("tari")
    guard.refused("tari", forbidden)
    guard.refused("tari", forbidden)
    with pytest.raises(AuthenticationFault, match="last 3 calls"):
        guard.refused("tari", forbidden)


def test_the_run_is_counted_per_service() -> None:
    guard = KeyGuard(forbidden_before_fault=2)
    forbidden = Refused(403, "forbidden", 1)

    guard.refused("tari", forbidden)
    guard.refused("imu", forbidden)
    guard.accepted("imu")
    guard.refused("imu", forbidden)
    with pytest.raises(AuthenticationFault, match="'tari'"):
        guard.refused("tari", forbidden)


async def test_an_accepted_call_between_403s_keeps_the_relay_going() -> None:
    forbidden = Refused(403, "forbidden", 1)
    io = FakeIo(profiles=[forbidden, forbidden, ALLOWED, forbidden, forbidden])
    relay = deliverer(io, KeyGuard(forbidden_before_fault=3))
    citizens = [f"{letters}00A00A000A" for letters in ("AAAAAA", "BBBBBB", "CCCCCC", "DDDDDD")]
    citizens.append("EEEEEE00A00A000A")

    outcomes = [(await relay.deliver("tari", citizen, Composer())).outcome for citizen in citizens]

    assert outcomes == [Outcome.FAILED, Outcome.FAILED, Outcome.SUBMITTED] + [Outcome.FAILED] * 2
