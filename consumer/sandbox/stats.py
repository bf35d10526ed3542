"""Counts of what the sandbox answered, for tests and demos to assert on."""

from __future__ import annotations

import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from typing import Any, Literal

from consumer.sandbox.settings import FaultKind

ContentCall = Literal["details", "attachments"]
TIMELINE_SECONDS = 3_600
"""Seconds the timeline keeps (those with calls): a sandbox left running stays small."""


class Stats:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        """`clock`: wall-clock seconds, so a benchmark can line the timeline up with its own
        events (a replica started, another stopped)."""
        self._answers: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self._faults: Counter[str] = Counter()
        self._rate_limited = 0
        self._content_calls: Counter[str] = Counter()
        self._clock = clock
        self._seconds: deque[list[int]] = deque(maxlen=TIMELINE_SECONDS)
        """[second, calls, rate_limited] per second with calls, oldest first."""

    def answered(self, route: str, status: int) -> None:
        self._answers[route][str(status)] += 1
        self._now()[1] += 1

    def dropped(self, route: str) -> None:
        self._answers[route]["dropped"] += 1
        self._now()[1] += 1

    def rate_limited(self) -> None:
        self._rate_limited += 1
        self._now()[2] += 1

    def fault(self, kind: FaultKind) -> None:
        self._faults[kind.value] += 1

    def content_call(self, kind: ContentCall) -> None:
        """A call the open replay made to a sender's content server (not an IO call)."""
        self._content_calls[kind] += 1

    def content_calls(self) -> dict[str, int]:
        """`{"details": n, "attachments": n}`: kept out of `snapshot`, whose shape is IO's."""
        calls = self._content_calls
        return {"details": calls["details"], "attachments": calls["attachments"]}

    def snapshot(self) -> dict[str, Any]:
        """`{"requests": {route: {status: n}}, "rate_limited": n, "faults": {kind: n}}`."""
        return {
            "requests": {route: dict(counts) for route, counts in self._answers.items()},
            "rate_limited": self._rate_limited,
            "faults": dict(self._faults),
        }

    def timeline(self) -> list[dict[str, int]]:
        """`[{"second": epoch s, "calls": n, "rate_limited": n}]`, one per second with calls
        (the last `TIMELINE_SECONDS` of them): when the 429s came, not only how many."""
        return [
            {"second": second, "calls": calls, "rate_limited": refused}
            for second, calls, refused in self._seconds
        ]

    def clear(self) -> None:
        self._answers.clear()
        self._faults.clear()
        self._content_calls.clear()
        self._rate_limited = 0
        self._seconds.clear()

    def _now(self) -> list[int]:
        """This second's counts, started if it is new."""
        second = int(self._clock())
        if not self._seconds or self._seconds[-1][0] != second:
            self._seconds.append([second, 0, 0])
        return self._seconds[-1]
