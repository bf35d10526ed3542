"""Message lifecycle on a real broker and sandbox: after SUBMITTED, each message is followed to
PROCESSED or REJECTED, Premium ones to READ (or READ_UNAVAILABLE) and PAID, and a message IO
never settles ends with EXPIRED_TRACKING at the horizon.

The schedule is shortened (checks a second or two apart); the sandbox holds messages ACCEPTED
for a few seconds, long enough for the test to mark some REJECTED, READ or PAID first.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.fixtures.kafka import TopicFactory
from tests.fixtures.kafka_io import produce
from tests.fixtures.ports import free_port
from tests.fixtures.prometheus import Samples, scrape
from tests.fixtures.relay import (
    RelayFactory,
    RelayTopics,
    Status,
    generate_events,
    read_statuses,
    report_figures,
    wait_for_terminal,
    wait_until,
    write_relay_config,
)
from tests.fixtures.sandbox import Sandbox, SandboxFactory
from tests.fixtures.tracking import (
    FAST_SCHEDULE,
    advanced,
    by_message,
    latest_tracking,
    mark,
    pays,
    submitted,
    tracking_topics,
)

pytestmark = [pytest.mark.kafka, pytest.mark.timeout(180)]

EVENTS = 80
PHASE_BOUND_S = 60.0  # against a hung test, not a performance claim


def test_every_submitted_message_is_followed_to_its_outcome_and_premium_to_read_and_paid(
    kafka_bootstrap: str,
    new_topic: TopicFactory,
    start_sandbox: SandboxFactory,
    start_relay: RelayFactory,
    tmp_path: Path,
) -> None:
    samples = generate_events(EVENTS)
    topics = tracking_topics(new_topic, partitions=3, tracking_partitions=2)
    # Messages stay ACCEPTED for 6 s: time to mark some before any check sees them processed.
    sandbox = start_sandbox(
        profiles=samples.profiles_document(), rate_limit="off", processing_delay_ms=6_000
    )
    delivered = produce(kafka_bootstrap, topics.events, samples.records())
    config = write_relay_config(
        tmp_path / "relay.yaml",
        bootstrap=kafka_bootstrap,
        topics=topics,
        group=f"relay-{topics.events}",
        base_url=sandbox.base_url,
        tracking=FAST_SCHEDULE,
        metrics_port=(metrics_port := free_port()),
    )
    relay = start_relay(config)
    wait_for_terminal(
        kafka_bootstrap, topics.status, samples, delivered, timeout=PHASE_BOUND_S, watch=[relay]
    )
    accepted = sandbox.messages()
    plan = Plan.mark(sandbox, accepted)

    found: dict[str, Counter[tuple[str, str]]] = {}

    def all_arrived() -> bool:
        nonlocal found
        found = by_message(read_statuses(kafka_bootstrap, topics.status))
        return all(found.get(m["id"], Counter()) >= plan.expected(m) for m in accepted)

    wait_until(all_arrived, timeout=PHASE_BOUND_S, what="every lifecycle record", watch=[relay])
    still_followed = {m["id"] for m in accepted if m["id"] in plan.unavailable and pays(m)}
    published = sum(found.values(), Counter())
    metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
    wait_until(
        lambda: metrics_agree(scrape(metrics_url), published, len(still_followed), topics),
        timeout=PHASE_BOUND_S,
        what="the metrics to count every lifecycle record",
        watch=[relay],
    )
    relay.terminate()
    assert relay.wait(60) == 0

    statuses = read_statuses(kafka_bootstrap, topics.status)
    found = by_message(statuses)
    assert {m["id"]: found.get(m["id"], Counter()) for m in accepted} == {
        m["id"]: plan.expected(m) for m in accepted
    }, "each change published exactly once, and nothing else"
    check_lifecycle_records_follow_their_submitted_record(statuses)
    # Settled messages end with a tombstone; the ones whose payment is still open do not.
    latest = latest_tracking(kafka_bootstrap, topics)
    assert set(latest) == {s.io_message_id for s in submitted(statuses)}
    assert {k for k, value in latest.items() if value is not None} == still_followed
    for message_id in still_followed:
        seen = latest[message_id]
        assert seen is not None
        assert seen["seen"] == {
            "status": "PROCESSED",
            "read_status": "UNAVAILABLE",
            "payment_status": None,
        }


@dataclass(frozen=True)
class Plan:
    """What the test tells the sandbox IO learnt of each message, and what must follow."""

    rejected: set[str]
    read_and_paid: set[str]
    unavailable: set[str]

    @classmethod
    def mark(cls, sandbox: Sandbox, accepted: list[dict[str, Any]]) -> Plan:
        standard = [m for m in accepted if not advanced(m)]
        premium = [m for m in accepted if advanced(m)]
        assert standard, "the sample mix must hold STANDARD messages"
        assert premium, "the sample mix must hold ADVANCED (Premium) messages"
        plan = cls(
            rejected={m["id"] for m in standard[::4]},
            read_and_paid={m["id"] for m in premium[::2]},
            unavailable={m["id"] for m in premium[1::2]},
        )
        for message_id in plan.rejected:
            mark(sandbox, message_id, status="REJECTED")
        for message in premium:
            if message["id"] in plan.unavailable:
                mark(sandbox, message["id"], read_status="UNAVAILABLE")
                continue
            mark(sandbox, message["id"], read_status="READ")
            if pays(message):
                mark(sandbox, message["id"], payment_status="PAID")
        return plan

    def expected(self, message: dict[str, Any]) -> Counter[tuple[str, str]]:
        """Each change once: the outcome, then for Premium what the citizen did."""
        if message["id"] in self.rejected:
            return Counter({("PROCESSING", "REJECTED"): 1})
        wanted = Counter({("PROCESSING", "PROCESSED"): 1})
        if message["id"] in self.read_and_paid:
            wanted[("READING", "READ")] = 1
            if pays(message):
                wanted[("PAYMENT", "PAID")] = 1
        if message["id"] in self.unavailable:
            wanted[("READING", "READ_UNAVAILABLE")] = 1
        return wanted


def metrics_agree(
    samples: Samples, published: Counter[tuple[str, str]], followed: int, topics: RelayTopics
) -> bool:
    """The lifecycle counters match the topic, the PROCESSED ones were timed, the gauge counts
    the messages still followed, and the tracking topic has no lag figure."""
    counted: Counter[tuple[str, str]] = Counter()
    for labels, value in samples.get("io_relay_lifecycle_records_total", {}).items():
        named = dict(labels)
        if value:
            counted[(named["stage"], named["outcome"])] += int(value)
    timed = sum(samples.get("io_relay_submit_to_processed_seconds_count", {}).values())
    lag_topics = {dict(labels)["topic"] for labels in samples.get("io_relay_consumer_lag", {})}
    return (
        counted == published
        and timed == published[("PROCESSING", "PROCESSED")]
        and samples.get("io_relay_messages_tracked", {}).get(()) == followed
        and lag_topics == {topics.events}
    )


def check_lifecycle_records_follow_their_submitted_record(statuses: list[Status]) -> None:
    """Same event, rule, service and input position as the SUBMITTED record, in the same
    status partition (a reader sees an event's records in order), with the checks counted."""
    sent = {s.io_message_id: s for s in submitted(statuses)}
    lifecycle = [s for s in statuses if s.stage != "DELIVERY"]
    assert {s.io_message_id for s in lifecycle} <= set(sent)
    for record in lifecycle:
        origin = sent[record.io_message_id]
        assert (record.event_id, record.rule, record.service, record.topic) == (
            origin.event_id,
            origin.rule,
            origin.service,
            origin.topic,
        )
        assert record.position == origin.position
        assert record.status_partition == origin.status_partition
        assert record.raw["attempts"] >= 1


def test_a_message_io_never_processes_is_given_up_at_the_horizon(
    kafka_bootstrap: str,
    new_topic: TopicFactory,
    start_sandbox: SandboxFactory,
    start_relay: RelayFactory,
    tmp_path: Path,
) -> None:
    samples = generate_events(20, prefix="hz")
    topics = tracking_topics(new_topic, partitions=3, tracking_partitions=2)
    # IO keeps every message ACCEPTED for ten minutes: longer than the 4 s horizon.
    sandbox = start_sandbox(
        profiles=samples.profiles_document(), rate_limit="off", processing_delay_ms=600_000
    )
    delivered = produce(kafka_bootstrap, topics.events, samples.records())
    config = write_relay_config(
        tmp_path / "relay.yaml",
        bootstrap=kafka_bootstrap,
        topics=topics,
        group=f"relay-{topics.events}",
        base_url=sandbox.base_url,
        tracking={**FAST_SCHEDULE, "horizon_s": 4.0},
    )
    relay = start_relay(config)
    wait_for_terminal(
        kafka_bootstrap, topics.status, samples, delivered, timeout=PHASE_BOUND_S, watch=[relay]
    )
    accepted = sandbox.messages()
    statuses: list[Status] = []

    def all_expired() -> bool:
        nonlocal statuses
        statuses = read_statuses(kafka_bootstrap, topics.status)
        return len([s for s in statuses if s.stage == "PROCESSING"]) >= len(accepted)

    wait_until(all_expired, timeout=PHASE_BOUND_S, what="EXPIRED_TRACKING for all", watch=[relay])
    relay.terminate()
    assert relay.wait(60) == 0

    statuses = read_statuses(kafka_bootstrap, topics.status)
    found = by_message(statuses)
    assert found == {m["id"]: Counter({("PROCESSING", "EXPIRED_TRACKING"): 1}) for m in accepted}
    for record in (s for s in statuses if s.stage == "PROCESSING"):
        assert record.raw["error"]["type"] == "tracking_horizon"
        assert "ACCEPTED" in record.raw["error"]["detail"]
        submitted_at = next(
            s.at for s in submitted(statuses) if s.io_message_id == record.io_message_id
        )
        assert (record.at - submitted_at).total_seconds() >= 4.0
    latest = latest_tracking(kafka_bootstrap, topics)
    assert latest == dict.fromkeys((m["id"] for m in accepted), None)


CHECK = "GET /api/v1/messages/{fiscal_code}/{id}"


def calls_by_route(sandbox: Sandbox) -> Counter[str]:
    requests: dict[str, dict[str, int]] = sandbox.stats()["requests"]
    return Counter({route: sum(answers.values()) for route, answers in requests.items()})


def test_checks_take_no_more_than_their_share_and_submissions_go_on(
    kafka_bootstrap: str,
    new_topic: TopicFactory,
    start_sandbox: SandboxFactory,
    start_relay: RelayFactory,
    tmp_path: Path,
) -> None:
    """IO's gateway allows 40 calls a second here, and checks may take a fifth of it. With far
    more checks due than that (every message asked twice a second, none ever processed), new
    events must still get the other four fifths."""
    first, second = generate_events(100, prefix="sh"), generate_events(200, prefix="sh", start=100)
    topics = tracking_topics(new_topic, partitions=3, tracking_partitions=2)
    sandbox = start_sandbox(
        profiles=(first + second).profiles_document(),
        rate_limit="40/1s",
        latency_ms=20,
        processing_delay_ms=600_000,
    )
    config = write_relay_config(
        tmp_path / "relay.yaml",
        bootstrap=kafka_bootstrap,
        topics=topics,
        group=f"relay-{topics.events}",
        base_url=sandbox.base_url,
        tracking={"checks_after_s": [0.5], "then_every_s": 0.5, "budget_share": 0.2},
    )
    settings = yaml.safe_load(config.read_text())
    settings["io"]["accounts"]["test"] = {"calls": 40, "per_seconds": 1.0}
    config.write_text(yaml.safe_dump(settings))
    relay = start_relay(config)
    delivered = produce(kafka_bootstrap, topics.events, first.records())
    wait_for_terminal(
        kafka_bootstrap, topics.status, first, delivered, timeout=PHASE_BOUND_S, watch=[relay]
    )
    before = calls_by_route(sandbox)
    limited_before = sandbox.stats()["rate_limited"]

    delivered += produce(kafka_bootstrap, topics.events, second.records())
    wait_for_terminal(
        kafka_bootstrap,
        topics.status,
        first + second,
        delivered,
        timeout=PHASE_BOUND_S * 2,
        watch=[relay],
    )
    calls = calls_by_route(sandbox) - before
    limited = sandbox.stats()["rate_limited"] - limited_before
    relay.terminate()
    assert relay.wait(60) == 0

    total = sum(calls.values())
    report_figures(
        "checks beside submissions",
        {
            "calls": total,
            "checks": calls[CHECK],
            "check_share": round(calls[CHECK] / total, 3),
            "answered_429": limited,
        },
    )
    assert calls[CHECK] > 0, "checks were due all along: some must have run"
    # A fifth of every window, give or take the windows cut at both ends of the phase.
    assert calls[CHECK] / total <= 0.25
    assert limited <= total * 0.02
