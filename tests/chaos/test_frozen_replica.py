"""A replica frozen (SIGSTOP) past the group's session timeout, then woken (SIGCONT).

Three replicas share six partitions on the three-node cluster, with session.timeout.ms 6 s
and a heartbeat every second (io-relay sets neither; librdkafka's default session is 45 s).
One replica is frozen for twice the session timeout while events flow: the group hands its
partitions to the two others, which read their ledger and handle its share of the events.
Woken, it must find its partitions lost (its log says so), drop their work uncommitted, send
none of it to IO, rejoin the group and take a share again. Then the run settles, and every
replica gets SIGTERM and must be gone within runtime.shutdown_timeout_s + 5 s, as in
test_rolling_update.py.

Two freezes:

- Between batches. A first batch settles, so the replica is frozen with nothing held and no
  request out; a second batch flows during the freeze and after. What must hold: no event
  lost, exactly one terminal status record each (no SUBMITTED twice), every message sent
  once (the sandbox counts the copies), and nothing handled by the woken replica before it
  knew its partitions were gone.
- Mid-batch, the replica busy with a backlog. A submit whose request is out at the freeze
  cannot be helped: IO accepts it while the replica sleeps, its status record comes too late
  for the new owner's ledger, and the new owner sends it again (the crash window of
  test_group_member_dies.py). What must hold: no event lost, and every message sent twice
  is one of those, a copy accepted within WINDOW_S of the freeze; none is a submit the
  woken replica started for a partition it no longer owned. The IO client's read timeout
  is raised above the freeze here, so the answers that came in while it slept are read,
  and the jobs waiting for them go on at once, as they would after a shorter freeze.
"""

from __future__ import annotations

import json
import os
import re
import signal
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

import pytest

from tests.fixtures.cluster import EventFeed, settle
from tests.fixtures.group import (
    GroupFactory,
    assert_stopped_in_time,
    stop_together,
    submitted_twice,
)
from tests.fixtures.relay import (
    DeliveryCheck,
    RelayProcess,
    SampleSet,
    Status,
    check_delivery,
    generate_events,
    read_statuses,
    report_figures,
    status_count,
    wait_until,
)

pytestmark = [pytest.mark.kafka, pytest.mark.timeout(300)]

PARTITIONS = 6
REPLICAS = 3
MAX_IN_FLIGHT = 32
SESSION_TIMEOUT_MS = 6_000
GROUP_CLIENT = {"session.timeout.ms": str(SESSION_TIMEOUT_MS), "heartbeat.interval.ms": "1000"}
FROZEN_S = 2 * SESSION_TIMEOUT_MS / 1000
RUN_ON_S = 5.0
SECOND_BATCH = 8_000
"""The pool of events produced from the freeze on: the feed stops once the woken replica has
run on for RUN_ON_S."""
SHUTDOWN_TIMEOUT_S = 10.0
DRAIN_TIMEOUT_S = 5.0
STOP_BOUND_S = SHUTDOWN_TIMEOUT_S + 5.0
WINDOW_S = 2.0
"""Around the freeze: a message sent twice must have a copy accepted this close to it."""
# Bounds against a hung test, not performance claims.
PHASE_BOUND_S = 90.0
LOST_MESSAGE = "partitions lost"
MARKER = re.compile(r"30210\d{13}|DOC\d{7}")
"""What names a sample event in the message sent for it (see SampleEvent.marker)."""


@dataclass(frozen=True)
class Freeze:
    """How one scenario freezes its replica."""

    name: str
    first_batch: int
    first_per_second: float
    first_chunk: int
    freeze_at_statuses: int | None
    """Freeze once the status topic holds this many records; None: once the first batch
    has settled (every replica idle)."""
    second_per_second: float
    latency_ms: int
    env: Mapping[str, str]


@dataclass
class FrozenRun:
    samples: SampleSet
    statuses: list[Status]
    accepted: list[dict[str, Any]]
    check: DeliveryCheck
    lost: int
    frozen: RelayProcess
    relays: list[RelayProcess]
    frozen_at: float
    woke_at: float
    lost_logged_at: float | None
    handled_before_loss: Counter[str]
    settled_again: list[str]
    stop_s: dict[str, float]
    figures: dict[str, object]


