"""The ledger: what was already reported for the events io-relay is about to read again.

After a crash, a restart or a rebalance, a partition is read again from its committed offset,
and some events past it may already have been handled, even sent to IO. Their status records
say so. Each commit stores, in its metadata, where in the status partition the records of the
events past the committed offset begin; on assignment the ledger reads from there to the end,
and the processor then reports DUPLICATE for a (event, rule) already SUBMITTED instead of
sending it again.

What the ledger cannot see is a message IO accepted whose status record never reached Kafka:
that window, between IO's 201 and the record's acknowledgement, is measured and documented.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException
from confluent_kafka import TopicPartition as KafkaPartition
from pydantic import ValidationError

from consumer.errors import TransientError
from consumer.report import Stage, StatusRecord
from consumer.runtime.commit import TopicPartition

log = logging.getLogger(__name__)

METADATA_KEY = "status_offset"
_READ_TIMEOUT_S = 30.0

Position = tuple[str, int, int]


def commit_metadata(status_offset: int | None) -> str | None:
    return None if status_offset is None else json.dumps({METADATA_KEY: status_offset})


def status_offset_in(metadata: str | None) -> int | None:
    if not metadata:
        return None
    try:
        value = json.loads(metadata).get(METADATA_KEY)
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, int) and value >= 0 else None


@dataclass
class Ledger:
    """Prior status records by input position, for the partitions this consumer holds."""

    _prior: dict[Position, dict[str | None, StatusRecord]] = field(default_factory=dict)
    _replay_start: dict[TopicPartition, int] = field(default_factory=dict)

    def prior(self, topic: str, partition: int, offset: int) -> Mapping[str | None, StatusRecord]:
        """Records already written for this input record, by rule (None: no rule)."""
        return self._prior.get((topic, partition, offset), {})

    def replay_start(self, partition: TopicPartition) -> int | None:
        """The status offset read at assignment: kept in commits until a newer one exists."""
        return self._replay_start.get(partition)

    def forget(self, partitions: Iterable[TopicPartition]) -> None:
        gone = set(partitions)
        self._prior = {pos: rec for pos, rec in self._prior.items() if pos[:2] not in gone}
        for partition in gone:
            self._replay_start.pop(partition, None)

    def load(
        self,
        client_config: Mapping[str, Any],
        status_topic: str,
        starts: Mapping[TopicPartition, tuple[int, int | None]],
    ) -> int:
        """Read back the status records of `starts` (input partition → (its status partition,
        the status offset in its commit metadata)); return how many records were read."""
        by_status_partition: dict[int, int] = {}
        for partition, (status_partition, start) in starts.items():
            if start is not None:
                self._replay_start[partition] = start
            begin = OFFSET_BEGINNING if start is None else start
            known = by_status_partition.get(status_partition)
            by_status_partition[status_partition] = (
                begin if known is None else min(known, begin)  # OFFSET_BEGINNING is negative
            )
        wanted = set(starts)
        read = 0
        for status_partition, begin in by_status_partition.items():
            for record in _read_to_end(client_config, status_topic, status_partition, begin):
                position = (record.input.topic, record.input.partition, record.input.offset)
                # Lifecycle records (PROCESSED, READ...) follow a SUBMITTED one: not the
                # event's delivery, which is what the ledger remembers.
                if position[:2] in wanted and record.stage is Stage.DELIVERY:
                    self._prior.setdefault(position, {})[record.rule] = record
                read += 1
        return read


def _read_to_end(
    client_config: Mapping[str, Any], topic: str, partition: int, begin: int
) -> Iterable[StatusRecord]:
    reader = Consumer(
        {
            **client_config,
            "group.id": "io-relay-ledger",  # never subscribes or commits: only assign()
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    try:
        _, high = reader.get_watermark_offsets(
            KafkaPartition(topic, partition), timeout=_READ_TIMEOUT_S
        )
        if high <= 0 or (begin >= 0 and begin >= high):
            return
        reader.assign([KafkaPartition(topic, partition, begin)])
        while True:
            message = reader.poll(_READ_TIMEOUT_S)
            if message is None:
                raise TransientError(f"ledger: no answer reading {topic}[{partition}]")
            error = message.error()
            if error is not None:
                if error.code() == error._PARTITION_EOF:
                    return
                raise TransientError(f"ledger: cannot read {topic}[{partition}]: {error}")
            try:
                yield StatusRecord.model_validate_json(message.value() or b"")
            except ValidationError:
                log.warning("ledger: unreadable status record", extra={"offset": message.offset()})
            offset = message.offset()
            if offset is not None and offset + 1 >= high:
                return
    except KafkaException as exc:
        raise TransientError(f"ledger: cannot read {topic}[{partition}]: {exc}") from None
    finally:
        reader.close()
