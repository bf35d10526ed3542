"""The admin endpoints and the process itself: start line, bad files, clean stop."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import httpx

from tests.fixtures.sandbox import (
    ALLOWED,
    BLOCKED,
    DEFAULT_PROFILES,
    NO_PROFILE,
    REPO_ROOT,
    SandboxFactory,
    api_headers,
    message_body,
)


def test_messages_lists_every_accepted_submission_in_order(start_sandbox: SandboxFactory) -> None:
    sandbox = start_sandbox(rate_limit="off", profiles=DEFAULT_PROFILES)
    sent = [message_body(code) for code in (ALLOWED, NO_PROFILE, BLOCKED)]
    keys = ["k1", "k2", "k1"]
    ids = [
        httpx.post(
            f"{sandbox.base_url}/api/v1/messages", json=body, headers=api_headers(key)
        ).json()["id"]
        for body, key in zip(sent, keys, strict=True)
    ]

    messages = sandbox.messages()

    assert [m["id"] for m in messages] == ids
    assert [m["body"] for m in messages] == sent
    assert [m["fiscal_code"] for m in messages] == [ALLOWED, NO_PROFILE, BLOCKED]
    assert [m["subscription_key"] for m in messages] == keys
    assert [m["service"] for m in messages] == keys
    assert set(messages[0]) == {
        "id",
        "fiscal_code",
        "service",
        "subscription_key",
        "body",
        "received_at",
    }


def test_reset_forgets_messages_and_counts(start_sandbox: SandboxFactory) -> None:
    sandbox = start_sandbox(rate_limit="off")
    httpx.post(f"{sandbox.base_url}/api/v1/messages", json=message_body(), headers=api_headers())
    assert len(sandbox.messages()) == 1

    sandbox.reset()

    assert sandbox.messages() == []
    assert sandbox.stats() == {"requests": {}, "rate_limited": 0, "faults": {}}


def test_stats_count_by_endpoint_and_status(start_sandbox: SandboxFactory) -> None:
    sandbox = start_sandbox(rate_limit="3/60s", profiles=DEFAULT_PROFILES)
    with httpx.Client(base_url=sandbox.base_url) as client:
        client.get(f"/api/v1/profiles/{ALLOWED}", headers=api_headers())
        client.get(f"/api/v1/profiles/{NO_PROFILE}", headers=api_headers())
        client.post("/api/v1/messages", json=message_body(), headers=api_headers())
        client.post("/api/v1/messages", json=message_body(), headers=api_headers())
        client.post("/api/v1/messages", json=message_body())

    assert sandbox.stats() == {
        "requests": {
            "GET /api/v1/profiles/{fiscal_code}": {"200": 1, "404": 1},
            "POST /api/v1/messages": {"201": 1, "429": 1, "401": 1},
        },
        "rate_limited": 1,
        "faults": {},
    }


def test_health(start_sandbox: SandboxFactory) -> None:
    sandbox = start_sandbox()
    response = httpx.get(f"{sandbox.base_url}/__sandbox/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_announces_where_it_listens_and_stops_cleanly_on_sigterm(
    start_sandbox: SandboxFactory,
) -> None:
    sandbox = start_sandbox()
    assert f"io sandbox listening on {sandbox.base_url}\n" in sandbox.log()

    sandbox.process.terminate()

    # uvicorn shuts down gracefully, then re-raises the signal it caught, as is conventional.
    assert sandbox.process.wait(timeout=10) in {0, -signal.SIGTERM}
    assert "Traceback" not in sandbox.log()


def test_a_bad_profiles_file_stops_it_at_start_naming_the_entry(tmp_path: Path) -> None:
    profiles = tmp_path / "profiles.yaml"
    profiles.write_text(
        "AAAAAA00A00A000A: {sender_allowed: true}\nNOT-A-CODE: {sender_allowed: true}\n"
    )

    run = subprocess.run(
        [sys.executable, "-m", "consumer.sandbox", "--port", "0", "--profiles", str(profiles)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert run.returncode == 2
    assert "profiles.NOT-A-CODE: String should match pattern" in run.stderr
    assert "listening" not in run.stderr
