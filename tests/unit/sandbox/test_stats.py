"""The sandbox's per-second timeline: when calls and 429s came, beside their totals."""

from __future__ import annotations

import httpx

from consumer.sandbox import SandboxSettings, create_app
from consumer.sandbox.stats import TIMELINE_SECONDS, Stats

PROFILE = "/api/v1/profiles/AAAAAA00A00A000A"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.25

    def __call__(self) -> float:
        return self.now


def test_timeline_counts_calls_and_429s_by_wall_clock_second() -> None:
    clock = Clock()
    stats = Stats(clock)
    stats.answered("r", 200)
    stats.rate_limited()
    stats.answered("r", 429)
    clock.now = 1_002.9
    stats.dropped("r")

    assert stats.timeline() == [
        {"second": 1_000, "calls": 2, "rate_limited": 1},
        {"second": 1_002, "calls": 1, "rate_limited": 0},
    ]


def test_timeline_keeps_its_last_seconds_and_is_cleared_with_the_counts() -> None:
    clock = Clock()
    stats = Stats(clock)
    for second in range(TIMELINE_SECONDS + 5):
        clock.now = float(second)
        stats.answered("r", 200)

    assert len(stats.timeline()) == TIMELINE_SECONDS
    assert stats.timeline()[0]["second"] == 5
    stats.clear()
    assert stats.timeline() == []


async def test_timeline_endpoint_shows_the_gateways_refusals() -> None:
    app = create_app(SandboxSettings(rate_limit="2/60s"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as http:
        for _ in range(5):
            await http.get(PROFILE, headers={"Ocp-Apim-Subscription-Key": "k"})
        timeline = (await http.get("/__sandbox/timeline")).json()

    assert sum(s["calls"] for s in timeline) == 5
    assert sum(s["rate_limited"] for s in timeline) == 3
