"""Wiring: settings in, a running relay out. The whole chain is assembled here, in one place."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import threading
from collections.abc import Mapping
from contextlib import suppress

from consumer.config import (
    IoSettings,
    ObservabilitySettings,
    Settings,
    TrackingSettings,
)
from consumer.content.premium import PremiumContent, RemoteStore
from consumer.errors import ConfigurationError
from consumer.events import EventTypes, FiscalCodePolicy
from consumer.io import (
    AccountLimiter,
    BudgetShare,
    IoClient,
    IoObserver,
    IoService,
    Pace,
    Pacer,
    ProfileCache,
    RatePolicy,
    RetryPolicy,
    Timeouts,
)
from consumer.observability import Metrics, OperationsServer, readiness_problems
from consumer.rules import Rule, RuleChecks, load_rules
from consumer.rules.content import ContentChecks
from consumer.runtime.backlog import GroupBacklog
from consumer.runtime.commit import CommitPolicy
from consumer.runtime.deliver import Deliverer, KeyGuard
from consumer.runtime.demand import INTERVAL_S as DEMAND_INTERVAL_S
from consumer.runtime.demand import GroupDemand
from consumer.runtime.process import EventProcessor
from consumer.runtime.relay import Relay, RelayLimits, StopWhen
from consumer.runtime.sink import ReportSink
from consumer.runtime.source import KafkaSource, helper_client_config
from consumer.runtime.status_log import KafkaStatusLog
from consumer.runtime.tracking import TrackingFeed
from consumer.track import Tracker, TrackingBook, TrackingSchedule

# The stop's bound is shutdown_timeout_s + 5 s: the watchdog fires a little before.
_WATCHDOG_SLACK_S = 4.5
EXIT_SHUTDOWN_OVERRAN = 3


def load_contracts(settings: Settings) -> tuple[EventTypes, list[Rule]]:
    """Event types and rules as configured; raises ConfigurationError listing every problem."""
    policy = FiscalCodePolicy(
        strict=settings.events.fiscal_codes.strict,
        allow=frozenset(settings.events.fiscal_codes.allow),
    )
    types = EventTypes.load(settings.events.schema_dirs, policy)
    content = ContentChecks(
        enabled=settings.content.enabled,
        sources=settings.content.document_sources,
        configured_services=frozenset(
            name for name, service in settings.io.services.items() if service.configuration_id
        ),
    )
    checks = RuleChecks(
        personal_data_fields=frozenset(settings.rule_checks.personal_data_fields),
        allowed_link_hosts=frozenset(settings.rules.allowed_link_hosts),
        content=content,
    )
    return types, load_rules(settings.rules.paths, types, checks)


def account_limiters(settings: IoSettings, *, in_group: bool = False) -> dict[str, AccountLimiter]:
    """One limiter per account, shared by all its services. `in_group`: each paced to this
    replica's share of the group's work (see consumer/io/pace.py), from the first reading."""
    limiters = {}
    for name, account in settings.accounts.items():
        policy = RatePolicy(account.calls, account.per_seconds, account.margin_s)
        pace = Pace(
            name,
            account.calls,
            policy.window_s,
            # Past IO's window, and past the time between two replicas' readings.
            raise_after_s=policy.window_s + 2 * DEMAND_INTERVAL_S,
            wait_for_share=in_group,
        )
        limiters[name] = AccountLimiter(policy, pace=pace)
    return limiters


def group_demand(
    settings: Settings,
    source: KafkaSource,
    backlog: GroupBacklog,
    limiters: Mapping[str, AccountLimiter],
    metrics: Metrics,
) -> GroupDemand:
    """Every second, this replica's share of the group's work, into each account's pace."""

    def paced(share: float) -> None:
        calls = {}
        for account, limiter in limiters.items():
            if limiter.pace is not None:
                limiter.pace.share(share)
            calls[account] = limiter.calls()
        metrics.paced(share, calls)

    return GroupDemand(
        lambda: source.assigned,
        backlog,
        settings.kafka.input_topics,
        paced,
        lagless=(settings.kafka.tracking_topic,) if settings.tracking.enabled else (),
    )


