"""Three relays in one consumer group; one is killed with SIGKILL mid-run.

The survivors must take over its partitions once the group notices (session.timeout.ms, 10 s
here), read back what it reported (the ledger), and settle every event: exactly one terminal
status each, duplicates only inside the documented window.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient

from tests.fixtures.group import group_members
from tests.fixtures.kafka import TopicFactory
from tests.fixtures.kafka_io import produce
from tests.fixtures.relay import (
    FAST_GROUP_CLIENT,
    RelayFactory,
    RelayTopics,
    assigned_at,
    check_delivery,
    generate_events,
    last_status_at,
    orphans,
    read_statuses,
    report_figures,
    status_count,
    wait_for_terminal,
    wait_until,
    write_relay_config,
)
from tests.fixtures.sandbox import SandboxFactory

pytestmark = [pytest.mark.kafka, pytest.mark.timeout(240)]

EVENTS = 3_000
PARTITIONS = 6
MEMBERS = 3
MAX_IN_FLIGHT = 32
PHASE_BOUND_S = 90.0
WINDOW_S = 2.0


def test_a_member_killed_mid_run_hands_its_partitions_over_without_loss(
    kafka_bootstrap: str,
    new_topic: TopicFactory,
    start_sandbox: SandboxFactory,
    start_relay: RelayFactory,
    tmp_path: Path,
) -> None:
    samples = generate_events(EVENTS)
    topics = RelayTopics(
        new_topic("events", partitions=PARTITIONS),
        new_topic("status", partitions=PARTITIONS),
        new_topic("dlq"),
    )
    sandbox = start_sandbox(profiles=samples.profiles_document(), rate_limit="off", latency_ms=20)
    group = f"relay-{topics.events}"
    config = write_relay_config(
        tmp_path / "relay.yaml",
        bootstrap=kafka_bootstrap,
        topics=topics,
        group=group,
        base_url=sandbox.base_url,
        max_in_flight=MAX_IN_FLIGHT,
        client=FAST_GROUP_CLIENT,
    )
    relays = [start_relay(config, name=f"member-{n}") for n in range(1, MEMBERS + 1)]
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})

    def three_members_share_all_partitions() -> bool:
        members = group_members(admin, group)
        return (
            len(members) == MEMBERS
            and all(members.values())
            and sum(members.values()) == PARTITIONS
        )

    # The events are produced once the group is formed: this test is about a member dying.
    wait_until(
        three_members_share_all_partitions,
        timeout=PHASE_BOUND_S,
        what="three members sharing the partitions",
        watch=relays,
        interval=0.5,
    )
    delivered = produce(kafka_bootstrap, topics.events, samples.records())
    wait_until(
        lambda: status_count(kafka_bootstrap, topics.status) >= EVENTS // 3,
        timeout=PHASE_BOUND_S,
        what="a third of the status records",
        watch=relays,
        interval=0.05,
    )

    victim, survivors = relays[1], [relays[0], relays[2]]
    victim.kill()
    killed_at = time.time()
    at_kill = status_count(kafka_bootstrap, topics.status)
    wait_for_terminal(
        kafka_bootstrap, topics.status, samples, delivered, timeout=PHASE_BOUND_S, watch=survivors
    )
    members_after = group_members(admin, group)
    for relay in survivors:
        relay.terminate()
    codes = [relay.wait(60) for relay in survivors]

    statuses = read_statuses(kafka_bootstrap, topics.status)
    accepted = sandbox.messages()
    check = check_delivery(samples, delivered, statuses, accepted, input_topic=topics.events)
    takeover = [t for relay in survivors for t in assigned_at(relay) if t > killed_at]
    first_copies = orphans(statuses, accepted)
    report_figures(
        "group member dies",
        {
            "events": EVENTS,
            "members": MEMBERS,
            "partitions": PARTITIONS,
            "max_in_flight": MAX_IN_FLIGHT,
            "status_records_at_kill": at_kill,
            "submissions": len(accepted),
            "expected_submissions": len(samples.submitted()),
            "duplicate_submissions": check.duplicate_submissions,
            "duplicates_accepted_ms_before_kill": sorted(
                round((killed_at - datetime.fromisoformat(m["received_at"]).timestamp()) * 1000)
                for m in first_copies
            ),
            "duplicate_records": check.duplicate_records,
            "takeover_s": (min(takeover) - killed_at) if takeover else -1.0,
            "recover_s": last_status_at(statuses) - killed_at,
        },
    )
    assert codes == [0, 0]
    assert check.problems == [], check.explain()
    assert takeover, "no survivor was assigned the dead member's partitions"
    assert len(members_after) == MEMBERS - 1
    assert len(first_copies) == check.duplicate_submissions <= MAX_IN_FLIGHT
    for message in first_copies:
        accepted_at = datetime.fromisoformat(message["received_at"]).timestamp()
        assert killed_at - WINDOW_S <= accepted_at <= killed_at + WINDOW_S, message
