"""Demand: this replica's share of the group's waiting work, read from Kafka every second.

The replicas of a group spend one IO account. Each takes the part of it that its partitions'
share of the work calls for (consumer.io.pace), and that needs no server of its own: every
replica reads the same figures from the brokers, each input partition's lag (its high
watermark minus the group's committed offset), so the shares they compute add up to one.

A partition weighs its lag in events, at least `IDLE` and at most `FULL_LAG`. Below the cap
the shares are in proportion to the events each replica has waiting, however it spreads them
over its partitions, and they stay put while the group drains: each replica drains at its
share's pace, so each one's part of what is left does not change. Past the cap a partition is
as busy as any: a partition with a few events waiting, beside another with a large backlog,
still gets its events through (20 waiting beside 5,000: about 4 % of the account). One
with nothing waiting keeps a trickle. Three replicas of two partitions each, one partition
5,000 behind and the rest idle: the busy one's replica has (500 + 1) / (500 + 5) = 99 % of
the account.

Tracking partitions weigh IDLE, whatever their lag: their records wait on purpose, and the
checks they hold are work that may wait (within the replica's pace, at most their budget
share); a replica that owns only tracking partitions still keeps a trickle for its checks.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Collection, Mapping
from typing import Protocol

from consumer.runtime.commit import TopicPartition

log = logging.getLogger(__name__)

INTERVAL_S = 1.0
READ_TIMEOUT_S = 2.0
FULL_LAG = 500
IDLE = 1
_LOOK_EVERY_S = 0.1
MISSED = 3


class BacklogReader(Protocol):
    async def read(
        self, topics: Collection[str], timeout_s: float
    ) -> dict[TopicPartition, int] | None: ...


def weight(lag: int) -> int:
    return max(IDLE, min(lag, FULL_LAG))


def share_of(
    mine: Collection[TopicPartition],
    backlog: Mapping[TopicPartition, int],
    lagless: Collection[str] = (),
) -> float:
    """The part of the group's work that `mine` holds: 0 to 1. Partitions of `lagless`
    topics (tracking) weigh IDLE, whatever their lag: a replica that owns only those still
    has their checks to make."""

    def weighed(partition: TopicPartition, lag: int) -> int:
        return IDLE if partition[0] in lagless else weight(lag)

    total = sum(weighed(partition, lag) for partition, lag in backlog.items())
    if total <= 0:
        return 0.0
    return sum(weighed(p, lag) for p, lag in backlog.items() if p in mine) / total


def share_by_count(
    mine: Collection[TopicPartition], partitions: Collection[TopicPartition]
) -> float:
    """What `mine` is of `partitions` by number: the shares of all members add up to one."""
    return len(set(mine) & set(partitions)) / len(partitions) if partitions else 0.0


class GroupDemand:
    def __init__(
        self,
        assigned: Callable[[], Collection[TopicPartition]],
        backlog: BacklogReader,
        topics: Collection[str],
        on_share: Callable[[float], None],
        *,
        interval_s: float = INTERVAL_S,
        lagless: Collection[str] = (),
    ) -> None:
        """`assigned`: the partitions this replica owns now; `on_share`: told this replica's
        share after each reading (see consumer.runtime.backlog)."""
        self._assigned = assigned
        self._backlog = backlog
        self._topics = (*topics, *lagless)
        self._lagless = frozenset(lagless)
        self._on_share = on_share
        self._interval_s = interval_s
        self._answering = True
        self._last: Mapping[TopicPartition, int] | None = None
        self._told_for: frozenset[TopicPartition] = frozenset()
        self._told = 0.0

    async def run(self) -> None:
        """Read until cancelled; between readings, a change of assignment is told at once
        with the last reading (a partition gone must not wait a second to lower the share).
        After MISSED readings without an answer, the share falls to the partitions' count
        share if that is lower: the others' shares may have risen meanwhile."""
        read_at = -math.inf
        missed = 0
        while True:
            now = time.monotonic()
            try:
                if self._last is not None and frozenset(self._assigned()) != self._told_for:
                    self._tell(self._last)
                if now - read_at >= self._interval_s or self._last is None:
                    if await self.read() is not None:
                        read_at, missed = now, 0
                    elif self._last is not None and self._assigned():
                        missed += 1
                        read_at = now
                        if missed == MISSED:
                            self._fall_back(self._last)
            except Exception:  # the pace keeps its last share; the next turn tries again
                log.exception("reading the group's work failed")
                read_at = now
            await asyncio.sleep(_LOOK_EVERY_S)

    async def read(self) -> float | None:
        if not self._assigned():
            return None  # not in the group yet: a share of nothing would only have to rise
        backlog = await self._backlog.read(self._topics, READ_TIMEOUT_S)
        if backlog is None:
            if self._answering:
                log.warning("no reading of the group's work: the IO pace keeps its last share")
            self._answering = False
            return None
        if not self._answering:
            log.info("the group's work is read again")
        self._answering = True
        self._last = backlog
        return self._tell(backlog)

    def _tell(self, backlog: Mapping[TopicPartition, int]) -> float:
        mine = frozenset(self._assigned())
        share = share_of(mine, backlog, self._lagless)
        self._told_for = mine
        self._told = share
        self._on_share(share)
        return share

    def _fall_back(self, backlog: Mapping[TopicPartition, int]) -> None:
        share = min(self._told, share_by_count(self._assigned(), backlog))
        log.warning(
            "no reading of the group's work for a while: the IO pace falls back to this "
            "replica's share of the partitions",
            extra={"share": round(share, 3)},
        )
        self._told = share
        self._on_share(share)