def entry_at(entry: Mapping[str, Any]) -> float:
    return datetime.fromisoformat(entry["at"]).timestamp()


def first_logged(relay: RelayProcess, prefix: str, since: float) -> float | None:
    """Wall clock of the relay's first log line starting with ``prefix`` after ``since``."""
    times = [
        entry_at(entry)
        for entry in relay.log_entries()
        if "at" in entry
        and str(entry.get("message", "")).startswith(prefix)
        and entry_at(entry) >= since
    ]
    return min(times) if times else None


def handled_between(relay: RelayProcess, since: float, until: float | None) -> Counter[str]:
    """The outcomes of the events the relay logged as handled between two wall-clock times."""
    return Counter(
        str(entry.get("outcome"))
        for entry in relay.messages("event handled")
        if since <= entry_at(entry) and (until is None or entry_at(entry) <= until)
    )


def copies_sent_twice(accepted: Sequence[Mapping[str, Any]]) -> list[list[float]]:
    """For each message IO accepted more than once: when each copy was accepted (epoch s)."""
    copies: defaultdict[tuple[str, str], list[float]] = defaultdict(list)
    for message in accepted:
        key = (str(message["fiscal_code"]), json.dumps(message["body"], sort_keys=True))
        copies[key].append(datetime.fromisoformat(message["received_at"]).timestamp())
    return [sorted(times) for times in copies.values() if len(times) > 1]


def settled_again_after_wake(
    samples: SampleSet,
    statuses: Sequence[Status],
    accepted: Sequence[Mapping[str, Any]],
    *,
    frozen_at: float,
    woke_at: float,
) -> list[str]:
    """(event, rule)s settled before the wake that got another terminal record dated after
    it: work the woken replica did on a partition another member owned. Left out: those
    with a record dated, or a message accepted by IO, within WINDOW_S of the freeze (settled
    or sent as it froze, the answer or the record reaching Kafka only on waking: the crash
    window, which nothing can close)."""
    accepted_at: defaultdict[str, list[float]] = defaultdict(list)
    for message in accepted:
        content = json.dumps(message["body"], ensure_ascii=False)
        for marker in MARKER.findall(content):
            accepted_at[marker].append(datetime.fromisoformat(message["received_at"]).timestamp())
    by_position = {(s.partition, s.offset): s.event_id for s in statuses}
    markers = {event.event_id: event.marker for event in samples.events}
    terminal: defaultdict[tuple[int, int, str | None], list[Status]] = defaultdict(list)
    for status in statuses:
        if status.terminal:
            terminal[(status.partition, status.offset, status.rule)].append(status)
    found = []
    for (partition, offset, rule), records in terminal.items():
        times = [record.at.timestamp() for record in records]
        if not (min(times) < woke_at <= max(times)):
            continue
        marker = markers.get(by_position[(partition, offset)] or "", "")
        near_freeze = [*times, *accepted_at.get(marker, [])]
        if any(abs(at - frozen_at) <= WINDOW_S for at in near_freeze):
            continue
        outcomes = [(r.outcome, round(r.at.timestamp() - woke_at, 3)) for r in records]
        found.append(f"{by_position[(partition, offset)]} {rule}: {outcomes}")
    return found


