"""What the benchmark plots draw, as the benchmarks record it: per-second counts and latencies.

Kept apart from `bench.plots` so that a benchmark records its run without importing
matplotlib, and so that the plots are pure functions of these values (a test builds them by
hand). Times are epoch seconds, the sandbox's clock (`/__sandbox/timeline` counts each call
in the second the gateway admitted or refused it), so the plots line up with a benchmark's
own marks (a replica joined, another left).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import httpx


@dataclass(frozen=True)
class RateSeries:
    """One run against a rate-limited IO account, second by second."""

    name: str
    """The file's stem: `goodput` → goodput.png."""
    title: str
    calls: int
    period_s: int
    """The account's policy: at most `calls` accepted in any `period_s` seconds."""
    seconds: Mapping[int, tuple[int, int]]
    """Epoch second → (calls answered, of which 429), every route of the account."""
    submitted: Mapping[int, int]
    """Epoch second → messages IO accepted (201), a subset of the accepted calls."""
    marks: Sequence[tuple[float, str]] = ()
    """(epoch seconds, what): replicas joining or leaving."""


@dataclass(frozen=True)
class LatencySeries:
    """Per-message latencies of one run."""

    name: str
    """The file's stem."""
    title: str
    what: str
    """What is timed, e.g. `event → status record`."""
    samples: Sequence[tuple[float, float]]
    """(epoch seconds the message was done, its latency in ms)."""


def timeline(base_url: str) -> dict[int, tuple[int, int]]:
    """The sandbox's calls and 429s per second: epoch second → (calls, rate-limited)."""
    seconds = httpx.get(f"{base_url}/__sandbox/timeline", timeout=10).raise_for_status().json()
    return {int(s["second"]): (int(s["calls"]), int(s["rate_limited"])) for s in seconds}


def submitted(base_url: str) -> dict[int, int]:
    """Messages the sandbox accepted, per epoch second of their arrival."""
    messages = httpx.get(f"{base_url}/__sandbox/messages", timeout=30).raise_for_status().json()
    return dict(Counter(epoch_second(m["received_at"]) for m in messages))


def epoch_second(timestamp: str) -> int:
    """`2026-11-23T19:17:00.123Z` (IO's form) → its whole epoch second."""
    return int(dt.datetime.fromisoformat(timestamp).timestamp())
