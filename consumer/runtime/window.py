"""The double-send window: from IO's 201 to the status record's acknowledgement."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass
class WindowStats:
    """Seconds from IO's 201 to the status record's acknowledgement (the last 10,000): a
    crash inside this window is the one way a message can be sent twice. Logged at
    shutdown; the histogram io_relay_double_send_window_seconds has it live."""

    count: int = 0
    recent: deque[float] = field(default_factory=lambda: deque(maxlen=10_000))

    def add(self, seconds: float) -> None:
        self.count += 1
        self.recent.append(max(0.0, seconds))

    def summary(self) -> dict[str, float]:
        ordered = sorted(self.recent)

        def at(share: float) -> float:
            return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000, 2)

        return {"count": self.count, "p50_ms": at(0.5), "p99_ms": at(0.99), "max_ms": at(1.0)}
