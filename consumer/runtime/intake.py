"""Intake: which fetched records are new to this assignment.

librdkafka may hand a record over more than once: after a pause it fetches again from the
position it had, and after a rewind (the loop could not take a record, and asked for it
again) the rest of the batch it came in is still in hand. Each offset is taken once per
assignment. After a rewind to X, the rest of that batch is dropped, and the first record at
or past X from a later poll is taken: retention may have deleted X while the partition
waited, and the consumer's reset then jumped past it (a seek discards what librdkafka
fetched before it, so a later poll starts where the seek said).
"""

from __future__ import annotations

import logging

from consumer.events import InputRecord
from consumer.runtime.commit import TopicPartition

log = logging.getLogger(__name__)


class Intake:
    def __init__(self) -> None:
        # The next offset each partition should hand over: older ones were taken before.
        self._expected: dict[TopicPartition, int] = {}
        self._rewound_to: dict[TopicPartition, int] = {}
        self._rewound_in_batch: set[TopicPartition] = set()

    def next_batch(self) -> None:
        """A new poll's records follow: what they hold for a rewound partition is past the seek."""
        self._rewound_in_batch.clear()

    def is_new(self, record: InputRecord) -> bool:
        """False for a record taken before, or fetched before a rewind (it comes again)."""
        partition = (record.topic, record.partition)
        if partition in self._rewound_in_batch:
            return False
        rewound_to = self._rewound_to.get(partition)
        if rewound_to is None:
            return record.offset >= self._expected.get(partition, record.offset)
        if record.offset < rewound_to:
            return False
        del self._rewound_to[partition]
        if record.offset > rewound_to:
            log.warning(
                "records gone while the partition was held (retention): reading on",
                extra={
                    "topic": record.topic,
                    "partition": record.partition,
                    "expected_offset": rewound_to,
                    "offset": record.offset,
                },
            )
        return True

    def taken(self, record: InputRecord) -> None:
        self._expected[(record.topic, record.partition)] = record.offset + 1

    def rewound(self, record: InputRecord) -> None:
        """The source was asked to hand this record over again."""
        partition = (record.topic, record.partition)
        self._rewound_to[partition] = record.offset
        self._rewound_in_batch.add(partition)

    def forget(self, partition: TopicPartition) -> None:
        self._expected.pop(partition, None)
        self._rewound_to.pop(partition, None)
        self._rewound_in_batch.discard(partition)
