"""Injected latency and faults on a real sandbox: errors, slowness, dropped connections."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest

from tests.fixtures.sandbox import (
    ALLOWED,
    DEFAULT_PROFILES,
    SandboxFactory,
    api_headers,
    message_body,
)

PROFILE = f"/api/v1/profiles/{ALLOWED}"


@pytest.mark.parametrize(
    ("kind", "title"), [("500", "Internal server error"), ("503", "Service unavailable")]
)
def test_every_call_gets_the_error_fault(
    start_sandbox: SandboxFactory, kind: str, title: str
) -> None:
    sandbox = start_sandbox(fault_rate=1, faults=kind, profiles=DEFAULT_PROFILES)
    with httpx.Client(base_url=sandbox.base_url, headers=api_headers()) as client:
        answers = [client.get(PROFILE) for _ in range(5)]
        answers += [
            client.post("/api/v1/profiles", json={"fiscal_code": ALLOWED}) for _ in range(5)
        ]
        answers += [client.post("/api/v1/messages", json=message_body()) for _ in range(5)]

    for answer in answers:
        assert answer.status_code == int(kind)
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["status"] == int(kind)
        assert answer.json()["title"] == title
        assert "x-rate-limit-remaining" in answer.headers
    assert sandbox.messages() == []  # a 500 or 503 submit is not recorded
    assert sandbox.stats()["faults"] == {kind: 15}


def test_fault_rate_is_a_share_of_calls(start_sandbox: SandboxFactory) -> None:
    sandbox = start_sandbox(
        rate_limit="off", fault_rate=0.5, faults="503", seed=11, profiles=DEFAULT_PROFILES
    )
    with httpx.Client(base_url=sandbox.base_url, headers=api_headers()) as client:
        statuses = [client.get(PROFILE).status_code for _ in range(200)]

    assert set(statuses) == {200, 503}
    assert 60 < statuses.count(503) < 140
    assert sandbox.stats()["faults"] == {"503": statuses.count(503)}


def test_drop_closes_the_connection_without_an_answer(start_sandbox: SandboxFactory) -> None:
    sandbox = start_sandbox(fault_rate=1, faults="drop", profiles=DEFAULT_PROFILES)

    with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
        httpx.get(f"{sandbox.base_url}{PROFILE}", headers=api_headers())

    assert sandbox.stats()["requests"] == {"GET /api/v1/profiles/{fiscal_code}": {"dropped": 1}}
    assert "Exception" not in sandbox.log()  # a drop is not an error of the sandbox


def test_half_the_dropped_submits_were_recorded_first(start_sandbox: SandboxFactory) -> None:
    sandbox = start_sandbox(rate_limit="off", fault_rate=1, faults="drop", seed=5)
    for _ in range(40):
        with pytest.raises(httpx.TransportError):
            httpx.post(
                f"{sandbox.base_url}/api/v1/messages", json=message_body(), headers=api_headers()
            )

    recorded = len(sandbox.messages())
    assert 10 <= recorded <= 30  # the ambiguous case: IO has it, the client got no answer


def test_slow_fault_delays_then_answers_normally(start_sandbox: SandboxFactory) -> None:
    sandbox = start_sandbox(fault_rate=1, faults="slow", slow_ms=400, profiles=DEFAULT_PROFILES)

    started = time.monotonic()
    response = httpx.get(f"{sandbox.base_url}{PROFILE}", headers=api_headers(), timeout=10)
    elapsed = time.monotonic() - started

    assert response.status_code == 200
    assert response.json()["sender_allowed"] is True
    assert elapsed >= 0.4
    assert sandbox.stats()["faults"] == {"slow": 1}


def test_latency_is_added_to_every_answer(start_sandbox: SandboxFactory) -> None:
    sandbox = start_sandbox(latency_ms=250, profiles=DEFAULT_PROFILES)
    with httpx.Client(base_url=sandbox.base_url, timeout=10) as client:
        calls: list[Callable[[], httpx.Response]] = [
            lambda: client.get(PROFILE, headers=api_headers()),
            lambda: client.get(PROFILE),  # a 401 is delayed too
            lambda: client.post("/api/v1/messages", json=message_body(), headers=api_headers()),
        ]
        for call in calls:
            started = time.monotonic()
            call()
            assert time.monotonic() - started >= 0.25


def test_same_seed_same_faults(start_sandbox: SandboxFactory) -> None:
    def statuses() -> list[int]:
        sandbox = start_sandbox(rate_limit="off", fault_rate=0.3, faults="500,503", seed=21)
        with httpx.Client(base_url=sandbox.base_url, headers=api_headers()) as client:
            return [client.get(PROFILE).status_code for _ in range(60)]

    assert statuses() == statuses()
