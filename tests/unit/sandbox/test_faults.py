"""Fault selection: the share of calls, the kinds allowed, replayable with a seed."""

from __future__ import annotations

from collections import Counter

import pytest

from consumer.sandbox.faults import FaultInjector
from consumer.sandbox.settings import FaultKind


def test_rate_zero_never_faults() -> None:
    injector = FaultInjector(0.0, list(FaultKind), seed=1)
    assert all(injector.draw() is None for _ in range(1000))


def test_rate_one_always_faults_with_the_allowed_kinds_only() -> None:
    injector = FaultInjector(1.0, [FaultKind.ERROR_500, FaultKind.DROP], seed=1)
    kinds = Counter(fault.kind for fault in (injector.draw() for _ in range(1000)) if fault)

    assert sum(kinds.values()) == 1000
    assert set(kinds) == {FaultKind.ERROR_500, FaultKind.DROP}
    assert 400 < kinds[FaultKind.DROP] < 600


def test_rate_is_the_share_of_faulted_calls() -> None:
    injector = FaultInjector(0.2, [FaultKind.ERROR_503], seed=7)
    faulted = sum(injector.draw() is not None for _ in range(10_000))
    assert 1800 < faulted < 2200


def test_about_half_the_drops_happen_after_the_call_took_effect() -> None:
    injector = FaultInjector(1.0, [FaultKind.DROP], seed=3)
    after = [fault.after_effect for fault in (injector.draw() for _ in range(2000)) if fault]
    assert 900 < sum(after) < 1100


def test_only_drops_take_effect_first() -> None:
    injector = FaultInjector(1.0, [FaultKind.ERROR_500, FaultKind.SLOW], seed=3)
    assert not any(fault and fault.after_effect for fault in (injector.draw() for _ in range(500)))


def test_same_seed_same_faults() -> None:
    first = FaultInjector(0.5, list(FaultKind), seed=42)
    second = FaultInjector(0.5, list(FaultKind), seed=42)
    assert [first.draw() for _ in range(200)] == [second.draw() for _ in range(200)]


@pytest.mark.parametrize("rate", [-0.1, 1.5])
def test_rate_outside_zero_one_is_refused(rate: float) -> None:
    with pytest.raises(ValueError, match="fault rate"):
        FaultInjector(rate, [FaultKind.ERROR_500])


def test_no_kinds_is_refused() -> None:
    with pytest.raises(ValueError, match="fault kind"):
        FaultInjector(0.5, [])
