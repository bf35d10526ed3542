"""The ledger: what was already reported for the events io-relay is about to read again.

After a crash, a restart or a rebalance, a partition is read again from its committed offset,
and some events past it may already have been handled, even sent to IO. Their status records
say so. On assignment the ledger reads them back, and the processor then reports DUPLICATE
for a (event, rule) already SUBMITTED instead of sending it again.

The replay point. Each commit stores, in its metadata, where those records begin: for every
status partition, the lowest status offset written for any input offset not committed yet.
The ledger keeps that bookkeeping, and only the ledger: it notes each status record when
Kafka acknowledges it, and it counts the records it read back at assignment too. An event
read again and still in flight has written nothing new, but its earlier records are the ones
a later owner must find; they hold the replay point down until the event is committed past.

The metadata names its status partitions: after status partitions are added, the mapping
`input partition mod status partitions` points elsewhere, and the records written before
the change are still read from the partition that holds them.

Without metadata (a new group, an offset reset by hand, an older version's commit) the
ledger reads the last `lookback` records of the status partition, no more: memory stays
bounded, and the log says how far back it looked.

What the ledger cannot see is a message IO accepted whose status record never reached Kafka:
that window, between IO's 201 and the record's acknowledgement, is measured and documented.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol, TypeGuard

from pydantic import BaseModel, ConfigDict, ValidationError

from consumer.report import Stage, StatusRecord
from consumer.runtime.commit import TopicPartition

log = logging.getLogger(__name__)

METADATA_KEY = "status"
_OLD_METADATA_KEY = "status_offset"  # before 0.x: one offset in the derived partition
DEFAULT_LOOKBACK = 50_000

Position = tuple[str, int, int]
ReplayPoint = dict[int, int]
"""Status partition → the first status offset a reader must read there."""


class StatusLog(Protocol):
    """The status topic as the ledger reads it (Kafka in production, a list in tests)."""

    def span(self, partition: int) -> tuple[int, int]:
        """The partition's first offset and the offset after its last record."""

    def read(self, partition: int, begin: int, end: int) -> Iterator[tuple[int, bytes]]:
        """(offset, value) of each record from `begin` up to `end`, exclusive."""


@dataclass(frozen=True, slots=True)
class Assignment:
    """What the ledger needs of an input partition just assigned."""

    committed: int
    """Its committed offset (negative: none)."""
    replay: ReplayPoint | None
    """From the commit's metadata; None when the commit had none."""
    status_partition: int
    """Where its status records go now."""


def commit_metadata(replay: ReplayPoint) -> str | None:
    if not replay:
        return None
    return json.dumps({METADATA_KEY: {str(p): o for p, o in sorted(replay.items())}})


def replay_point_in(metadata: str | None, status_partition: int) -> ReplayPoint | None:
    """The replay point a commit stored; None for none or for garbage (the ledger then looks
    back instead). `status_partition`: where an old commit's bare offset points."""
    try:
        parsed = json.loads(metadata) if metadata else None
    except ValueError:
        return None
    if not isinstance(parsed, dict):
        return None
    old = parsed.get(_OLD_METADATA_KEY)
    if _is_offset(old):
        return {status_partition: old}
    named = parsed.get(METADATA_KEY)
    if not isinstance(named, dict) or not named:
        return None
    valid = all(isinstance(p, str) and p.isdigit() and _is_offset(o) for p, o in named.items())
    return {int(p): o for p, o in named.items()} if valid else None


