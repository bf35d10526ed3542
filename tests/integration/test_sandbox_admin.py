"""The admin endpoints and the process itself: start line, bad files, clean stop."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx

from consumer.sandbox.auth import key_fingerprint
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
    assert [m["key_fingerprint"] for m in messages] == [key_fingerprint(k) for k in keys]
    assert [m["service"] for m in messages] == [key_fingerprint(k) for k in keys]
    assert not [m for m in messages for key in keys if key in json.dumps(m)]
    assert set(messages[0]) == {
        "id",
        "fiscal_code",
        "service",
        "key_fingerprint",
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

    # Stopped gracefully, and exits 0 (consumer/serving.py): not uvicorn's re-raised signal.
    assert sandbox.process.wait(timeout=10) == 0
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


def test_an_outage_answers_503_to_every_api_call_until_it_is_ended(
    start_sandbox: SandboxFactory,
) -> None:
    sandbox = start_sandbox(rate_limit="off", profiles=DEFAULT_PROFILES)
    with httpx.Client(base_url=sandbox.base_url) as client:
        started = client.post("/__sandbox/outage", json={"seconds": 60})
        during = [
            client.get(f"/api/v1/profiles/{ALLOWED}", headers=api_headers()),
            client.post("/api/v1/profiles", json={"fiscal_code": ALLOWED}, headers=api_headers()),
            client.post("/api/v1/messages", json=message_body(), headers=api_headers()),
            client.get(f"/api/v1/messages/{ALLOWED}/01JA0000000000000000000000"),  # no key
        ]
        admin_during = [client.get("/__sandbox/health"), client.get("/__sandbox/outage")]
        ended = client.delete("/__sandbox/outage")
        after = client.post("/api/v1/messages", json=message_body(), headers=api_headers())
        state_after = client.get("/__sandbox/outage").json()

    assert started.status_code == 200
    assert started.json()["active"] is True
    assert 59 < started.json()["remaining_s"] <= 60
    assert [r.status_code for r in during] == [503] * 4
    for response in during:
        assert response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        assert problem["status"] == 503
        assert problem["title"] == "Service unavailable"
        assert "outage" in problem["detail"]
    assert [r.status_code for r in admin_during] == [200, 200]
    assert admin_during[1].json()["active"] is True
    assert ended.status_code == 204
    assert after.status_code == 201
    assert state_after == {"active": False, "remaining_s": 0.0}
    # Nothing submitted during the outage was recorded; the 503s are counted by endpoint.
    assert [m["id"] for m in sandbox.messages()] == [after.json()["id"]]
    requests = sandbox.stats()["requests"]
    assert requests["POST /api/v1/messages"] == {"503": 1, "201": 1}
    assert requests["GET /api/v1/profiles/{fiscal_code}"] == {"503": 1}


def test_an_outage_ends_by_itself(start_sandbox: SandboxFactory) -> None:
    sandbox = start_sandbox(rate_limit="off", profiles=DEFAULT_PROFILES)
    profile = f"{sandbox.base_url}/api/v1/profiles/{ALLOWED}"
    with httpx.Client() as client:
        client.post(f"{sandbox.base_url}/__sandbox/outage", json={"seconds": 0.5})
        first = client.get(profile, headers=api_headers()).status_code
        deadline = time.monotonic() + 10
        statuses = [first]
        while statuses[-1] == 503 and time.monotonic() < deadline:
            time.sleep(0.1)
            statuses.append(client.get(profile, headers=api_headers()).status_code)

    assert first == 503
    assert statuses[-1] == 200


def test_a_bad_outage_request_is_a_400_problem(start_sandbox: SandboxFactory) -> None:
    sandbox = start_sandbox(rate_limit="off")
    url = f"{sandbox.base_url}/__sandbox/outage"
    bad = [
        httpx.post(url, json={"seconds": 0}),
        httpx.post(url, json={"seconds": -5}),
        httpx.post(url, json={"seconds": 86_401}),
        httpx.post(url, json={"seconds": "soon"}),
        httpx.post(url, json={"for": 10}),
        httpx.post(url, content=b"{not json"),
        httpx.post(url),
    ]

    assert [r.status_code for r in bad] == [400] * len(bad)
    assert all(r.headers["content-type"] == "application/problem+json" for r in bad)
    assert "seconds" in bad[0].json()["detail"]
    assert httpx.get(url).json() == {"active": False, "remaining_s": 0.0}
