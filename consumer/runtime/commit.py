"""Commit: which offsets are safe to commit, and when to do it.

An offset is safe once its record and every record before it in the partition are done
(their status and DLQ records acknowledged). Kafka's committed offset is the next one to read.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

TopicPartition = tuple[str, int]


@dataclass
class _PartitionProgress:
    next_to_commit: int
    highest_seen: int
    in_flight: set[int] = field(default_factory=set)
    # The same offsets as a heap, done ones dropped lazily: the oldest in O(log n).
    oldest: list[int] = field(default_factory=list)


class OffsetTracker:
    """Records of a partition arrive in offset order, so an offset never handed over is no
    record at all (a transaction marker, a compacted one): only records in flight hold the
    commit back."""

    def __init__(self) -> None:
        self._partitions: dict[TopicPartition, _PartitionProgress] = {}
        self._dirty: set[TopicPartition] = set()

    def started(self, partition: TopicPartition, offset: int) -> None:
        """Note a record taken from the partition; the first one fixes where commits start."""
        progress = self._partitions.setdefault(partition, _PartitionProgress(offset, offset))
        progress.highest_seen = max(progress.highest_seen, offset)
        progress.in_flight.add(offset)
        heapq.heappush(progress.oldest, offset)

    def done(self, partition: TopicPartition, offset: int) -> None:
        progress = self._partitions.get(partition)
        if progress is None:  # revoked meanwhile: its work is someone else's now
            return
        progress.in_flight.discard(offset)
        oldest = progress.oldest
        while oldest and oldest[0] not in progress.in_flight:
            heapq.heappop(oldest)
        position = oldest[0] if oldest else progress.highest_seen + 1
        if position != progress.next_to_commit:
            progress.next_to_commit = position
            self._dirty.add(partition)

    def committable(self) -> dict[TopicPartition, int]:
        """Partitions that advanced since the last call, with the offset to commit."""
        ready = {tp: self._partitions[tp].next_to_commit for tp in self._dirty}
        self._dirty.clear()
        return ready

    def uncommitted(self, partitions: Iterable[TopicPartition]) -> None:
        """A commit of these failed: offer them again at the next `committable`."""
        self._dirty.update(p for p in partitions if p in self._partitions)

    def in_flight(self, partition: TopicPartition) -> int:
        """Records taken from the partition and not done yet."""
        progress = self._partitions.get(partition)
        return len(progress.in_flight) if progress else 0

    def position(self, partition: TopicPartition) -> int | None:
        """The offset to commit for the partition now, whether or not it moved."""
        progress = self._partitions.get(partition)
        return progress.next_to_commit if progress else None

    def forget(self, partition: TopicPartition) -> None:
        self._partitions.pop(partition, None)
        self._dirty.discard(partition)


class CommitPolicy:
    """Commit at most every `interval_s`; `force` on revoke and shutdown."""

    def __init__(self, interval_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._interval_s = interval_s
        self._clock = clock
        self._last = clock()

    def due(self) -> bool:
        return self._clock() - self._last >= self._interval_s

    def committed(self) -> None:
        self._last = self._clock()
