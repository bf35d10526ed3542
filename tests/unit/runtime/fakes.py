"""In-memory stand-ins for the relay's source, sink, status topic and processor.

They let the relay's own rebalance, drain and shutdown code run for real, with every wait in
the test's hands: no Kafka, no HTTP. Each fake keeps a record of what it was asked to do, so
a test asserts on counts, payloads and commits rather than on the clock.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass

from consumer.events import InputRecord
from consumer.io import IoService, ProfileCache, Sending
from consumer.report import DeadLetter, ErrorInfo, InputPosition, Outcome, StatusRecord
from consumer.runtime.commit import TopicPartition
from consumer.runtime.deliver import Compose, Deliverer, Delivery
from consumer.runtime.sink import Written
from consumer.runtime.source import AssignHook, Offsets, RevokeHook
from consumer.track import TrackingRecord

TOPIC = "events"
RULE = "r"


def record(partition: int, offset: int, key: bytes | None = None) -> InputRecord:
    """An input record; without a key it gets a lane of its own (the relay keys by offset)."""
    return InputRecord(topic=TOPIC, partition=partition, offset=offset, key=key, value=b"{}")


def status_of(
    partition: int,
    offset: int,
    outcome: Outcome,
    error: ErrorInfo | None = None,
    rule: str = RULE,
) -> StatusRecord:
    return StatusRecord(
        event_id=f"e-{partition}-{offset}",
        event_type="t",
        rule=rule,
        service="s",
        outcome=outcome,
        error=error,
        input=InputPosition(topic=TOPIC, partition=partition, offset=offset),
    )


class MemoryStatusLog:
    """The status topic as a list of raw records per partition; the sink appends to it, so a
    next owner's ledger reads back exactly what this one wrote."""

    def __init__(self) -> None:
        self.partitions: dict[int, list[bytes]] = defaultdict(list)

    def append(self, partition: int, raw: bytes) -> int:
        self.partitions[partition].append(raw)
        return len(self.partitions[partition]) - 1

    def span(self, partition: int) -> tuple[int, int]:
        return 0, len(self.partitions[partition])

    def read(self, partition: int, begin: int, end: int) -> Iterator[tuple[int, bytes]]:
        records = self.partitions[partition]
        for offset in range(max(0, begin), min(end, len(records))):
            yield offset, records[offset]


@dataclass(frozen=True, slots=True)
class Report:
    """One acknowledged `Sink.report` call."""

    position: tuple[TopicPartition, int]
    statuses: tuple[StatusRecord, ...]
    dead: DeadLetter | None


class FakeSink:
    """Writes status records into a MemoryStatusLog and tells `written` where, in order.

    `ack_delay_s` holds each acknowledgement back a little: a caller that does not wait for
    it would find its report missing."""

    def __init__(
        self, log: MemoryStatusLog, *, status_partitions: int = 1, ack_delay_s: float = 0.0
    ) -> None:
        self.log = log
        self.ack_delay_s = ack_delay_s
        self.reports: list[Report] = []
        self.closed_with: float | None = None
        self._status_partitions = status_partitions

    def status_partition_of(self, partition: TopicPartition) -> int:
        return partition[1] % self._status_partitions

    async def start(self) -> None:
        pass

    async def close(self, timeout_s: float = 30.0) -> None:
        self.closed_with = timeout_s

    def report(
        self,
        position: tuple[TopicPartition, int],
        statuses: Sequence[StatusRecord],
        dead: DeadLetter | None,
        tracking: Sequence[TrackingRecord] = (),
        written: Written | None = None,
    ) -> asyncio.Future[None]:
        return asyncio.ensure_future(self._report(position, statuses, dead, written))

    async def _report(
        self,
        position: tuple[TopicPartition, int],
        statuses: Sequence[StatusRecord],
        dead: DeadLetter | None,
        written: Written | None,
    ) -> None:
        if self.ack_delay_s:
            await asyncio.sleep(self.ack_delay_s)
        target = self.status_partition_of(position[0])
        for status in statuses:
            status_offset = self.log.append(target, status.to_bytes())
            if written is not None:
                written(target, status_offset)
        self.reports.append(Report(position, tuple(statuses), dead))

    async def report_lifecycle(
        self, statuses: Sequence[StatusRecord], key: bytes, successor: TrackingRecord | None
    ) -> None:
        raise AssertionError("no message tracking in these tests")

    def statuses_of(self, partition: int, offset: int) -> list[StatusRecord]:
        """Every acknowledged status record of one input record."""
        at = ((TOPIC, partition), offset)
        return [s for r in self.reports if r.position == at for s in r.statuses]


