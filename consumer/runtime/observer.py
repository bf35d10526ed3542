"""Hooks through which the runtime reports what it does; metrics plug in here.

Like `consumer.io.observer`, for the Kafka side: the loop calls them and never depends on
Prometheus. Every hook is cheap and never raises into the loop.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from consumer.report import StatusRecord
from consumer.runtime.commit import TopicPartition
from consumer.track import TrackingRecord


class RuntimeObserver(Protocol):
    def handled(
        self,
        topic: str,
        event_type: str | None,
        statuses: Sequence[StatusRecord],
        dead_letter_stage: str | None,
    ) -> None:
        """An input record is done: its status records (and dead letter) acknowledged.

        `event_type` is None when the record could not be decoded.
        """

    def delivery_postponed(self, service: str) -> None:
        """IO could not take a delivery; it is tried again after a pause."""

    def double_send_window(self, seconds: float) -> None:
        """From IO's 201 to the status record's acknowledgement, for one message."""

    def loop_state(self, in_flight: int, assigned: int, paused: int) -> None:
        """Records held, partitions owned and partitions paused, as of now."""

    def broker_probed(self, lag: Mapping[TopicPartition, int] | None) -> None:
        """The periodic broker probe: the lag of each owned partition, None if it failed."""

    def tracked(self, record: TrackingRecord, statuses: Sequence[StatusRecord]) -> None:
        """One check of a message ended: the lifecycle records it published (acknowledged)."""

    def under_tracking(self, messages: int) -> None:
        """Messages this replica follows now (held until due, or being checked)."""


class NoRuntimeObserver:
    def handled(
        self,
        topic: str,
        event_type: str | None,
        statuses: Sequence[StatusRecord],
        dead_letter_stage: str | None,
    ) -> None:
        pass

    def delivery_postponed(self, service: str) -> None:
        pass

    def double_send_window(self, seconds: float) -> None:
        pass

    def loop_state(self, in_flight: int, assigned: int, paused: int) -> None:
        pass

    def broker_probed(self, lag: Mapping[TopicPartition, int] | None) -> None:
        pass

    def tracked(self, record: TrackingRecord, statuses: Sequence[StatusRecord]) -> None:
        pass

    def under_tracking(self, messages: int) -> None:
        pass
