"""Every Prometheus metric io-relay exports, in one place, on a registry of the caller's choice.

`Metrics` implements the IO client's and the runtime's observer hooks, so neither knows
Prometheus. Labels stay few-valued by construction: event types come from the registry
(anything undecodable is `undecoded`), rules and services from the loaded rules, endpoints
and retry reasons from closed lists. A fiscal code, an event id or a message id is never a
label. Series known up front are created at zero, so `rate()` works from the first scrape.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Iterable, Mapping, Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, get_args

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)

from consumer.io.observer import Endpoint, RetryReason
from consumer.report import DELIVERY_OUTCOMES, LIFECYCLE_OUTCOMES, Outcome, StatusRecord

if TYPE_CHECKING:  # the runtime wires metrics in: importing it here would be a cycle
    from consumer.runtime.commit import TopicPartition
    from consumer.track import TrackingRecord

NO_RULE = "none"
UNDECODED = "undecoded"
DLQ_STAGES = ("decode", "invalid", "render")

# IO answers in tens of milliseconds; its gateway can hold a call for seconds.
_IO_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_WAIT_SECONDS = (0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# The checks fall at 30 s, 2 min, 10 min, 1 h, then hourly: the buckets follow them.
_PROCESSED_SECONDS = (
    1.0,
    5.0,
    15.0,
    30.0,
    60.0,
    120.0,
    300.0,
    600.0,
    1800.0,
    3600.0,
    7200.0,
    86400.0,
)
_WINDOW_SECONDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)


def _package_version() -> str:
    try:
        return version("io-relay")
    except PackageNotFoundError:
        return "unknown"


class Metrics:
    """The metrics, and the hooks that feed them."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        self.events_consumed = Counter(
            "io_relay_events_consumed", "Input records handled.", ["topic", "type"], registry=r
        )
        self.outcomes = Counter(
            "io_relay_outcomes",
            "Status records published, by outcome.",
            ["rule", "service", "outcome"],
            registry=r,
        )
        self.io_calls = Counter(
            "io_relay_io_calls",
            "HTTP attempts to IO; status_code 'none' when no answer came.",
            ["endpoint", "status_code"],
            registry=r,
        )
        self.io_call_duration = Histogram(
            "io_relay_io_call_duration_seconds",
            "Duration of each HTTP attempt to IO.",
            ["endpoint"],
            buckets=_IO_SECONDS,
            registry=r,
        )
        self.io_retries = Counter(
            "io_relay_io_retries", "IO attempts retried.", ["endpoint", "reason"], registry=r
        )
        self.io_rate_limited = Counter(
            "io_relay_io_rate_limited", "Answers 429 from IO.", ["account"], registry=r
        )
        self.io_pace = Gauge(
            "io_relay_io_pace_calls",
            "Calls a window this replica allows itself on the account: its share of the group's "
            "work, within what IO allows (see consumer/io/pace.py).",
            ["account"],
            registry=r,
        )
        self.group_share = Gauge(
            "io_relay_group_share",
            "This replica's share of the group's waiting work, as last read (0 to 1).",
            registry=r,
        )
        self.limiter_wait = Histogram(
            "io_relay_limiter_wait_seconds",
            "Time a call waited for a slot in its account's rate window.",
            ["account"],
            buckets=_WAIT_SECONDS,
            registry=r,
        )
        self.deliveries_postponed = Counter(
            "io_relay_deliveries_postponed",
            "Deliveries put off because IO was unavailable.",
            ["service"],
            registry=r,
        )
        self.events_in_flight = Gauge(
            "io_relay_events_in_flight", "Input records held.", registry=r
        )
        self.partitions_assigned = Gauge(
            "io_relay_partitions_assigned", "Partitions this replica owns.", registry=r
        )
        self.partitions_paused = Gauge(
            "io_relay_partitions_paused", "Partitions paused by backpressure.", registry=r
        )
        self.consumer_lag = Gauge(
            "io_relay_consumer_lag",
            "High watermark minus the done prefix, per owned partition.",
            ["topic", "partition"],
            registry=r,
        )
        self.broker_reachable = Gauge(
            "io_relay_broker_reachable", "1 when the last broker probe answered.", registry=r
        )
        self.dlq_records = Counter(
            "io_relay_dlq_records", "Records sent to the DLQ.", ["topic", "stage"], registry=r
        )
        self.last_submit = Gauge(
            "io_relay_last_submit_timestamp_seconds",
            "Unix time of the last message IO accepted (0 until the first).",
            registry=r,
        )
        self.double_send_window_seconds = Histogram(
            "io_relay_double_send_window_seconds",
            "IO's 201 to the status record's acknowledgement: a crash inside doubles a message.",
            buckets=_WINDOW_SECONDS,
            registry=r,
        )
        self.lifecycle = Counter(
            "io_relay_lifecycle_records",
            "Lifecycle records published after SUBMITTED (PROCESSED, REJECTED, READ, PAID...).",
            ["rule", "service", "stage", "outcome"],
            registry=r,
        )
        self.submit_to_processed = Histogram(
            "io_relay_submit_to_processed_seconds",
            "From IO's 201 to the check that found the message PROCESSED.",
            ["service"],
            buckets=_PROCESSED_SECONDS,
            registry=r,
        )
        self.messages_tracked = Gauge(
            "io_relay_messages_tracked",
            "Messages this replica follows (waiting for their next check, or being checked).",
            registry=r,
        )
        self.build_info = Gauge(
            "io_relay_build_info", "Build.", ["version", "python_version"], registry=r
        )
        self.build_info.labels(_package_version(), platform.python_version()).set(1)
        self._lag_series: set[TopicPartition] = set()
        self._children: dict[tuple[int, tuple[str, ...]], Counter] = {}
        for endpoint in get_args(Endpoint):
            self.io_call_duration.labels(endpoint)
            for reason in get_args(RetryReason):
                self.io_retries.labels(endpoint, reason)

    def expect(
        self,
        *,
        topics: Iterable[str],
        event_types: Iterable[str],
        rules: Iterable[tuple[str, str]],
        accounts: Iterable[str],
    ) -> None:
        """Create at zero the series these known label values will have."""
        topics, event_types = list(topics), [*event_types, UNDECODED]
        for topic in topics:
            for event_type in event_types:
                self.events_consumed.labels(topic, event_type)
            for stage in DLQ_STAGES:
                self.dlq_records.labels(topic, stage)
        for outcome in (Outcome.SKIPPED, Outcome.INVALID):
            self.outcomes.labels(NO_RULE, NO_RULE, outcome.value)
        for rule, service in rules:
            self.deliveries_postponed.labels(service)
            self.submit_to_processed.labels(service)
            for outcome in DELIVERY_OUTCOMES:
                self.outcomes.labels(rule, service, outcome.value)
            for stage, outcome in LIFECYCLE_OUTCOMES:
                self.lifecycle.labels(rule, service, stage.value, outcome.value)
        for account in accounts:
            self.io_rate_limited.labels(account)
            self.limiter_wait.labels(account)

    # -- the IO client's hooks (consumer.io.observer.IoObserver) ---------------------------

    def call_finished(self, endpoint: Endpoint, status: int | None, seconds: float) -> None:
        self.io_calls.labels(endpoint, "none" if status is None else str(status)).inc()
        self.io_call_duration.labels(endpoint).observe(seconds)

    def retrying(self, endpoint: Endpoint, reason: RetryReason, wait_s: float) -> None:
        self.io_retries.labels(endpoint, reason).inc()

    def rate_limited(self, account: str, retry_after_s: float) -> None:
        self.io_rate_limited.labels(account).inc()

    def limiter_waited(self, account: str, seconds: float) -> None:
        self.limiter_wait.labels(account).observe(seconds)

    def paced(self, share: float, calls: Mapping[str, int]) -> None:
        """After a reading of the group's work: the share, and each account's pace."""
        self.group_share.set(share)
        for account, pace in calls.items():
            self.io_pace.labels(account).set(pace)

    # -- the runtime's hooks (consumer.runtime.observer.RuntimeObserver) -------------------

    def handled(
        self,
        topic: str,
        event_type: str | None,
        statuses: Sequence[StatusRecord],
        dead_letter_stage: str | None,
    ) -> None:
        self._child(self.events_consumed, topic, event_type or UNDECODED).inc()
        for status in statuses:
            rule, service = status.rule or NO_RULE, status.service or NO_RULE
            self._child(self.outcomes, rule, service, status.outcome.value).inc()
            if status.outcome is Outcome.SUBMITTED:
                self.last_submit.set(time.time())
        if dead_letter_stage is not None:
            self.dlq_records.labels(topic, dead_letter_stage).inc()

    def _child(self, metric: Counter, *labels: str) -> Counter:
        """`metric.labels(...)`, remembered: per event, the lookup was most of the cost."""
        key = (id(metric), labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def delivery_postponed(self, service: str) -> None:
        self.deliveries_postponed.labels(service).inc()

    def double_send_window(self, seconds: float) -> None:
        self.double_send_window_seconds.observe(seconds)

    def loop_state(self, in_flight: int, assigned: int, paused: int) -> None:
        self.events_in_flight.set(in_flight)
        self.partitions_assigned.set(assigned)
        self.partitions_paused.set(paused)
        if assigned == 0:  # no probe runs without partitions: forget their lag here
            self._forget_lag_except(set())

    def broker_probed(self, lag: Mapping[TopicPartition, int] | None) -> None:
        self.broker_reachable.set(0 if lag is None else 1)
        if lag is None:
            return  # the last known lag stays: a stale figure beats a gap at that moment
        self._forget_lag_except(set(lag))
        for (topic, partition), behind in lag.items():
            self.consumer_lag.labels(topic, str(partition)).set(behind)
        self._lag_series = set(lag)

    def tracked(self, record: TrackingRecord, statuses: Sequence[StatusRecord]) -> None:
        for status in statuses:
            rule, service = status.rule or NO_RULE, status.service or NO_RULE
            labels = (rule, service, status.stage.value, status.outcome.value)
            self._child(self.lifecycle, *labels).inc()
            if status.outcome is Outcome.PROCESSED:
                waited = (status.at - record.submitted_at).total_seconds()
                self.submit_to_processed.labels(service).observe(max(0.0, waited))

    def under_tracking(self, messages: int) -> None:
        self.messages_tracked.set(messages)

    def _forget_lag_except(self, owned: set[TopicPartition]) -> None:
        for gone in self._lag_series - owned:
            self.consumer_lag.remove(gone[0], str(gone[1]))
        self._lag_series &= owned