def run_freeze(scenario: Freeze, start_group: GroupFactory) -> FrozenRun:
    pool = generate_events(scenario.first_batch + SECOND_BATCH)
    first = SampleSet(pool.events[: scenario.first_batch], pool.profiles)
    second = SampleSet(pool.events[scenario.first_batch :], pool.profiles)
    replicas = start_group(
        pool=pool,
        names=[f"replica-{n}" for n in range(1, REPLICAS + 1)],
        partitions=PARTITIONS,
        max_in_flight=MAX_IN_FLIGHT,
        shutdown_timeout_s=SHUTDOWN_TIMEOUT_S,
        drain_timeout_s=DRAIN_TIMEOUT_S,
        latency_ms=scenario.latency_ms,
        client=GROUP_CLIENT,
        env=scenario.env,
        timeout=PHASE_BOUND_S,
    )
    bootstrap, topics, sandbox, relays = (
        replicas.bootstrap,
        replicas.topics,
        replicas.sandbox,
        replicas.relays,
    )
    frozen, survivors = relays[1], [relays[0], relays[2]]
    first_feed = EventFeed(
        bootstrap,
        topics.events,
        first,
        per_second=scenario.first_per_second,
        chunk=scenario.first_chunk,
    ).start()
    if scenario.freeze_at_statuses is None:
        first_feed.join()
        _, unsettled = settle(
            bootstrap,
            topics.status,
            first,
            first_feed.delivered,
            timeout=PHASE_BOUND_S,
            watch=relays,
        )
        assert unsettled == 0, f"{unsettled} events of the first batch never settled"
    else:
        wanted = scenario.freeze_at_statuses
        wait_until(
            lambda: status_count(bootstrap, topics.status) >= wanted,
            timeout=PHASE_BOUND_S,
            what=f"{wanted} status records",
            watch=relays,
            interval=0.05,
        )

    os.kill(frozen.pid, signal.SIGSTOP)
    frozen_at = time.time()
    try:
        first_feed.join()
        feed = EventFeed(
            bootstrap, topics.events, second, per_second=scenario.second_per_second, chunk=50
        ).start()
        handover_s = replicas.wait_sharing(
            REPLICAS - 1, "the two others holding every partition", survivors, PHASE_BOUND_S
        )
        time.sleep(max(0.0, frozen_at + FROZEN_S - time.time()))
    finally:
        os.kill(frozen.pid, signal.SIGCONT)
    woke_at = time.time()
    produced_while_frozen = feed.count

    rejoin_s = replicas.wait_sharing(
        REPLICAS, "the woken replica back in the group with a share", relays, PHASE_BOUND_S
    )
    time.sleep(RUN_ON_S)
    feed.stop()
    samples = first + feed.produced()
    delivered = first_feed.delivered + feed.delivered
    _, lost = settle(
        bootstrap, topics.status, samples, delivered, timeout=PHASE_BOUND_S, watch=relays
    )
    stop_s = stop_together(relays)

    statuses = read_statuses(bootstrap, topics.status)
    accepted = sandbox.messages()
    check = check_delivery(samples, delivered, statuses, accepted, input_topic=topics.events)
    lost_logged_at = first_logged(frozen, LOST_MESSAGE, since=frozen_at)
    handled_before_loss = handled_between(frozen, frozen_at, lost_logged_at)
    twice = copies_sent_twice(accepted)
    again = settled_again_after_wake(
        samples, statuses, accepted, frozen_at=frozen_at, woke_at=woke_at
    )
    figures: dict[str, object] = {
        "events": len(samples.events),
        "events_before_freeze": len(first.events),
        "events_produced_while_frozen": produced_while_frozen,
        "partitions": PARTITIONS,
        "max_in_flight": MAX_IN_FLIGHT,
        "io_latency_ms": scenario.latency_ms,
        "session_timeout_s": SESSION_TIMEOUT_MS / 1000,
        "frozen_s": woke_at - frozen_at,
        "handover_s": handover_s,
        "lost_logged_after_wake_s": (
            lost_logged_at - woke_at if lost_logged_at is not None else float("nan")
        ),
        "handled_after_wake_before_loss": dict(handled_before_loss),
        "rejoin_s": rejoin_s,
        **{f"stop_s_{name}": took for name, took in sorted(stop_s.items())},
        "exit_codes": {relay.name: relay.returncode for relay in relays},
        "lost": lost,
        "submissions": len(accepted),
        "expected_submissions": len(samples.submitted()),
        "duplicate_submissions": check.duplicate_submissions,
        "duplicates_accepted_s_from_freeze": [
            [round(at - frozen_at, 3) for at in times] for times in twice
        ],
        "duplicate_submitted_records": submitted_twice(statuses),
        "unknown_records": sum(1 for s in statuses if s.outcome == "UNKNOWN"),
        "events_with_two_terminal_records": sum(
            1 for problem in check.problems if "terminal records" in problem
        ),
        "duplicate_records": check.duplicate_records,
        "settled_again_after_wake": len(again),
    }
    report_figures(f"frozen replica, {scenario.name}", figures)
    return FrozenRun(
        samples=samples,
        statuses=statuses,
        accepted=accepted,
        check=check,
        lost=lost,
        frozen=frozen,
        relays=relays,
        frozen_at=frozen_at,
        woke_at=woke_at,
        lost_logged_at=lost_logged_at,
        handled_before_loss=handled_before_loss,
        settled_again=again,
        stop_s=stop_s,
        figures=figures,
    )


