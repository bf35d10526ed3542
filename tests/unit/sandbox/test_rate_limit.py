"""The sliding-log limiter: exact per window, per account, refusals not counted."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from consumer.sandbox.rate_limit import SlidingWindowLimiter
from consumer.sandbox.settings import RateLimitPolicy


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def limiter(calls: int, period_s: int, clock: FakeClock) -> SlidingWindowLimiter:
    return SlidingWindowLimiter(RateLimitPolicy(calls=calls, period_s=period_s), clock)


def test_accepts_n_calls_then_refuses_with_remaining_counting_down() -> None:
    clock = FakeClock()
    limit = limiter(3, 5, clock)

    verdicts = [limit.admit("a") for _ in range(4)]

    assert [v.accepted for v in verdicts] == [True, True, True, False]
    assert [v.remaining for v in verdicts] == [2, 1, 0, 0]
    assert verdicts[3].retry_after_s == 5


def test_retry_after_rounds_up_to_when_the_oldest_call_leaves_the_window() -> None:
    clock = FakeClock()
    limit = limiter(2, 5, clock)
    limit.admit("a")
    clock.now += 1.2
    limit.admit("a")
    clock.now += 0.5

    refused = limit.admit("a")

    assert not refused.accepted
    assert refused.retry_after_s == 4  # the first call leaves at +5.0, now is +1.7: 3.3 → 4
    clock.now += refused.retry_after_s
    assert limit.admit("a").accepted


def test_retry_after_is_at_least_one_second() -> None:
    clock = FakeClock()
    limit = limiter(1, 1, clock)
    limit.admit("a")
    clock.now += 0.999

    assert limit.admit("a").retry_after_s == 1


def test_window_slides_instead_of_resetting() -> None:
    clock = FakeClock()
    limit = limiter(2, 10, clock)
    assert limit.admit("a").accepted  # t=0
    clock.now += 9
    assert limit.admit("a").accepted  # t=9
    clock.now += 2  # t=11: the t=0 call left, the t=9 one is still in
    assert limit.admit("a").accepted
    assert not limit.admit("a").accepted


def test_a_call_exactly_one_period_later_is_in_a_new_window() -> None:
    clock = FakeClock()
    limit = limiter(1, 5, clock)
    assert limit.admit("a").accepted
    clock.now += 5
    assert limit.admit("a").accepted


def test_refused_calls_do_not_count() -> None:
    clock = FakeClock()
    limit = limiter(2, 5, clock)
    limit.admit("a")
    limit.admit("a")
    for step in range(1, 50):  # refused calls all through the window
        clock.now = 1000.0 + step / 10
        assert not limit.admit("a").accepted
    clock.now = 1000.0 + 5  # five seconds after the two accepted calls

    assert limit.admit("a").accepted
    assert limit.admit("a").accepted


def test_accounts_have_separate_budgets() -> None:
    clock = FakeClock()
    limit = limiter(1, 5, clock)

    assert limit.admit("a").accepted
    assert limit.admit("b").accepted
    assert not limit.admit("a").accepted


@settings(max_examples=200, deadline=None)
@given(
    calls=st.integers(1, 5),
    period_s=st.integers(1, 4),
    gaps=st.lists(st.floats(0, 2, allow_nan=False), min_size=1, max_size=80),
)
def test_no_window_ever_holds_more_than_n_accepted_calls(
    calls: int, period_s: int, gaps: list[float]
) -> None:
    clock = FakeClock()
    limit = limiter(calls, period_s, clock)
    accepted: list[float] = []
    for gap in gaps:
        clock.now += gap
        if limit.admit("a").accepted:
            accepted.append(clock.now)

    for i, start in enumerate(accepted):
        in_window = [t for t in accepted[i:] if t < start + period_s]
        assert len(in_window) <= calls
