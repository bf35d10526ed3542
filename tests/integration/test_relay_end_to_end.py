"""The thin slice: sample events through the real broker, the relay and the IO sandbox."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from confluent_kafka import Consumer, TopicPartition
from pydantic import SecretStr

from consumer.config import (
    IoSettings,
    KafkaSettings,
    ObservabilitySettings,
    ServiceSettings,
    Settings,
    TrackingSettings,
)
from consumer.runtime import StopWhen, run_relay
from tests.fixtures.kafka import TopicFactory
from tests.fixtures.kafka_io import consume_all, produce
from tests.fixtures.sandbox import Sandbox, SandboxFactory
from tests.integration.samples import EXAMPLES, EXPECTED_OUTCOMES, sample_records

pytestmark = pytest.mark.kafka


@pytest.fixture
def demo_sandbox(start_sandbox: SandboxFactory) -> Sandbox:
    return start_sandbox(profiles=EXAMPLES / "profiles.yaml", rate_limit="off")


def relay_settings(bootstrap: str, topics: dict[str, str], sandbox: Sandbox) -> Settings:
    services = {
        name: ServiceSettings(key=SecretStr(f"sandbox-key-{name}"))
        for name in ("tari", "tributi", "documenti")
    }
    return Settings(
        kafka=KafkaSettings(
            bootstrap_servers=bootstrap,
            group_id=f"relay-{topics['events']}",
            input_topics=[topics["events"]],
            status_topic=topics["status"],
            dlq_topic=topics["dlq"],
        ),
        io=IoSettings(base_url=sandbox.base_url, services=services),
        rules=[EXAMPLES / "rules"],
        tracking=TrackingSettings(enabled=False),  # tests/integration/test_message_tracking.py
        observability=ObservabilitySettings(port=0),
    )


@pytest.fixture
def topics(new_topic: TopicFactory) -> dict[str, str]:
    return {
        "events": new_topic("events", partitions=3),
        "status": new_topic("status"),
        "dlq": new_topic("dlq"),
    }


async def test_each_sample_event_gets_exactly_its_outcome(
    kafka_bootstrap: str, topics: dict[str, str], demo_sandbox: Sandbox
) -> None:
    records = sample_records()
    produce(kafka_bootstrap, topics["events"], records)

    await run_relay(relay_settings(kafka_bootstrap, topics, demo_sandbox), StopWhen(idle_for_s=2))

    statuses = [json.loads(m.value or b"") for m in consume_all(kafka_bootstrap, topics["status"])]
    got = Counter((s["event_id"], s["rule"], s["outcome"]) for s in statuses)
    assert got == Counter(EXPECTED_OUTCOMES)
    submitted = [s for s in statuses if s["outcome"] == "SUBMITTED"]
    accepted = demo_sandbox.messages()
    assert sorted(s["io_message_id"] for s in submitted) == sorted(m["id"] for m in accepted)
    assert Counter(m["body"]["fiscal_code"] for m in accepted) == Counter(
        {"AAAAAA00A00A000A": 2, "BBBBBB00B00B000B": 1}
    )
    dead = consume_all(kafka_bootstrap, topics["dlq"])
    by_key = {m.key: dict(m.headers) for m in dead}
    assert set(by_key) == {b"07-zero-amount", b"08-truncated"}
    assert by_key[b"07-zero-amount"]["io-relay.stage"] == b"decode"
    assert b"data.amount_cents" in (by_key[b"07-zero-amount"]["io-relay.reason"] or b"")
    original = {key: value for key, value, _ in records}
    assert all(m.value == original[m.key] for m in dead)  # the DLQ keeps the original bytes


async def test_offsets_are_committed_so_a_restart_reads_nothing_again(
    kafka_bootstrap: str, topics: dict[str, str], demo_sandbox: Sandbox
) -> None:
    delivered = produce(kafka_bootstrap, topics["events"], sample_records())
    settings = relay_settings(kafka_bootstrap, topics, demo_sandbox)

    await run_relay(settings, StopWhen(idle_for_s=2))
    await run_relay(settings, StopWhen(idle_for_s=2))

    assert len(consume_all(kafka_bootstrap, topics["status"])) == len(EXPECTED_OUTCOMES)
    assert len(demo_sandbox.messages()) == 3
    ends: Counter[int] = Counter()
    for landed in delivered:
        ends[landed.partition] = max(ends[landed.partition], landed.offset + 1)
    assert committed_offsets(kafka_bootstrap, settings.kafka.group_id, topics["events"]) == ends


def committed_offsets(bootstrap: str, group: str, topic: str) -> Counter[int]:
    reader = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        partitions = [TopicPartition(topic, p) for p in range(3)]
        committed = reader.committed(partitions, timeout=10)
    finally:
        reader.close()
    return Counter({tp.partition: tp.offset for tp in committed if tp.offset >= 0})
