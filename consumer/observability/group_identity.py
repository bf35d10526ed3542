"""Which consumer group generation this process is in, and as which member, for the logs.

Three replicas' logs merged by the platform are told apart by `replica`; within them,
`generation` says which rebalance a line belongs to: the group's generation id, which the
coordinator raises at every completed rebalance and which every member of that generation
shares. Lines of two replicas with the same generation were written under one assignment of
the partitions; a replica's lines before and after a rebalance carry different ones.

The source sets it in its rebalance callbacks, from what librdkafka knows of the group (see
`group_identity_of` in runtime/librdkafka.py for where the number comes from): a
cooperative rebalance ends with an assignment callback in every member, an empty one too,
so every generation this member takes part in is seen, and nothing is asked per log line.
Between callbacks a line carries the generation last completed: a rebalance under way shows
once it completes.

One group member per process (one KafkaSource): the holder is process-wide, so the log
formatter reads it without being handed the source. It is written by the poll thread and
read by whichever thread logs; the value is an immutable object swapped by one reference
assignment, which is atomic, so a reader sees the old identity or the new one, never half of
each, and needs no lock.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["GroupIdentity", "current", "update"]


@dataclass(frozen=True)
class GroupIdentity:
    generation: int | None
    """The group's generation id; None when librdkafka's answer could not be read."""
    member: str
    """The member id the coordinator gave this consumer, as `kafka-consumer-groups
    --describe --members` shows it."""


class _Holder:
    identity: GroupIdentity | None = None


_HOLDER = _Holder()


def current() -> GroupIdentity | None:
    """This process's identity in the group; None while it is in no generation (not joined
    yet, or gone)."""
    return _HOLDER.identity


def update(identity: GroupIdentity | None) -> None:
    _HOLDER.identity = identity
