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

Tracking partitions do not count: their records wait on purpose, and the checks they hold
are the work that may wait (they run within the replica's pace, at most their budget share).
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


class BacklogReader(Protocol):
    async def read(
        self, topics: Collection[str], timeout_s: float
    ) -> dict[TopicPartition, int] | None: ...


def weight(lag: int) -> int:
    return max(IDLE, min(lag, FULL_LAG))


def share_of(mine: Collection[TopicPartition], backlog: Mapping[TopicPartition, int]) -> float:
    """The part of the group's work that `mine` holds: 0 to 1."""
    total = sum(weight(lag) for lag in backlog.values())
    if total <= 0:
        return 0.0
    return sum(weight(lag) for partition, lag in backlog.items() if partition in mine) / total


class GroupDemand:
    def __init__(
        self,
        assigned: Callable[[], Collection[TopicPartition]],
        backlog: BacklogReader,
        topics: Collection[str],
        on_share: Callable[[float], None],
        interval_s: float = INTERVAL_S,
    ) -> None:
        """`assigned`: the partitions this replica owns now; `on_share`: told this replica's
        share after each reading (see consumer.runtime.backlog)."""
        self._assigned = assigned
        self._backlog = backlog
        self._topics = tuple(topics)
        self._on_share = on_share
        self._interval_s = interval_s
        self._answering = True
        self._last: Mapping[TopicPartition, int] | None = None
        self._told_for: frozenset[TopicPartition] = frozenset()

    async def run(self) -> None:
        """Read until cancelled; between readings, a change of assignment is told at once
        with the last reading (a partition gone must not wait a second to lower the share).
        No answer keeps the last share."""
        read_at = -math.inf
        while True:
            now = time.monotonic()
            try:
                if now - read_at >= self._interval_s or self._last is None:
                    if await self.read() is not None:
                        read_at = now
                elif frozenset(self._assigned()) != self._told_for:
                    self._tell(self._last)
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
        share = share_of(mine, backlog)
        self._told_for = mine
        self._on_share(share)
        return share