@dataclass(frozen=True, slots=True)
class Commit:
    offsets: dict[TopicPartition, tuple[int, str | None]]
    via: str  # "loop" (commit_async), "revoke" or "close" (the rebalance callback's commit)


@dataclass(frozen=True, slots=True)
class Revoke:
    partitions: tuple[TopicPartition, ...]
    lost: bool
    offsets: dict[TopicPartition, tuple[int, str | None]]
    via: str  # "rebalance" (from the test) or "close"


class FakeSource:
    """A partitioned log in memory behind the Source protocol.

    As with librdkafka, rebalance callbacks run inside `poll`: the loop is suspended in its
    poll while `on_revoke` drains, and the revoke's answer is committed before the partitions
    go. A rewind seeks; records deleted by retention make the position jump to the log start
    (auto.offset.reset=earliest); `close()` revokes what is still assigned."""

    def __init__(self, on_assign: AssignHook, on_revoke: RevokeHook) -> None:
        self._on_assign = on_assign
        self._on_revoke = on_revoke
        self._logs: dict[TopicPartition, list[InputRecord]] = defaultdict(list)
        self._start: dict[TopicPartition, int] = defaultdict(int)
        self._position: dict[TopicPartition, int] = {}
        self._assigned: set[TopicPartition] = set()
        self._paused: set[TopicPartition] = set()
        self._stale: dict[TopicPartition, int] = defaultdict(int)
        self._ops: list[Callable[[], Awaitable[None]]] = []
        self._news = asyncio.Event()
        self._changed_at = time.monotonic()
        self.commits: list[Commit] = []
        self.committed: dict[TopicPartition, tuple[int, str | None]] = {}
        self.revokes: list[Revoke] = []
        self.rewinds: list[InputRecord] = []
        self.batches: list[list[InputRecord]] = []  # every poll that handed records over
        self.revoking = asyncio.Event()  # set when a revoke reaches the relay's hook
        self.closed = False

    def feed(self, *records: InputRecord) -> None:
        for item in records:
            self._logs[(item.topic, item.partition)].append(item)
        self._news.set()

    def delete_before(self, partition: TopicPartition, offset: int) -> None:
        """Retention: the records below `offset` are gone."""
        self._logs[partition] = [r for r in self._logs[partition] if r.offset >= offset]
        self._start[partition] = offset

    def hand_over_while_paused(self, partition: TopicPartition, count: int = 1) -> None:
        """The next `count` records of a paused partition come all the same (fetched before
        the pause), as the relay expects librdkafka to do at times."""
        self._stale[partition] += count
        self._news.set()

    async def assign(self, committed: dict[TopicPartition, tuple[int, str | None]]) -> None:
        """A rebalance gives these partitions, at their committed offsets (negative: none)."""

        async def now() -> None:
            self._on_assign(dict(committed))
            for partition, (offset, _metadata) in committed.items():
                self._position[partition] = offset if offset >= 0 else self._start[partition]
            self._assigned |= set(committed)
            self._changed_at = time.monotonic()

        await self._in_poll(now)

    async def revoke(self, partitions: Sequence[TopicPartition], *, lost: bool = False) -> Offsets:
        """A rebalance takes these partitions; returns what the relay said to commit."""
        found: dict[TopicPartition, tuple[int, str | None]] = {}

        async def now() -> None:
            found.update(await self._give_up(list(partitions), lost=lost, via="rebalance"))

        await self._in_poll(now)
        return found

    def commits_of(self, partition: TopicPartition) -> list[tuple[int, str | None]]:
        return [c.offsets[partition] for c in self.commits if partition in c.offsets]

    @property
    def assigned(self) -> frozenset[TopicPartition]:
        return frozenset(self._assigned)

    @property
    def paused(self) -> frozenset[TopicPartition]:
        return frozenset(self._paused)

    @property
    def assignment_changed_at(self) -> float:
        return self._changed_at

    def takes(self, partition: TopicPartition) -> bool:
        return partition in self._assigned and partition not in self._paused

    async def start(self) -> None:
        pass

    async def poll(self, timeout_s: float, max_records: int = 500) -> list[InputRecord]:
        limit = max(1, max_records)  # as KafkaSource: polling goes on even when full
        ran = await self._run_ops()
        records = self._fetch(limit)
        if not records and not ran:
            self._news.clear()
            with suppress(TimeoutError):
                async with asyncio.timeout(timeout_s):
                    await self._news.wait()
            await self._run_ops()
            records = self._fetch(limit)
        if records:
            self.batches.append(records)
        return records

    def take_ends(self) -> set[TopicPartition]:
        return set()

    async def pause_only(self, partitions: set[TopicPartition]) -> None:
        self._paused = partitions & self._assigned

    def end_offset(self, partition: TopicPartition) -> int | None:
        return None

    async def rewind(self, record: InputRecord) -> None:
        self.rewinds.append(record)
        self._position[(record.topic, record.partition)] = record.offset

    async def commit_async(self, offsets: Offsets) -> bool:
        self._commit(offsets, "loop")
        return True

    async def watermarks(
        self, partitions: set[TopicPartition], timeout_s: float = 2.0
    ) -> dict[TopicPartition, tuple[int, int]] | None:
        ends = {p: max([r.offset + 1 for r in self._logs[p]], default=0) for p in partitions}
        return {p: (self._start[p], max(self._start[p], ends[p])) for p in partitions}

    async def close(self) -> None:
        """As Consumer.close(): revokes what is assigned, and commits what the revoke says."""
        self.closed = True
        await self._give_up(sorted(self._assigned), lost=False, via="close")

    async def _in_poll(self, op: Callable[[], Awaitable[None]]) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        async def run() -> None:
            try:
                await op()
                if not done.done():
                    done.set_result(None)
            except Exception as exc:  # handed to the test that asked
                if not done.done():
                    done.set_exception(exc)
            finally:  # the loop itself was cancelled
                if not done.done():
                    done.cancel()

        self._ops.append(run)
        self._news.set()
        await done

    async def _run_ops(self) -> bool:
        ran = False
        while self._ops:
            ran = True
            await self._ops.pop(0)()
        return ran

    async def _give_up(
        self, partitions: list[TopicPartition], *, lost: bool, via: str
    ) -> dict[TopicPartition, tuple[int, str | None]]:
        self.revoking.set()
        try:
            offsets = dict(await self._on_revoke(partitions, lost))
            self.revokes.append(Revoke(tuple(partitions), lost, offsets, via))
            if not lost:
                self._commit(offsets, "close" if via == "close" else "revoke")
            return offsets
        finally:
            self._assigned.difference_update(partitions)
            self._paused.difference_update(partitions)
            self._changed_at = time.monotonic()

    def _commit(self, offsets: Offsets, via: str) -> None:
        if offsets:
            self.commits.append(Commit(dict(offsets), via))
            self.committed.update(offsets)

    def _fetch(self, limit: int) -> list[InputRecord]:
        out: list[InputRecord] = []
        for partition in sorted(self._assigned):
            room = limit - len(out)
            if partition in self._paused:
                room = min(room, self._stale[partition])
            if room <= 0:
                continue
            # Out of range (deleted by retention): reset to the earliest record kept.
            position = max(self._position[partition], self._start[partition])
            batch = [r for r in self._logs[partition] if r.offset >= position][:room]
            if batch:
                self._position[partition] = batch[-1].offset + 1
                if partition in self._paused:
                    self._stale[partition] -= len(batch)
            out.extend(batch)
        return out


class Accepting(Deliverer):
    """IO accepts every message, in the default language; the services asked are noted."""

    def __init__(self) -> None:
        services: Mapping[str, IoService] = {}
        super().__init__(None, services, ProfileCache())  # type: ignore[arg-type]
        self.asked: list[str] = []

    async def deliver(
        self,
        service_name: str,
        fiscal_code: str,
        compose: Compose,
        sending: Sending | None = None,
    ) -> Delivery:
        compose(())
        self.asked.append(service_name)
        return Delivery(Outcome.SUBMITTED, 2, "01JMESSAGE000000000000000", 201)
