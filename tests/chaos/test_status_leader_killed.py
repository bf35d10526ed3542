"""kill -9 of the broker that leads status partition 0, mid-run, then its restart.

Three replicas share six partitions on the three-node cluster (replication factor 3,
min.insync.replicas 2) while events flow. The node leading the status topic's partition 0 is
killed with SIGKILL: no controlled shutdown, so its partitions have no leader until the
controller fences it (broker.session.timeout.ms, 9 s by default). Meanwhile the replicas'
status records wait in their producer (idempotent, acks=all), their events stay held, and
commits may fail; the node may also lead input partitions, the group's coordinator or the
quorum. Once leadership has moved the run goes on with two nodes; later the node is started
again and catches up. The group keeps librdkafka's session timeout (45 s): no member dies
here, and a broker's death must not cost one its partitions.

What must hold: no event lost, exactly one terminal status record each (no SUBMITTED twice),
every message sent once (the sandbox counts the copies), and each replica gone within
runtime.shutdown_timeout_s + 5 s of its SIGTERM at the end, as in test_rolling_update.py.
"""

from __future__ import annotations

import time

import pytest

from tests.fixtures.cluster import EventFeed, KafkaCluster, settle
from tests.fixtures.group import (
    GroupFactory,
    assert_stopped_in_time,
    stop_together,
    submitted_twice,
)
from tests.fixtures.relay import (
    assigned_at,
    check_delivery,
    generate_events,
    read_statuses,
    report_figures,
    status_count,
    wait_until,
)

pytestmark = [pytest.mark.kafka, pytest.mark.timeout(300)]

EVENTS = 12_000
"""The pool: the feed stops once the node is back and in sync and the run has gone on."""
PER_SECOND = 300.0
PARTITIONS = 6
REPLICAS = 3
MAX_IN_FLIGHT = 32
DOWN_AFTER_MOVE_S = 5.0
"""How long the run goes on with two nodes once leadership has moved."""
RUN_ON_S = 5.0
SHUTDOWN_TIMEOUT_S = 10.0
DRAIN_TIMEOUT_S = 5.0
STOP_BOUND_S = SHUTDOWN_TIMEOUT_S + 5.0
# Bounds against a hung test, not performance claims.
PHASE_BOUND_S = 90.0


def test_killing_the_broker_that_leads_a_status_partition_loses_and_duplicates_nothing(
    kafka_cluster: KafkaCluster, start_group: GroupFactory
) -> None:
    pool = generate_events(EVENTS)
    replicas = start_group(
        pool=pool,
        names=[f"replica-{n}" for n in range(1, REPLICAS + 1)],
        partitions=PARTITIONS,
        max_in_flight=MAX_IN_FLIGHT,
        shutdown_timeout_s=SHUTDOWN_TIMEOUT_S,
        drain_timeout_s=DRAIN_TIMEOUT_S,
        timeout=PHASE_BOUND_S,
    )
    bootstrap, topics, sandbox, relays, admin = (
        replicas.bootstrap,
        replicas.topics,
        replicas.sandbox,
        replicas.relays,
        replicas.admin,
    )
    feed = EventFeed(bootstrap, topics.events, pool, per_second=PER_SECOND, chunk=100).start()
    wait_until(
        lambda: status_count(bootstrap, topics.status) >= 300,
        timeout=PHASE_BOUND_S,
        what="events flowing",
        watch=relays,
        interval=0.2,
    )

    status_leader = kafka_cluster.leader_of(topics.status, 0)
    input_led = sum(
        kafka_cluster.leader_of(topics.events, p, admin=admin) == status_leader
        for p in range(PARTITIONS)
    )
    at_kill = status_count(bootstrap, topics.status)
    killed = kafka_cluster.kill_leader_of(topics.status, 0)
    killed_at = time.monotonic()
    killed_wall = time.time()
    moved_s = kafka_cluster.wait_for_leaders(topics.status, without=killed, timeout=PHASE_BOUND_S)
    new_leader = kafka_cluster.leader_of(topics.status, 0)
    time.sleep(DOWN_AFTER_MOVE_S)
    assert all(relay.running for relay in relays), "a replica exited while the node was down"
    restarting = time.monotonic()
    kafka_cluster.start_node(killed)
    restart_s = time.monotonic() - restarting
    down_s = time.monotonic() - killed_at
    in_sync_s = kafka_cluster.wait_in_sync(topics.status, timeout=PHASE_BOUND_S)
    time.sleep(RUN_ON_S)

    feed.stop()
    samples, delivered = feed.produced(), feed.delivered
    _, lost = settle(
        bootstrap, topics.status, samples, delivered, timeout=PHASE_BOUND_S, watch=relays
    )
    stop_s = stop_together(relays)

    statuses = read_statuses(bootstrap, topics.status)
    accepted = sandbox.messages()
    check = check_delivery(samples, delivered, statuses, accepted, input_topic=topics.events)
    # Reported, not judged: partitions a replica was given after the kill (a rebalance).
    assigned_after_kill = {
        relay.name: sum(1 for at in assigned_at(relay) if at > killed_wall) for relay in relays
    }
    report_figures(
        "status partition leader killed",
        {
            "events": len(samples.events),
            "partitions": PARTITIONS,
            "max_in_flight": MAX_IN_FLIGHT,
            "killed_node": killed,
            "input_partitions_it_led": input_led,
            "new_status_leader": new_leader,
            "status_records_at_kill": at_kill,
            "leadership_moved_s": moved_s,
            "node_down_s": down_s,
            "node_restart_s": restart_s,
            "status_in_sync_after_restart_s": in_sync_s,
            "assignments_after_kill": assigned_after_kill,
            **{f"stop_s_{name}": took for name, took in sorted(stop_s.items())},
            "exit_codes": {relay.name: relay.returncode for relay in relays},
            "lost": lost,
            "submissions": len(accepted),
            "expected_submissions": len(samples.submitted()),
            "duplicate_submissions": check.duplicate_submissions,
            "duplicate_submitted_records": submitted_twice(statuses),
            "unknown_records": sum(1 for s in statuses if s.outcome == "UNKNOWN"),
            "duplicate_records": check.duplicate_records,
        },
    )
    assert_stopped_in_time(stop_s, relays, STOP_BOUND_S)
    assert new_leader not in {killed, -1}, f"status[0] led by {new_leader} after node {killed} died"
    assert lost == 0, f"{lost} of {len(samples.events)} events have no terminal status"
    assert check.problems == [], check.explain()
    assert check.duplicate_submissions == check.orphan_submissions == 0, (
        f"{check.duplicate_submissions} duplicate submissions, "
        f"{check.orphan_submissions} accepted messages no status record names"
    )
    assert len(accepted) == len(samples.submitted()), (
        f"{len(accepted)} submissions for {len(samples.submitted())} events to send"
    )
