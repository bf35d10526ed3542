"""The metrics and probes tell the same story as the status topic, the DLQ and the sandbox.

A metric that drifts from what really happened is worse than none: an operator trusts it at
3 a.m. Each figure here is checked against what the relay wrote and what IO accepted.
"""

from __future__ import annotations

import asyncio
import platform
import re
import time
from collections import Counter
from importlib.metadata import version
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry

from consumer.config import load_settings
from consumer.io.models import FISCAL_CODE_PATTERN
from consumer.observability import Metrics
from consumer.runtime import StopWhen, run_relay
from tests.fixtures.kafka import TopicFactory
from tests.fixtures.kafka_io import consume_all, produce
from tests.fixtures.ports import free_port
from tests.fixtures.prometheus import scrape
from tests.fixtures.relay import (
    RelayFactory,
    RelayTopics,
    generate_events,
    read_statuses,
    relay_topics,
    wait_for_terminal,
    wait_until,
    write_relay_config,
)
from tests.fixtures.sandbox import SandboxFactory

pytestmark = pytest.mark.kafka

PARTITIONS = 3
EVENTS = 300
RUN_BOUND_S = 120.0
FISCAL_CODE = re.compile(FISCAL_CODE_PATTERN.strip("^$"))


@pytest.fixture
def topics(new_topic: TopicFactory) -> RelayTopics:
    return relay_topics(new_topic, partitions=PARTITIONS)


