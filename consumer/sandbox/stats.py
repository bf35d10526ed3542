"""Counts of what the sandbox answered, for tests and demos to assert on."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from consumer.sandbox.settings import FaultKind


class Stats:
    def __init__(self) -> None:
        self._answers: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self._faults: Counter[str] = Counter()
        self._rate_limited = 0

    def answered(self, route: str, status: int) -> None:
        self._answers[route][str(status)] += 1

    def dropped(self, route: str) -> None:
        self._answers[route]["dropped"] += 1

    def rate_limited(self) -> None:
        self._rate_limited += 1

    def fault(self, kind: FaultKind) -> None:
        self._faults[kind.value] += 1

    def snapshot(self) -> dict[str, Any]:
        """`{"requests": {route: {status: n}}, "rate_limited": n, "faults": {kind: n}}`."""
        return {
            "requests": {route: dict(counts) for route, counts in self._answers.items()},
            "rate_limited": self._rate_limited,
            "faults": dict(self._faults),
        }

    def clear(self) -> None:
        self._answers.clear()
        self._faults.clear()
        self._rate_limited = 0
