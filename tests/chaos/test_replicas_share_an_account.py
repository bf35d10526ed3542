"""Three replicas of one group spend one IO account together, and keep to its rate (issue 13).

The sandbox's gateway allows the account 150 calls per 5 s, IO's production policy, and each
replica is configured with the same policy. A backlog over all six partitions makes the run
rate-bound (about 40 s of calls): each replica must keep to its share of the account (its
partitions' share of the group's waiting work), or together they would spend three times
the account and be refused. Judged on counts only: every event settles once, none is lost,
and fewer than 1 % of the calls the sandbox answered were 429s.
"""

from __future__ import annotations

import pytest

from tests.fixtures.cluster import settle
from tests.fixtures.group import GroupFactory, assert_stopped_in_time, stop_together
from tests.fixtures.kafka_io import produce
from tests.fixtures.relay import (
    FAST_GROUP_CLIENT,
    check_delivery,
    generate_events,
    read_statuses,
    report_figures,
)

pytestmark = [pytest.mark.kafka, pytest.mark.timeout(300)]

EVENTS = 1_200
"""About 1,250 IO calls: 40 s or more at the account's 30 calls a second."""
RATE_LIMIT = "150/5s"
PARTITIONS = 6
REPLICAS = 3
MAX_IN_FLIGHT = 64
SHUTDOWN_TIMEOUT_S = 10.0
DRAIN_TIMEOUT_S = 5.0
STOP_BOUND_S = SHUTDOWN_TIMEOUT_S + 5.0
# Bounds against a hung test, not performance claims: the run takes about 45 s.
PHASE_BOUND_S = 90.0
SETTLE_BOUND_S = 180.0


def test_three_replicas_keep_together_to_one_accounts_rate(start_group: GroupFactory) -> None:
    pool = generate_events(EVENTS)
    replicas = start_group(
        pool=pool,
        names=[f"replica-{n}" for n in range(1, REPLICAS + 1)],
        partitions=PARTITIONS,
        max_in_flight=MAX_IN_FLIGHT,
        shutdown_timeout_s=SHUTDOWN_TIMEOUT_S,
        drain_timeout_s=DRAIN_TIMEOUT_S,
        rate_limit=RATE_LIMIT,
        client=FAST_GROUP_CLIENT,
        timeout=PHASE_BOUND_S,
    )
    bootstrap, topics, sandbox = replicas.bootstrap, replicas.topics, replicas.sandbox
    delivered = produce(bootstrap, topics.events, pool.records())
    statuses, lost = settle(
        bootstrap,
        topics.status,
        pool,
        delivered,
        timeout=SETTLE_BOUND_S,
        watch=replicas.relays,
    )
    stop_s = stop_together(replicas.relays)

    statuses = read_statuses(bootstrap, topics.status)
    accepted = sandbox.messages()
    check = check_delivery(pool, delivered, statuses, accepted, input_topic=topics.events)
    stats = sandbox.stats()
    calls = sum(sum(counts.values()) for counts in stats["requests"].values())
    refused = stats["rate_limited"]
    report_figures(
        "replicas share an account",
        {
            "events": EVENTS,
            "replicas": REPLICAS,
            "partitions": PARTITIONS,
            "rate_limit": RATE_LIMIT,
            "calls": calls,
            "rate_limited": refused,
            "rate_limited_share_pct": 100 * refused / max(1, calls),
            "pace_lowered": sum(relay.log().count("pace lowered") for relay in replicas.relays),
            "lost": lost,
            "submissions": len(accepted),
            "expected_submissions": len(pool.submitted()),
            "duplicate_submissions": check.duplicate_submissions,
            "duplicate_records": check.duplicate_records,
            **{f"stop_s_{name}": took for name, took in stop_s.items()},
        },
    )
    assert lost == 0
    assert check.problems == [], check.explain()
    assert check.duplicate_submissions == check.duplicate_records == 0
    assert len(accepted) == len(pool.submitted())
    assert refused * 100 < calls, f"{refused} of {calls} calls answered 429"
    assert_stopped_in_time(stop_s, replicas.relays, STOP_BOUND_S)