def samples_of(registry: CollectorRegistry, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """Every sample of one metric name, keyed by its sorted labels."""
    found = {}
    for family in registry.collect():
        for sample in family.samples:
            if sample.name == name:
                found[tuple(sorted(sample.labels.items()))] = sample.value
    return found


async def test_metrics_count_exactly_what_the_relay_reported(
    kafka_bootstrap: str,
    topics: RelayTopics,
    start_sandbox: SandboxFactory,
    tmp_path: Path,
) -> None:
    samples = generate_events(EVENTS)
    sandbox = start_sandbox(profiles=samples.profiles_document(), rate_limit="off")
    produce(kafka_bootstrap, topics.events, samples.records())
    config = write_relay_config(
        tmp_path / "relay.yaml",
        bootstrap=kafka_bootstrap,
        topics=topics,
        group=f"relay-{topics.events}",
        base_url=sandbox.base_url,
    )
    registry = CollectorRegistry()
    started = time.time()

    async with asyncio.timeout(RUN_BOUND_S):
        await run_relay(load_settings(config), StopWhen(idle_for_s=2.0), Metrics(registry))

    statuses = read_statuses(kafka_bootstrap, topics.status)
    dead = consume_all(kafka_bootstrap, topics.dlq, expected=len(samples.malformed()))
    value = registry.get_sample_value

    consumed = samples_of(registry, "io_relay_events_consumed_total")
    assert sum(consumed.values()) == EVENTS

    reported = Counter((s.rule or "none", s.service or "none", s.outcome) for s in statuses)
    counted = {
        (labels["rule"], labels["service"], labels["outcome"]): v
        for labels, v in (
            (dict(key), v) for key, v in samples_of(registry, "io_relay_outcomes_total").items()
        )
        if v
    }
    assert counted == dict(reported)

    stages = Counter((dict(m.headers)["io-relay.stage"] or b"").decode() for m in dead)
    for stage in ("decode", "invalid", "render"):
        labels = {"topic": topics.events, "stage": stage}
        assert value("io_relay_dlq_records_total", labels) == stages.get(stage, 0)
    # Undecodable: an unreadable envelope, or a readable one with data its type refuses.
    undecoded = {"topic": topics.events, "type": "undecoded"}
    assert value("io_relay_events_consumed_total", undecoded) == stages["decode"] > 0

    submitted = sum(1 for s in statuses if s.outcome == "SUBMITTED")
    assert submitted == len(sandbox.messages()) > 0
    assert (
        value("io_relay_io_calls_total", {"endpoint": "submit", "status_code": "201"}) == submitted
    )
    calls = samples_of(registry, "io_relay_io_calls_total")
    profile_calls = sum(v for k, v in calls.items() if ("endpoint", "profile") in k)
    assert (
        value("io_relay_io_call_duration_seconds_count", {"endpoint": "profile"}) == profile_calls
    )
    assert value("io_relay_double_send_window_seconds_count") == submitted
    last_submit = value("io_relay_last_submit_timestamp_seconds")
    assert last_submit is not None
    assert started < last_submit <= time.time()
    assert value("io_relay_events_in_flight") == 0
    build = {"version": version("io-relay"), "python_version": platform.python_version()}
    assert value("io_relay_build_info", build) == 1

    # No label carries a citizen or an event: only a few values each.
    event_ids = {s.event_id for s in statuses if s.event_id}
    for family in registry.collect():
        for sample in family.samples:
            for label_value in sample.labels.values():
                assert not FISCAL_CODE.search(label_value), (sample.name, label_value)
                assert label_value not in event_ids, (sample.name, label_value)


def test_probes_and_metrics_over_http_while_running(
    kafka_bootstrap: str,
    topics: RelayTopics,
    start_sandbox: SandboxFactory,
    start_relay: RelayFactory,
    tmp_path: Path,
) -> None:
    samples = generate_events(EVENTS)
    sandbox = start_sandbox(profiles=samples.profiles_document(), rate_limit="off")
    delivered = produce(kafka_bootstrap, topics.events, samples.records())
    port = free_port()
    config = write_relay_config(
        tmp_path / "relay.yaml",
        bootstrap=kafka_bootstrap,
        topics=topics,
        group=f"relay-{topics.events}",
        base_url=sandbox.base_url,
        metrics_port=port,
    )
    relay = start_relay(config)
    base = f"http://127.0.0.1:{port}"

    wait_for_terminal(
        kafka_bootstrap, topics.status, samples, delivered, timeout=RUN_BOUND_S, watch=[relay]
    )

    def caught_up() -> bool:
        lag = scrape(f"{base}/metrics").get("io_relay_consumer_lag", {})
        return len(lag) == PARTITIONS and not any(lag.values())

    # The lag is probed every second here (lag_interval_s in the test config).
    wait_until(caught_up, timeout=30, what="consumer lag 0 on every partition", watch=[relay])
    metrics = scrape(f"{base}/metrics")
    assert metrics["io_relay_partitions_assigned"] == {(): PARTITIONS}
    assert metrics["io_relay_partitions_paused"] == {(): 0}
    assert metrics["io_relay_broker_reachable"] == {(): 1}
    assert set(metrics["io_relay_consumer_lag"]) == {
        (("partition", str(p)), ("topic", topics.events)) for p in range(PARTITIONS)
    }
    assert sum(metrics["io_relay_events_consumed_total"].values()) == EVENTS
    assert metrics["process_resident_memory_bytes"][()] > 0

    health = httpx.get(f"{base}/healthz", timeout=5)
    assert (health.status_code, health.json()) == (200, {"alive": True})
    ready = httpx.get(f"{base}/readyz", timeout=5)
    assert (ready.status_code, ready.json()) == (200, {"ready": True, "problems": []})
    assert httpx.get(f"{base}/nothing-here", timeout=5).status_code == 404

    relay.terminate()
    assert relay.wait(timeout=60) == 0
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{base}/healthz", timeout=5)


def test_alive_but_not_ready_while_the_broker_does_not_answer_at_start(
    start_relay: RelayFactory, tmp_path: Path
) -> None:
    port = free_port()
    dead_broker = f"127.0.0.1:{free_port()}"
    config = write_relay_config(
        tmp_path / "relay.yaml",
        bootstrap=dead_broker,
        topics=RelayTopics("events", "status", "dlq"),
        group="relay-without-broker",
        base_url="http://127.0.0.1:9",
        metrics_port=port,
    )
    relay = start_relay(config)
    base = f"http://127.0.0.1:{port}"

    def answering() -> bool:
        try:
            return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    wait_until(answering, timeout=30, what="/healthz answering", watch=[relay])
    ready = httpx.get(f"{base}/readyz", timeout=5)
    assert ready.status_code == 503
    assert ready.json()["problems"] == [
        "starting: waiting for the broker to describe the status topic"
    ]
    relay.terminate()
    relay.wait(timeout=30)
