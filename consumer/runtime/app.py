"""Wiring: settings in, a running relay out. The whole chain is assembled here, in one place."""

from __future__ import annotations

import asyncio
import signal
from contextlib import suppress

from consumer.config import Settings
from consumer.events import EventTypes, FiscalCodePolicy
from consumer.io import IoClient
from consumer.rules import Rule, RuleChecks, load_rules
from consumer.runtime.commit import CommitPolicy
from consumer.runtime.deliver import Deliverer
from consumer.runtime.process import EventProcessor
from consumer.runtime.relay import Relay, StopWhen
from consumer.runtime.sink import ReportSink
from consumer.runtime.source import KafkaSource


def load_contracts(settings: Settings) -> tuple[EventTypes, list[Rule]]:
    """Event types and rules as configured; raises ConfigurationError listing every problem."""
    policy = FiscalCodePolicy(
        strict=settings.events.fiscal_codes.strict,
        allow=frozenset(settings.events.fiscal_codes.allow),
    )
    types = EventTypes.load(settings.events.schema_dirs, policy)
    checks = RuleChecks(frozenset(settings.rule_checks.personal_data_fields))
    return types, load_rules(settings.rules, types, checks)


async def run_relay(settings: Settings, until: StopWhen | None = None) -> None:
    """Run until SIGTERM/SIGINT (or idle, for a burst run); raise FatalError on a fatal fault."""
    types, rules = load_contracts(settings)
    keys = {name: service.subscription_key() for name, service in settings.io.services.items()}
    client = IoClient(
        settings.io.base_url,
        connect_timeout_s=settings.io.connect_timeout_s,
        read_timeout_s=settings.io.read_timeout_s,
    )
    relay = Relay(
        processor=EventProcessor(types, rules, Deliverer(client, keys)),
        sink=ReportSink(settings.kafka),
        commit_policy=CommitPolicy(settings.runtime.commit_interval_s),
    )
    relay.attach(KafkaSource(settings.kafka, on_revoke=relay.on_revoke))
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with suppress(NotImplementedError):
            loop.add_signal_handler(signum, relay.stop)
    try:
        await relay.run(until or StopWhen())
    finally:
        await client.aclose()