Freezer = Callable[[Freeze], FrozenRun]


@pytest.fixture
def freeze(start_group: GroupFactory) -> Freezer:
    """Runs a scenario on this test's cluster, topics, sandbox and relays."""
    return partial(run_freeze, start_group=start_group)


BETWEEN_BATCHES = Freeze(
    name="between batches",
    first_batch=1_500,
    first_per_second=300.0,
    first_chunk=100,
    freeze_at_statuses=None,
    second_per_second=300.0,
    latency_ms=20,
    env={},
)

MID_BATCH = Freeze(
    name="mid-batch",
    first_batch=3_000,
    first_per_second=3_000.0,
    first_chunk=1_000,
    freeze_at_statuses=600,
    second_per_second=100.0,
    latency_ms=5,
    env={"IO_RELAY_IO__READ_TIMEOUT_S": "30", "IO_RELAY_IO__TOTAL_TIMEOUT_S": "60"},
)


def test_a_replica_frozen_past_the_session_timeout_sends_nothing_twice_when_it_wakes(
    freeze: Freezer,
) -> None:
    run = freeze(BETWEEN_BATCHES)
    check = run.check
    assert_stopped_in_time(run.stop_s, run.relays, STOP_BOUND_S)
    assert run.lost == 0, f"{run.lost} of {len(run.samples.events)} events have no terminal status"
    assert run.lost_logged_at is not None, f"{run.frozen.name} never logged its partitions lost"
    assert sum(run.handled_before_loss.values()) == 0, (
        f"{run.frozen.name} handled events after waking, before it knew its partitions were "
        f"gone: {dict(run.handled_before_loss)}"
    )
    assert check.problems == [], check.explain()
    assert check.duplicate_submissions == check.orphan_submissions == 0, (
        f"{check.duplicate_submissions} duplicate submissions, "
        f"{check.orphan_submissions} accepted messages no status record names"
    )
    assert len(run.accepted) == len(run.samples.submitted()), (
        f"{len(run.accepted)} submissions for {len(run.samples.submitted())} events to send"
    )


def test_a_replica_frozen_mid_batch_sends_twice_only_what_was_out_at_the_freeze(
    freeze: Freezer,
) -> None:
    run = freeze(MID_BATCH)
    assert_stopped_in_time(run.stop_s, run.relays, STOP_BOUND_S)
    assert run.lost == 0, f"{run.lost} of {len(run.samples.events)} events have no terminal status"
    assert run.lost_logged_at is not None, f"{run.frozen.name} never logged its partitions lost"
    twice = copies_sent_twice(run.accepted)
    started_after_wake = [
        [round(at - run.frozen_at, 3) for at in times]
        for times in twice
        if not any(abs(at - run.frozen_at) <= WINDOW_S for at in times)
    ]
    woke_s = run.woke_at - run.frozen_at
    assert (started_after_wake, run.settled_again) == ([], []), (
        f"the woken replica ({run.frozen.name}, woken {woke_s:.1f} s after the freeze) worked "
        f"on partitions it no longer owned. {len(started_after_wake)} of {len(twice)} "
        f"messages sent twice have no copy accepted within {WINDOW_S} s of the freeze (seconds "
        f"after the freeze of each copy): {started_after_wake}. {len(run.settled_again)} "
        f"(event, rule)s settled before the wake got another terminal record after it "
        f"(outcome, seconds after the wake): {run.settled_again[:20]}"
    )
    assert len(twice) <= MAX_IN_FLIGHT, f"{len(twice)} messages sent twice"
    assert len(run.accepted) - run.check.duplicate_submissions == len(run.samples.submitted()), (
        f"{len(run.accepted)} submissions with {run.check.duplicate_submissions} copies for "
        f"{len(run.samples.submitted())} events to send"
    )
