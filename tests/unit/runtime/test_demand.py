"""GroupDemand: each replica's share of the group's work, from the same reading of the lag."""

from __future__ import annotations

import asyncio
from collections.abc import Collection

import pytest

from consumer.runtime.commit import TopicPartition
from consumer.runtime.demand import FULL_LAG, IDLE, GroupDemand, share_of

TOPIC = "events"


def partitions(*numbers: int) -> frozenset[TopicPartition]:
    return frozenset((TOPIC, n) for n in numbers)


MEMBERS = [partitions(0, 1), partitions(2, 3), partitions(4, 5)]


@pytest.mark.parametrize(
    "lags",
    [
        [0, 0, 0, 0, 0, 0],
        [5_000, 4_000, 3_000, 3_500, 9_000, 100],
        [5_000, 0, 0, 0, 0, 0],
        [7, 0, 42, 0, 99, 1],
    ],
    ids=["idle", "all busy", "one partition busy", "trickles"],
)
def test_the_members_shares_of_one_reading_add_up_to_one(lags: list[int]) -> None:
    backlog = {(TOPIC, n): lag for n, lag in enumerate(lags)}
    assert sum(share_of(mine, backlog) for mine in MEMBERS) == pytest.approx(1.0)


def test_members_far_behind_each_share_the_account_by_partitions() -> None:
    backlog = {(TOPIC, n): lag for n, lag in enumerate([900, 5_000, 600, 2_500, 10_000, 700])}
    assert [share_of(mine, backlog) for mine in MEMBERS] == pytest.approx([1 / 3] * 3)


def test_below_the_cap_a_members_share_is_its_part_of_the_events_waiting() -> None:
    """However a member spreads its work over its partitions: one drained, one not."""
    backlog = {(TOPIC, n): lag for n, lag in enumerate([350, 0, 200, 150, 100, 200])}
    assert [share_of(mine, backlog) for mine in MEMBERS] == pytest.approx(
        [351 / 1001, 350 / 1001, 300 / 1001]
    )


def test_a_partition_with_a_few_events_beside_a_large_backlog_still_gets_through() -> None:
    backlog = {(TOPIC, n): lag for n, lag in enumerate([5_000, 0, 20, 0, 0, 0])}
    assert share_of(partitions(2, 3), backlog) == pytest.approx(21 / (FULL_LAG + 24))


def test_the_member_that_holds_the_only_backlog_gets_nearly_all_the_account() -> None:
    backlog = {(TOPIC, n): lag for n, lag in enumerate([5_000, 0, 0, 0, 0, 0])}
    busy, idle, _ = (share_of(mine, backlog) for mine in MEMBERS)
    assert busy == pytest.approx((FULL_LAG + IDLE) / (FULL_LAG + 5 * IDLE))
    assert busy > 0.99
    assert idle == pytest.approx(2 * IDLE / (FULL_LAG + 5 * IDLE))


def test_a_partition_no_member_owns_keeps_its_part_from_everybody() -> None:
    """Mid-rebalance: what nobody owns is nobody's to spend."""
    backlog = {(TOPIC, n): FULL_LAG for n in range(6)}
    owned = [partitions(0, 1), partitions(2, 3)]  # 4 and 5 between owners
    assert sum(share_of(mine, backlog) for mine in owned) == pytest.approx(2 / 3)


class Backlog:
    def __init__(self, readings: list[dict[TopicPartition, int] | None]) -> None:
        self.readings = readings
        self.asked: list[tuple[str, ...]] = []

    async def read(
        self, topics: Collection[str], timeout_s: float
    ) -> dict[TopicPartition, int] | None:
        self.asked.append(tuple(topics))
        return self.readings.pop(0)


async def test_a_reading_tells_the_share_and_a_silent_broker_keeps_the_last() -> None:
    shares: list[float] = []
    backlog = Backlog([{(TOPIC, 0): 500, (TOPIC, 1): 500}, None])
    demand = GroupDemand(lambda: partitions(0), backlog, [TOPIC], shares.append)

    assert await demand.read() == pytest.approx(0.5)
    assert await demand.read() is None

    assert shares == pytest.approx([0.5])
    assert backlog.asked == [(TOPIC,), (TOPIC,)]


async def test_no_share_is_told_before_the_replica_owns_a_partition() -> None:
    shares: list[float] = []
    owned: frozenset[TopicPartition] = frozenset()
    backlog = Backlog([{(TOPIC, 0): 0}])
    demand = GroupDemand(lambda: owned, backlog, [TOPIC], shares.append, interval_s=60)
    running = asyncio.create_task(demand.run())
    try:
        await asyncio.sleep(0.05)
        assert (shares, backlog.asked) == ([], [])
        owned = partitions(0)
        await asyncio.sleep(0.3)  # looked for every 0.1 s until the first share
        assert shares == [1.0]
    finally:
        running.cancel()


async def test_a_partition_revoked_between_readings_lowers_the_share_at_once() -> None:
    shares: list[float] = []
    owned = partitions(0, 1)
    backlog = Backlog([{(TOPIC, n): FULL_LAG for n in range(4)}])
    demand = GroupDemand(lambda: owned, backlog, [TOPIC], shares.append, interval_s=60)
    running = asyncio.create_task(demand.run())
    try:
        await asyncio.sleep(0.05)
        assert shares == [0.5]
        owned = partitions(0)  # revoked: no new reading for a minute

        await asyncio.sleep(0.3)

        assert shares == [0.5, 0.25]
        assert len(backlog.asked) == 1
    finally:
        running.cancel()


def test_tracking_partitions_weigh_as_idle_whatever_their_lag() -> None:
    """Their records wait on purpose; a replica owning only those keeps a trickle."""
    backlog = {(TOPIC, 0): 5_000, ("tracking", 0): 40_000, ("tracking", 1): 40_000}
    only_tracking = frozenset({("tracking", 0), ("tracking", 1)})
    share = share_of(only_tracking, backlog, lagless=["tracking"])
    assert share == pytest.approx(2 * IDLE / (FULL_LAG + 2 * IDLE))
    assert share > 0


async def test_losing_every_partition_tells_a_share_of_nothing() -> None:
    shares: list[float] = []
    owned = partitions(0)
    backlog = Backlog([{(TOPIC, 0): 100, (TOPIC, 1): 100}])
    demand = GroupDemand(lambda: owned, backlog, [TOPIC], shares.append, interval_s=60)
    running = asyncio.create_task(demand.run())
    try:
        await asyncio.sleep(0.05)
        owned = frozenset()
        await asyncio.sleep(0.3)
        assert shares == [0.5, 0.0]
    finally:
        running.cancel()


async def test_readings_missed_in_a_row_fall_back_to_the_partitions_count() -> None:
    shares: list[float] = []
    backlog = Backlog([{(TOPIC, n): lag for n, lag in enumerate([500, 0, 0, 0])}, *[None] * 9])
    demand = GroupDemand(lambda: partitions(0), backlog, [TOPIC], shares.append, interval_s=0.05)
    running = asyncio.create_task(demand.run())
    try:
        await asyncio.sleep(0.8)
    finally:
        running.cancel()
    assert shares == pytest.approx([500 / 503, 0.25])
