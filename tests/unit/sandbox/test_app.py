"""The gateway pipeline in process (httpx.ASGITransport): order of checks, admin, edges."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from consumer.sandbox import SandboxSettings, create_app
from consumer.sandbox._asgi import MAX_BODY_BYTES, ConnectionDropped

KEY = {"Ocp-Apim-Subscription-Key": "key-1"}
PROFILE = "/api/v1/profiles/AAAAAA00A00A000A"


@asynccontextmanager
async def client(**options: object) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(SandboxSettings(**options))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as http:
        yield http


def subscriptions_file(tmp_path: Path) -> Path:
    path = tmp_path / "profiles.yaml"
    path.write_text("subscriptions:\n  key-1: {service: tari, account: comune}\n")
    return path


async def test_admin_endpoints_need_no_key_even_with_a_key_list(tmp_path: Path) -> None:
    async with client(profiles=subscriptions_file(tmp_path)) as http:
        health = await http.get("/__sandbox/health")
        messages = await http.get("/__sandbox/messages")
        stats = await http.get("/__sandbox/stats")

    assert health.status_code == 200
    assert messages.json() == []
    assert stats.json() == {"requests": {}, "rate_limited": 0, "faults": {}}


async def test_admin_endpoints_skip_rate_limit_and_faults() -> None:
    async with client(rate_limit="1/60s", fault_rate=1.0, faults="500") as http:
        answers = [await http.get("/__sandbox/health") for _ in range(5)]
    assert [a.status_code for a in answers] == [200] * 5


async def test_unknown_operation_is_404_problem() -> None:
    async with client() as http:
        response = await http.get("/api/v1/services", headers=KEY)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "No operation at GET /api/v1/services"


async def test_wrong_method_is_405_with_allow() -> None:
    async with client() as http:
        response = await http.delete("/api/v1/messages", headers=KEY)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"


async def test_body_over_a_mebibyte_is_413() -> None:
    async with client() as http:
        response = await http.post(
            "/api/v1/messages", content=b"x" * (MAX_BODY_BYTES + 1), headers=KEY
        )
    assert response.status_code == 413


async def test_key_is_checked_before_the_rate_limit_and_faults() -> None:
    async with client(rate_limit="1/60s", fault_rate=1.0, faults="500") as http:
        answers = [await http.get(PROFILE) for _ in range(3)]
        stats = (await http.get("/__sandbox/stats")).json()
    assert [a.status_code for a in answers] == [401] * 3
    assert stats["faults"] == {}
    assert stats["requests"] == {"GET /api/v1/profiles/{fiscal_code}": {"401": 3}}


async def test_a_refused_key_has_no_rate_limit_header() -> None:
    async with client() as http:
        response = await http.get(PROFILE)
    assert "x-rate-limit-remaining" not in response.headers


async def test_without_rate_limit_there_is_no_remaining_header() -> None:
    async with client(rate_limit="off") as http:
        response = await http.get(PROFILE, headers=KEY)
    assert response.status_code == 404
    assert "x-rate-limit-remaining" not in response.headers


async def test_rate_limit_is_checked_before_faults() -> None:
    async with client(rate_limit="2/60s", fault_rate=1.0, faults="503") as http:
        answers = [await http.get(PROFILE, headers=KEY) for _ in range(4)]
        stats = (await http.get("/__sandbox/stats")).json()
    assert [a.status_code for a in answers] == [503, 503, 429, 429]
    assert [a.headers["x-rate-limit-remaining"] for a in answers] == ["1", "0", "0", "0"]
    assert stats["faults"] == {"503": 2}
    assert stats["rate_limited"] == 2


async def test_same_seed_gives_the_same_faults() -> None:
    async def statuses() -> list[int]:
        async with client(rate_limit="off", fault_rate=0.5, faults="500,503", seed=9) as http:
            return [(await http.get(PROFILE, headers=KEY)).status_code for _ in range(40)]

    first, second = await statuses(), await statuses()
    assert first == second
    assert set(first) == {404, 500, 503}


async def test_drop_outside_uvicorn_breaks_the_response() -> None:
    async with client(fault_rate=1.0, faults="drop") as http:
        with pytest.raises(ConnectionDropped):
            await http.get(PROFILE, headers=KEY)
