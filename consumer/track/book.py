"""The book: tracking records read back from the topic, held until their check is due.

A record read is held, not checked: most are due minutes or hours from now. Its offset stays
uncommitted while it is held, so a crash loses nothing; a later record of the same message
(the successor a check wrote, or a tombstone) replaces it, and the replaced offset is done.

After an assignment, a partition's records are not checked until it has been read up to
where it ended at that moment (or the consumer reports its end): until then an old record
may still be replaced by a later one, and checking it would publish a change twice. Their
records wait aside meanwhile, so the due queue stays cheap to pop.

`capacity` is where the runtime pauses reading the tracking partitions, not a hard bound:
what was fetched before the pause is still held, and a partition being restored is never
paused (its restore must end for its records to be checked).
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from consumer.track.record import TrackingRecord

TopicPartition = tuple[str, int]
Position = tuple[TopicPartition, int]
_Due = tuple[datetime, int, str]  # (due, offset, message id); stale once replaced
_UNKNOWN_END = 2**63 - 1  # no offset reaches it: only the consumer's end-of-partition does


@dataclass(frozen=True, slots=True)
class Held:
    """A record as read, kept as its bytes: parsed, one costs five times the memory (2.8 KB
    against 0.5 KB), and a book holds up to `tracking.max_held` of them."""

    partition: TopicPartition
    offset: int
    key: str
    raw: bytes = field(repr=False)  # it carries the citizen's fiscal code

    @property
    def record(self) -> TrackingRecord:
        return TrackingRecord.model_validate_json(self.raw)


class TrackingBook:
    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._held: dict[str, Held] = {}
        self._due: list[_Due] = []
        self._per_partition: Counter[TopicPartition] = Counter()
        self._restoring: dict[TopicPartition, int] = {}  # partition → last offset to read
        self._aside: dict[TopicPartition, list[_Due]] = {}  # due entries of those partitions

    def __len__(self) -> int:
        return len(self._held)

    @property
    def full(self) -> bool:
        return len(self._held) >= self._capacity

    @property
    def capacity(self) -> int:
        return self._capacity

    def held_in(self, partition: TopicPartition) -> int:
        return self._per_partition[partition]

    def restoring(self, partition: TopicPartition) -> bool:
        return partition in self._restoring

    def assigned(self, partition: TopicPartition, committed: int, end: int | None) -> None:
        """A partition arrives: read from `committed` (< 0: none) to `end` before checking
        (None: the end is not known; until the consumer reports it)."""
        if end is None or end > max(committed, 0):
            self._restoring[partition] = end - 1 if end is not None else _UNKNOWN_END
            self._aside.setdefault(partition, [])

    def reached(self, partition: TopicPartition, offset: int) -> None:
        """A record of the partition was read (held or not): the restore may be over."""
        last = self._restoring.get(partition)
        if last is not None and offset >= last:
            self._restored(partition)

    def caught_up(self, partition: TopicPartition) -> None:
        """The consumer reached the partition's end (whatever offsets compaction removed)."""
        if partition in self._restoring:
            self._restored(partition)

    def hold(
        self,
        partition: TopicPartition,
        offset: int,
        key: str,
        record: TrackingRecord | None,
        raw: bytes | None = None,
    ) -> list[Position]:
        """Hold `record` (None: a tombstone, the message is settled), as `raw` (its bytes as
        read, if at hand); return the positions this settles: the record it replaces (in
        whichever partition it was), and a tombstone's own."""
        settled: list[Position] = []
        earlier = self._held.pop(key, None)
        if earlier is not None:
            self._per_partition[earlier.partition] -= 1
            settled.append((earlier.partition, earlier.offset))
        if record is None:
            settled.append((partition, offset))
        else:
            self._held[key] = Held(partition, offset, key, raw or record.to_bytes())
            self._per_partition[partition] += 1
            entry = (record.next_check_at, offset, key)
            aside = self._aside.get(partition)
            if aside is not None:
                aside.append(entry)
            else:
                heapq.heappush(self._due, entry)
        self.reached(partition, offset)
        return settled

    def pop_due(self, now: datetime, limit: int) -> list[Held]:
        """Up to `limit` records whose check is due, earliest first, out of the book."""
        taken: list[Held] = []
        while self._due and len(taken) < limit and self._due[0][0] <= now:
            _, offset, key = heapq.heappop(self._due)
            held = self._held.get(key)
            if held is None or held.offset != offset:
                continue  # replaced or checked since
            del self._held[key]
            self._per_partition[held.partition] -= 1
            taken.append(held)
        return taken

    def next_due(self) -> datetime | None:
        """When the earliest checkable record is due (None: nothing to check)."""
        while self._due:
            due, offset, key = self._due[0]
            held = self._held.get(key)
            if held is not None and held.offset == offset:
                return due
            heapq.heappop(self._due)
        return None

    def forget(self, partitions: Iterable[TopicPartition]) -> None:
        """The partitions left: their records are the next owner's to read again."""
        gone = set(partitions)
        for key in [key for key, held in self._held.items() if held.partition in gone]:
            del self._held[key]
        for partition in gone:
            self._per_partition.pop(partition, None)
            self._restoring.pop(partition, None)
            self._aside.pop(partition, None)
        self._due = [entry for entry in self._due if entry[2] in self._held]
        heapq.heapify(self._due)

    def _restored(self, partition: TopicPartition) -> None:
        del self._restoring[partition]
        for entry in self._aside.pop(partition, []):
            heapq.heappush(self._due, entry)