def io_services(
    settings: IoSettings,
    limiters: Mapping[str, Pacer] | None = None,
) -> dict[str, IoService]:
    """Each service with its key and the pacer its account's services share."""
    pacers = limiters if limiters is not None else account_limiters(settings)
    return {
        name: IoService(name, service.subscription_key(), service.account, pacers[service.account])
        for name, service in settings.services.items()
    }


def io_client(settings: IoSettings, observer: IoObserver | None = None) -> IoClient:
    retry = settings.retry
    return IoClient(
        settings.base_url,
        timeouts=Timeouts(
            settings.connect_timeout_s, settings.read_timeout_s, settings.total_timeout_s
        ),
        retry=RetryPolicy(
            retry.max_attempts, retry.max_elapsed_s, retry.initial_backoff_s, retry.max_backoff_s
        ),
        lost_submit=settings.lost_submit,
        observer=observer,
    )


def deliverer(
    settings: IoSettings, client: IoClient, limiters: dict[str, AccountLimiter] | None = None
) -> Deliverer:
    cache = ProfileCache(settings.profile_cache.ttl_s, settings.profile_cache.max_entries)
    guard = KeyGuard(settings.forbidden_before_fault)
    return Deliverer(client, io_services(settings, limiters), cache, guard)


def tracking_schedule(settings: TrackingSettings) -> TrackingSchedule:
    return TrackingSchedule(
        tuple(settings.checks_after_s),
        settings.then_every_s,
        settings.horizon_s,
        settings.premium_horizon_s,
        settings.check_after_due_s,
    )


def tracking_feed(
    settings: Settings, client: IoClient, limiters: dict[str, AccountLimiter], partitions: int
) -> TrackingFeed:
    """The tracking topic's reader and checker (`partitions`: the topic's)."""
    tracking = settings.tracking
    # One share per account, shared by its services like the account's own limiter: a share
    # per service would let an account of three services spend three shares on checks.
    shares = {
        account: BudgetShare(limiter, tracking.budget_share)
        for account, limiter in limiters.items()
    }
    services = io_services(settings.io, shares)
    tracker = Tracker(client, services, tracking_schedule(tracking))
    return TrackingFeed(
        settings.kafka.tracking_topic,
        tracker,
        TrackingBook(tracking.max_held),
        tracking.max_checks_in_flight,
        partitions=partitions,
        shares=list(shares.values()),
    )


def premium_content(settings: Settings, store: RemoteStore | None) -> PremiumContent | None:
    """What seals third_party_data, when content is configured (the rules need it then)."""
    if not settings.content.enabled:
        return None
    configuration_ids = {
        name: service.configuration_id
        for name, service in settings.io.services.items()
        if service.configuration_id is not None
    }
    return PremiumContent(
        settings.content.key_ring(),
        settings.content.document_sources,
        configuration_ids,
        store,
    )


def _check_services(settings: Settings, rules: list[Rule]) -> None:
    unknown = sorted({rule.service for rule in rules} - settings.io.services.keys())
    if unknown:
        raise ConfigurationError(
            f"rules use IO services not under io.services: {', '.join(unknown)}"
        )


