"""A rolling update of three replicas, then a scale-down from three to one, while events flow.

The cluster has three nodes. Each old replica is replaced in turn: a new one is started, and
once it holds partitions an old one gets SIGTERM. Then two of the three get SIGTERM at once.
Every replica told to stop must be gone within runtime.shutdown_timeout_s + 5 s (the bound
the issue sets; 10 s + 5 s here, with drain_timeout_s 5 s), and the events must all settle:
one terminal status each, every message sent once.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.fixtures.cluster import EventFeed, settle
from tests.fixtures.group import GroupFactory, assert_stopped_in_time, stop_together
from tests.fixtures.relay import (
    FAST_GROUP_CLIENT,
    RelayFactory,
    RelayProcess,
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
"""The pool: the feed stops once the replicas are scaled down (after about 5,000 here)."""
PER_SECOND = 400.0
PARTITIONS = 6
REPLICAS = 3
MAX_IN_FLIGHT = 32
SHUTDOWN_TIMEOUT_S = 10.0
DRAIN_TIMEOUT_S = 5.0
STOP_BOUND_S = SHUTDOWN_TIMEOUT_S + 5.0
# Bounds against a hung test, not performance claims.
PHASE_BOUND_S = 90.0


def holds_partitions(relay: RelayProcess) -> Callable[[], bool]:
    return lambda: bool(assigned_at(relay))


def test_a_rolling_update_and_a_scale_down_stop_every_replica_in_time_without_loss_or_duplicates(
    start_group: GroupFactory, start_relay: RelayFactory
) -> None:
    pool = generate_events(EVENTS)
    replicas = start_group(
        pool=pool,
        names=[f"old-{n}" for n in range(1, REPLICAS + 1)],
        partitions=PARTITIONS,
        max_in_flight=MAX_IN_FLIGHT,
        shutdown_timeout_s=SHUTDOWN_TIMEOUT_S,
        drain_timeout_s=DRAIN_TIMEOUT_S,
        client=FAST_GROUP_CLIENT,
        timeout=PHASE_BOUND_S,
    )
    bootstrap, topics, sandbox, config = (
        replicas.bootstrap,
        replicas.topics,
        replicas.sandbox,
        replicas.config,
    )
    old = replicas.relays
    feed = EventFeed(bootstrap, topics.events, pool, per_second=PER_SECOND, chunk=200).start()
    wait_until(
        lambda: status_count(bootstrap, topics.status) >= 300,
        timeout=PHASE_BOUND_S,
        what="events flowing",
        watch=old,
        interval=0.2,
    )

    # Rolling update: one new replica in, one old replica out, three times.
    stop_s: dict[str, float] = {}
    running = list(old)
    new: list[RelayProcess] = []
    for number, leaving in enumerate(old, start=1):
        joining = start_relay(config, name=f"new-{number}")
        wait_until(
            holds_partitions(joining),
            timeout=PHASE_BOUND_S,
            what=f"{joining.name} holding partitions",
            watch=[*running, joining],
            interval=0.2,
        )
        new.append(joining)
        running.remove(leaving)
        stop_s |= stop_together([leaving])
        running.append(joining)

    # Scale down from three to one: two SIGTERMs at once.
    stop_s |= stop_together(new[:2])
    at_scale_down = feed.count
    feed.stop()
    samples, delivered = feed.produced(), feed.delivered
    last = new[2]
    statuses, lost = settle(
        bootstrap, topics.status, samples, delivered, timeout=PHASE_BOUND_S, watch=[last]
    )
    stop_s |= stop_together([last])

    statuses = read_statuses(bootstrap, topics.status)
    accepted = sandbox.messages()
    check = check_delivery(samples, delivered, statuses, accepted, input_topic=topics.events)
    relays = [*old, *new]
    report_figures(
        "rolling update and scale-down",
        {
            "events": len(samples.events),
            "events_produced_by_the_scale_down": at_scale_down,
            "partitions": PARTITIONS,
            "max_in_flight": MAX_IN_FLIGHT,
            "shutdown_timeout_s": SHUTDOWN_TIMEOUT_S,
            "drain_timeout_s": DRAIN_TIMEOUT_S,
            **{f"stop_s_{name}": took for name, took in stop_s.items()},
            "exit_codes": {relay.name: relay.returncode for relay in relays},
            "lost": lost,
            "submissions": len(accepted),
            "expected_submissions": len(samples.submitted()),
            "duplicate_submissions": check.duplicate_submissions,
            "duplicate_records": check.duplicate_records,
        },
    )
    assert_stopped_in_time(stop_s, relays, STOP_BOUND_S)
    assert lost == 0
    assert check.problems == [], check.explain()
    assert check.duplicate_submissions == check.orphan_submissions == 0
    assert len(accepted) == len(samples.submitted())
