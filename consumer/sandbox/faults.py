"""Which calls get an injected fault, drawn from one seeded generator so runs can be replayed."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from consumer.sandbox.settings import FaultKind


@dataclass(frozen=True, slots=True)
class Fault:
    """One injected fault. `after_effect`: for a drop, whether the call took effect first.

    A submit that is recorded and then dropped is the ambiguous case a client must handle
    (did IO get it?), so half the drops happen after the handler ran.
    """

    kind: FaultKind
    after_effect: bool = False


class FaultInjector:
    def __init__(self, rate: float, kinds: Sequence[FaultKind], seed: int | None = None) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"fault rate must be within 0..1, not {rate}")
        if not kinds:
            raise ValueError("at least one fault kind is needed")
        self._rate = rate
        self._kinds = tuple(kinds)
        self._random = random.Random(seed)

    def draw(self) -> Fault | None:
        """The fault for the next call, or None for a normal answer."""
        if self._rate == 0.0 or self._random.random() >= self._rate:
            return None
        kind = self._random.choice(self._kinds)
        after_effect = kind is FaultKind.DROP and self._random.random() < 0.5
        return Fault(kind, after_effect)