def _is_offset(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


class _Header(BaseModel):
    """The part of a status record the ledger sorts by: parsed once, the rest kept as bytes."""

    model_config = ConfigDict(extra="ignore")

    class _Input(BaseModel):
        model_config = ConfigDict(extra="ignore")
        topic: str
        partition: int
        offset: int

    rule: str | None = None
    stage: Stage = Stage.DELIVERY
    input: _Input


@dataclass
class Ledger:
    """Prior status records and the replay point, for the input partitions this consumer holds."""

    lookback: int = DEFAULT_LOOKBACK
    # Prior DELIVERY records of uncommitted input offsets, as the bytes read (about a third of
    # a parsed record's memory); parsed when the event comes again.
    _prior: dict[Position, dict[str | None, bytes]] = field(default_factory=dict)
    # input partition → input offset → status partition → the lowest offset of its records
    _written: dict[TopicPartition, dict[int, dict[int, int]]] = field(default_factory=dict)
    _status_partition: dict[TopicPartition, int] = field(default_factory=dict)
    # status partition → the offset past the last record known written there
    _next: dict[int, int] = field(default_factory=dict)

    def prior(self, topic: str, partition: int, offset: int) -> Mapping[str | None, StatusRecord]:
        """Records already written for this input record, by rule (None: no rule)."""
        found = self._prior.get((topic, partition, offset))
        if not found:
            return {}
        return {rule: StatusRecord.model_validate_json(raw) for rule, raw in found.items()}

    def written(
        self, partition: TopicPartition, offset: int, status_partition: int, status_offset: int
    ) -> None:
        """A status record of input record (`partition`, `offset`) was acknowledged.

        Called in the order Kafka wrote the records (the producer's delivery callbacks), so
        a record not acknowledged yet always lies past every one noted here."""
        self._note(partition, offset, status_partition, status_offset)
        self._next[status_partition] = max(self._next.get(status_partition, 0), status_offset + 1)

    def replay_point(self, partition: TopicPartition, committed: int) -> ReplayPoint:
        """Where a reader must start, in each status partition, to find every record of the
        partition's events at or past `committed`; what is below it is forgotten."""
        written = self._written.get(partition, {})
        for offset in [o for o in written if o < committed]:
            del written[offset]
        stale = [p for p in self._prior if p[:2] == partition and p[2] < committed]
        for position in stale:
            del self._prior[position]
        point: ReplayPoint = {}
        for places in written.values():
            for status_partition, status_offset in places.items():
                point[status_partition] = min(
                    point.get(status_partition, status_offset), status_offset
                )
        current = self._status_partition.get(partition)
        if current is not None and current not in point and current in self._next:
            point[current] = self._next[current]
        return point

    def forget(self, partitions: Iterable[TopicPartition]) -> None:
        gone = set(partitions)
        self._prior = {pos: rec for pos, rec in self._prior.items() if pos[:2] not in gone}
        for partition in gone:
            self._written.pop(partition, None)
            self._status_partition.pop(partition, None)

    def load(self, status_log: StatusLog, assignments: Mapping[TopicPartition, Assignment]) -> int:
        """Read back the records of these newly assigned partitions; return how many were read.

        Raises TransientError when the status topic cannot be read (the caller retries)."""
        spans: dict[int, tuple[int, int]] = {}
        begins: dict[int, int] = {}
        wanted: dict[int, dict[TopicPartition, int]] = {}
        for partition, assignment in assignments.items():
            self.forget([partition])
            current = assignment.status_partition
            self._status_partition[partition] = current
            replay = assignment.replay or {current: -1}
            if current not in replay:
                # New records go there, and the next commit must name it even before the
                # first one is acknowledged: from its end now.
                spans[current] = spans.get(current) or status_log.span(current)
                self._next[current] = max(self._next.get(current, 0), spans[current][1])
            for status_partition, start in replay.items():
                if status_partition not in spans:
                    spans[status_partition] = status_log.span(status_partition)
                low, high = spans[status_partition]
                self._next[status_partition] = max(self._next.get(status_partition, 0), high)
                if start >= 0:
                    begin = start
                    if start < low:
                        log.warning(
                            "ledger: status records past the replay point were deleted by "
                            "retention; events whose records are gone may be sent again",
                            extra={
                                "status_partition": status_partition,
                                "replay_from": start,
                                "first_kept": low,
                            },
                        )
                else:
                    begin = max(low, high - self.lookback)
                    if begin > low:
                        log.warning(
                            "ledger: no replay point in the commit; looking back a bounded "
                            "stretch (runtime.ledger_lookback)",
                            extra={
                                "partition": list(partition),
                                "status_partition": status_partition,
                                "records": high - begin,
                            },
                        )
                begins[status_partition] = min(begins.get(status_partition, begin), begin)
                wanted.setdefault(status_partition, {})[partition] = assignment.committed
        read = 0
        for status_partition, begin in begins.items():
            for status_offset, raw in status_log.read(
                status_partition, max(begin, spans[status_partition][0]), spans[status_partition][1]
            ):
                read += 1
                self._keep(status_partition, status_offset, raw, wanted[status_partition])
        return read

    def _keep(
        self,
        status_partition: int,
        status_offset: int,
        raw: bytes,
        wanted: Mapping[TopicPartition, int],
    ) -> None:
        try:
            header = _Header.model_validate_json(raw)
        except ValidationError:
            log.warning("ledger: unreadable status record", extra={"offset": status_offset})
            return
        partition = (header.input.topic, header.input.partition)
        committed = wanted.get(partition)
        # Lifecycle records (PROCESSED, READ...) follow a SUBMITTED one: not the event's
        # delivery, which is what the ledger remembers. Committed past: never read again.
        if committed is None or header.stage is not Stage.DELIVERY:
            return
        if header.input.offset < committed:
            return
        position = (*partition, header.input.offset)
        self._prior.setdefault(position, {})[header.rule] = raw
        self._note(partition, header.input.offset, status_partition, status_offset)

    def _note(
        self, partition: TopicPartition, offset: int, status_partition: int, status_offset: int
    ) -> None:
        places = self._written.setdefault(partition, {}).setdefault(offset, {})
        places[status_partition] = min(places.get(status_partition, status_offset), status_offset)
