"""A 60-second IO outage mid-run (every IO API call of the sandbox answers 503).

While IO is down the relay must keep its place in the group (no rebalance: one 'partitions
assigned' only, the same member throughout), hold no more than it may (its memory stays
bounded), lose nothing, and resume by itself when IO is back: every event settled within about
a minute of the end of the outage, nothing sent twice.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from tests.fixtures.kafka import TopicFactory
from tests.fixtures.kafka_io import produce
from tests.fixtures.relay import (
    RelayFactory,
    RelayTopics,
    RssSampler,
    check_delivery,
    generate_events,
    last_status_at,
    read_statuses,
    report_figures,
    start_outage,
    status_count,
    wait_for_terminal,
    wait_until,
    write_relay_config,
)
from tests.fixtures.sandbox import SandboxFactory

pytestmark = [pytest.mark.kafka, pytest.mark.timeout(300)]

EVENTS = 2_000
MAX_IN_FLIGHT = 64
OUTAGE_S = 60.0
# Generous bounds: a resident set far above what 64 held events need, a minute to catch up.
RSS_BOUND_MB = 300.0
RESUME_BOUND_S = 60.0
PHASE_BOUND_S = 90.0


def member_ids(admin: AdminClient, group: str) -> list[str]:
    try:
        described: Any = admin.describe_consumer_groups([group], request_timeout=10)[group].result(
            timeout=15
        )
    except KafkaException:
        return []
    return sorted(member.member_id for member in described.members)


def test_a_minute_of_io_outage_is_ridden_out_without_rebalance_or_loss(
    kafka_bootstrap: str,
    new_topic: TopicFactory,
    start_sandbox: SandboxFactory,
    start_relay: RelayFactory,
    tmp_path: Path,
) -> None:
    samples = generate_events(EVENTS)
    topics = RelayTopics(
        new_topic("events", partitions=4), new_topic("status", partitions=4), new_topic("dlq")
    )
    sandbox = start_sandbox(profiles=samples.profiles_document(), rate_limit="off", latency_ms=20)
    delivered = produce(kafka_bootstrap, topics.events, samples.records())
    group = f"relay-{topics.events}"
    config = write_relay_config(
        tmp_path / "relay.yaml",
        bootstrap=kafka_bootstrap,
        topics=topics,
        group=group,
        base_url=sandbox.base_url,
        max_in_flight=MAX_IN_FLIGHT,
    )
    relay = start_relay(config)
    rss = RssSampler([relay])
    wait_until(
        lambda: status_count(kafka_bootstrap, topics.status) >= EVENTS // 3,
        timeout=PHASE_BOUND_S,
        what="a third of the status records",
        watch=[relay],
        interval=0.05,
    )
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    members_before = member_ids(admin, group)

    start_outage(sandbox.base_url, OUTAGE_S)
    outage_started = time.time()
    at_start = status_count(kafka_bootstrap, topics.status)
    outage_ends = outage_started + OUTAGE_S
    while time.time() < outage_ends:
        assert relay.running, "the relay must ride out an IO outage"
        rss.sample()
        time.sleep(0.5)
    at_end = status_count(kafka_bootstrap, topics.status)
    members_after = member_ids(admin, group)

    wait_for_terminal(
        kafka_bootstrap, topics.status, samples, delivered, timeout=RESUME_BOUND_S, watch=[relay]
    )
    rss.sample()
    relay.terminate()
    code = relay.wait(60)
    statuses = read_statuses(kafka_bootstrap, topics.status)
    accepted = sandbox.messages()
    check = check_delivery(samples, delivered, statuses, accepted, input_topic=topics.events)
    assignments = relay.messages("partitions assigned")
    postponed = relay.messages("IO unavailable, delivery postponed")
    # Each event postponed was held; during the outage only events settled without IO free
    # room for new ones, so at most max_in_flight + those may have been held.
    held = len({entry["event_id"] for entry in postponed})
    settled_during = at_end - at_start
    answered_503 = sum(counts.get("503", 0) for counts in sandbox.stats()["requests"].values())
    report_figures(
        "IO outage",
        {
            "events": EVENTS,
            "max_in_flight": MAX_IN_FLIGHT,
            "outage_s": OUTAGE_S,
            "status_records_at_outage_start": at_start,
            "status_records_settled_during_outage": settled_during,
            "calls_answered_503": answered_503,
            "deliveries_postponed": len(postponed),
            "events_postponed": held,
            "peak_rss_mb": rss.peak_mb,
            "rss_samples": rss.samples,
            "assignments": len(assignments),
            "submissions": len(accepted),
            "expected_submissions": len(samples.submitted()),
            "duplicate_submissions": check.duplicate_submissions,
            "resume_s": last_status_at(statuses) - outage_ends,
        },
    )
    assert code == 0
    assert check.problems == [], check.explain()
    assert check.duplicate_submissions == check.orphan_submissions == 0
    assert len(accepted) == len(samples.submitted())
    # Kept its place in the group: no rebalance, the same member before and after.
    assert len(assignments) == 1
    assert members_before == members_after
    assert len(members_after) == 1
    assert rss.peak_mb < RSS_BOUND_MB
    assert answered_503 > 0  # the outage was real
    # No more was held than max_in_flight allows.
    assert held <= MAX_IN_FLIGHT + settled_during
