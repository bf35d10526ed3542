"""The tracking topic's side of the loop: records in, due checks out.

The same group reads the tracking topic beside the input topics, so tracking spreads over
the replicas and moves with rebalances like everything else. A record read goes into the
book (consumer.track.book) until its check is due; its offset stays in flight meanwhile, so
the committed offset never passes a message still under tracking. Checks run on the loop's
scheduler, at most `max_checks` at once: a backlog of due checks never fills the room that
input events need.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from pydantic import ValidationError

from consumer.errors import DecodeError
from consumer.events import InputRecord
from consumer.io import BudgetShare
from consumer.runtime.commit import TopicPartition
from consumer.track import Held, Step, Tracker, TrackingBook, TrackingRecord
from consumer.track.book import Position


class TrackingFeed:
    def __init__(
        self,
        topic: str,
        tracker: Tracker,
        book: TrackingBook,
        max_checks: int,
        *,
        partitions: int = 1,
        shares: Sequence[BudgetShare] = (),
    ) -> None:
        """`partitions`: the tracking topic's; `shares`: the budget shares the checks draw on,
        scaled to the part of the partitions this replica owns."""
        self.topic = topic
        self.book = book
        self._tracker = tracker
        self._max_checks = max_checks
        self._partitions = max(1, partitions)
        self._shares = list(shares)
        self._owned = -1
        self._checking: set[Position] = set()

    @property
    def under_tracking(self) -> int:
        """Messages held in the book or being checked."""
        return len(self.book) + len(self._checking)

    def owns(self, partition: TopicPartition) -> bool:
        return partition[0] == self.topic

    def owning(self, owned: int) -> None:
        """This replica owns `owned` tracking partitions now: its share of the checks' budget
        follows, so that all replicas together keep to one share."""
        if owned == self._owned:
            return
        self._owned = owned
        for share in self._shares:
            share.scale(owned / self._partitions)

    def read(self, record: InputRecord) -> list[Position]:
        """Put the record in the book; return the positions that are done with it (the record
        it replaces, a tombstone). Raise DecodeError for a record that is no tracking record."""
        partition = (record.topic, record.partition)
        self.book.reached(partition, record.offset)  # even one for the DLQ ends a restore
        if record.key is None:
            raise DecodeError("a tracking record needs its message id as key")
        parsed = None
        if record.value is not None:
            try:
                parsed = TrackingRecord.model_validate_json(record.value)
            except ValidationError as exc:
                raise DecodeError(f"not a tracking record: {exc.error_count()} problems") from None
        key = record.key.decode(errors="replace")
        return self.book.hold(partition, record.offset, key, parsed, record.value)

    def due(self, now: datetime | None = None) -> list[Held]:
        """The checks to start now, within the room left for checks."""
        room = self._max_checks - len(self._checking)
        if room <= 0:
            return []
        taken = self.book.pop_due(now or datetime.now(UTC), room)
        self._checking.update((held.partition, held.offset) for held in taken)
        return taken

    async def check(self, record: TrackingRecord) -> Step:
        return await self._tracker.check(record)

    def finished(self, held: Held) -> None:
        """The check ended, or was abandoned."""
        self._checking.discard((held.partition, held.offset))

    def forget(self, partitions: set[TopicPartition]) -> None:
        """The partitions left: their held records and checks are the next owner's."""
        self.book.forget(partitions)
        self._checking = {key for key in self._checking if key[0] not in partitions}

    def nothing_due_within(self, seconds: float) -> bool:
        due = self.book.next_due()
        return not self._checking and (
            due is None or (due - datetime.now(UTC)).total_seconds() > seconds
        )