async def run_relay(
    settings: Settings, until: StopWhen | None = None, metrics: Metrics | None = None
) -> None:
    """Run until SIGTERM/SIGINT (or idle, for a burst run); raise FatalError on a fatal fault."""
    types, rules = load_contracts(settings)
    _check_services(settings, rules)
    metrics = metrics or Metrics()
    metrics.expect(
        topics=settings.kafka.input_topics,
        event_types=types.known(),
        rules=[(rule.name, rule.service) for rule in rules],
        accounts=settings.io.accounts,
    )
    # Serving /healthz from the start: a broker slow to answer at start-up is "alive, not
    # ready" to the orchestrator, not a silent process.
    started: list[Relay] = []
    operations = _operations_server(settings.observability, metrics, started)
    client = io_client(settings.io, observer=metrics)
    watchdog = ShutdownWatchdog(settings.runtime.shutdown_timeout_s + _WATCHDOG_SLACK_S)
    try:
        if operations:
            await operations.start()
        limiters = account_limiters(settings.io, in_group=True)
        # Asks the broker for its topics: off the loop, which keeps serving probes.
        remote = any(rule.remote is not None for rule in rules)
        sink = await asyncio.to_thread(
            ReportSink, settings.kafka, tracking=settings.tracking.enabled, content=remote
        )
        tracking = (
            tracking_feed(settings, client, limiters, sink.tracking_partitions)
            if settings.tracking.enabled
            else None
        )
        relay = Relay(
            processor=EventProcessor(
                types,
                rules,
                deliverer(settings.io, client, limiters),
                observer=metrics,
                first_check_after_s=(
                    tracking_schedule(settings.tracking).first_check_after_s
                    if tracking is not None
                    else None
                ),
                premium=premium_content(settings, sink if remote else None),
            ),
            sink=sink,
            status_log=KafkaStatusLog(
                helper_client_config(settings.kafka), settings.kafka.status_topic
            ),
            commit_policy=CommitPolicy(settings.runtime.commit_interval_s),
            limits=_limits(settings),
            observer=metrics,
            probe_interval_s=settings.observability.lag_interval_s,
            tracking=tracking,
            on_shutdown=watchdog.arm,
        )
        source = KafkaSource(
            settings.kafka,
            on_assign=relay.on_assign,
            on_revoke=relay.on_revoke,
            rebalance_timeout_s=settings.runtime.drain_timeout_s + 30,
            also_read=(tracking.topic,) if tracking is not None else (),
        )
        relay.attach(source)
        backlog = GroupBacklog(helper_client_config(settings.kafka), settings.kafka.group_id)
        demand = asyncio.create_task(
            group_demand(settings, source, backlog, limiters, metrics).run(), name="group-demand"
        )
        started.append(relay)
        # What exists now (modules, models, compiled rules) lives as long as the process:
        # out of the collector's sight, full collections stop rescanning it (measured: a
        # 30 ms full collection every 0.2 s under load, all of it for nothing).
        gc.freeze()
        loop = asyncio.get_running_loop()

        def stop() -> None:
            relay.stop()
            watchdog.arm()

        for signum in (signal.SIGTERM, signal.SIGINT):
            with suppress(NotImplementedError):
                loop.add_signal_handler(signum, stop)
        try:
            await relay.run(until or StopWhen())
        finally:
            demand.cancel()
            with suppress(asyncio.CancelledError):
                await demand
            backlog.close()
    finally:
        try:
            if operations:
                await operations.stop()
            await client.aclose()
        finally:
            watchdog.disarm()


class ShutdownWatchdog:
    """The last word on a stop: past its bound, the process exits, whatever it waits for.

    A stop drains by `shutdown_timeout_s`, then commits, leaves the group and flushes, which
    take a second or two. Something may still hang (a broker gone in the middle of a close):
    exiting on our own, with a message, beats the orchestrator's SIGKILL a few seconds later,
    which says nothing."""

    def __init__(self, bound_s: float) -> None:
        self._bound_s = bound_s
        self._timer: threading.Timer | None = None

    def arm(self) -> None:
        if self._timer is not None:
            return
        self._timer = threading.Timer(self._bound_s, self._overran)
        self._timer.daemon = True
        self._timer.start()

    def disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()

    def _overran(self) -> None:
        logging.getLogger(__name__).error(
            "shutdown overran its bound: exiting now",
            extra={"bound_s": self._bound_s},
        )
        logging.shutdown()
        os._exit(EXIT_SHUTDOWN_OVERRAN)


def _limits(settings: Settings) -> RelayLimits:
    runtime = settings.runtime
    return RelayLimits(
        runtime.max_in_flight,
        runtime.drain_timeout_s,
        runtime.shutdown_timeout_s,
        runtime.ledger_lookback,
        session_timeout_s=_session_timeout_s(settings.kafka.client),
    )


def _session_timeout_s(client: Mapping[str, object]) -> float:
    """librdkafka's session.timeout.ms, as the group sees this member (45 s by default)."""
    try:
        return float(str(client.get("session.timeout.ms", 45_000))) / 1000
    except ValueError:
        return 45.0  # librdkafka refuses it at start-up, with its own message


def _operations_server(
    settings: ObservabilitySettings, metrics: Metrics, started: list[Relay]
) -> OperationsServer | None:
    if settings.port == 0:
        return None

    def readiness() -> list[str]:
        if not started:
            return ["starting: waiting for the broker to describe the status topic"]
        return readiness_problems(started[0].health())

    return OperationsServer(settings.host, settings.port, metrics.registry, readiness)
