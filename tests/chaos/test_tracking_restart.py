"""A relay stopped in the middle of tracking, and another started in its place; and a
replica leaving the group while another runs on.

While it is down, IO learns that the Premium messages were read and paid. What must hold:
nothing under tracking is lost (every change arrives after the restart) and nothing is
doubled. After SIGTERM the relay commits what it checked, so no change may be published
twice. After kill -9 the one window is a check whose lifecycle records were acknowledged and
whose successor was not: those records may come once more, only for checks made right at the
kill, and at most as many as checks were in flight.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.kafka import TopicFactory
from tests.fixtures.kafka_io import produce
from tests.fixtures.relay import (
    FAST_GROUP_CLIENT,
    RelayFactory,
    RelayProcess,
    RelayTopics,
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
    tracking_topics,
)

pytestmark = [pytest.mark.kafka, pytest.mark.timeout(240)]

EVENTS = 300
MAX_CHECKS = 16
PHASE_BOUND_S = 90.0  # against a hung test, not a performance claim
WINDOW_S = 2.0


def wanted(message: dict[str, Any]) -> Counter[tuple[str, str]]:
    """Every Premium message is read and paid (if it pays) while the relay is down."""
    found = Counter({("PROCESSING", "PROCESSED"): 1})
    if advanced(message):
        found[("READING", "READ")] = 1
        if pays(message):
            found[("PAYMENT", "PAID")] = 1
    return found


@dataclass
class MidTracking:
    """A first relay that has sent every sample and seen every message PROCESSED: the Premium
    ones are still followed (unread, unpaid)."""

    bootstrap: str
    topics: RelayTopics
    sandbox: Sandbox
    config: Path
    first: RelayProcess
    accepted: list[dict[str, Any]]

    @property
    def premium(self) -> list[dict[str, Any]]:
        return [m for m in self.accepted if advanced(m)]

    def lifecycle(self) -> dict[str, Counter[tuple[str, str]]]:
        return by_message(read_statuses(self.bootstrap, self.topics.status))

    def citizens_read_and_pay(self) -> None:
        for message in self.premium:
            mark(self.sandbox, message["id"], read_status="READ")
            if pays(message):
                mark(self.sandbox, message["id"], payment_status="PAID")

    def every_change_arrived(self) -> bool:
        found = self.lifecycle()
        return all(found.get(m["id"], Counter()) >= wanted(m) for m in self.accepted)


@pytest.fixture
def mid_tracking(
    kafka_bootstrap: str,
    new_topic: TopicFactory,
    start_sandbox: SandboxFactory,
    start_relay: RelayFactory,
    tmp_path: Path,
) -> Callable[[str], MidTracking]:
    def start(prefix: str) -> MidTracking:
        samples = generate_events(EVENTS, prefix=prefix)
        topics = tracking_topics(new_topic, partitions=4, tracking_partitions=4)
        sandbox = start_sandbox(
            profiles=samples.profiles_document(), rate_limit="off", processing_delay_ms=500
        )
        delivered = produce(kafka_bootstrap, topics.events, samples.records())
        config = write_relay_config(
            tmp_path / "relay.yaml",
            bootstrap=kafka_bootstrap,
            topics=topics,
            group=f"relay-{topics.events}",
            base_url=sandbox.base_url,
            client=FAST_GROUP_CLIENT,
            tracking={**FAST_SCHEDULE, "max_checks_in_flight": MAX_CHECKS},
        )
        first = start_relay(config, name="first")
        wait_for_terminal(
            kafka_bootstrap, topics.status, samples, delivered, timeout=PHASE_BOUND_S, watch=[first]
        )
        run = MidTracking(kafka_bootstrap, topics, sandbox, config, first, sandbox.messages())
        assert run.premium, "the sample mix must hold Premium messages"
        wait_until(
            lambda: all(
                found.get(m["id"], Counter())[("PROCESSING", "PROCESSED")]
                for found in [run.lifecycle()]
                for m in run.accepted
            ),
            timeout=PHASE_BOUND_S,
            what="PROCESSED",
            watch=[first],
        )
        return run

    return start


@pytest.fixture(params=["sigterm", "kill-9"])
def stop(request: pytest.FixtureRequest) -> str:
    """How the first relay goes: cleanly, or with no chance to finish anything."""
    how: str = request.param
    return how


def test_a_restart_mid_tracking_loses_no_message_and_doubles_no_change(
    stop: str, mid_tracking: Callable[[str], MidTracking], start_relay: RelayFactory
) -> None:
    run = mid_tracking(f"tr{stop[:4]}")
    accepted, first = run.accepted, run.first
    stopped_at = time.time()
    if stop == "sigterm":
        first.terminate()
        assert first.wait(60) == 0
    else:
        first.kill()
    run.citizens_read_and_pay()

    second = start_relay(run.config, name="second")
    restarted_at = time.time()
    wait_until(
        run.every_change_arrived, timeout=PHASE_BOUND_S, what="READ and PAID", watch=[second]
    )
    settled_s = time.time() - restarted_at
    second.terminate()
    assert second.wait(60) == 0

    statuses = read_statuses(run.bootstrap, run.topics.status)
    found = by_message(statuses)
    extra = {
        message["id"]: found.get(message["id"], Counter()) - wanted(message)
        for message in accepted
        if found.get(message["id"], Counter()) != wanted(message)
    }
    doubled = sum(sum(more.values()) for more in extra.values())
    report_figures(
        f"tracking restart ({stop})",
        {
            "messages": len(accepted),
            "premium": len(run.premium),
            "lifecycle_records": sum(sum(c.values()) for c in found.values()),
            "expected_records": sum(sum(wanted(m).values()) for m in accepted),
            "published_twice": doubled,
            "settled_after_restart_s": round(settled_s, 1),
        },
    )
    # Nothing lost: every message has every change (the wait above), and tracking ended.
    assert all(found[m["id"]] >= wanted(m) for m in accepted)
    latest = latest_tracking(run.bootstrap, run.topics)
    assert latest == dict.fromkeys((m["id"] for m in accepted), None), "all settled"
    if stop == "sigterm":
        assert extra == {}, f"changes published twice after a clean restart: {extra}"
        return
    # kill -9: only PROCESSED records of checks made at the kill may come twice.
    assert doubled <= MAX_CHECKS
    for message_id, more in extra.items():
        assert set(more) <= {("PROCESSING", "PROCESSED")}, (message_id, more)
        first_copy = min(
            s.at.timestamp()
            for s in statuses
            if s.io_message_id == message_id and s.outcome == "PROCESSED"
        )
        assert stopped_at - WINDOW_S <= first_copy <= stopped_at + WINDOW_S


def owns_tracking(relay: RelayProcess, topic: str | None) -> bool:
    """Whether the relay's log says it was given a partition of the tracking topic."""
    return any(
        partition[0] == topic
        for entry in relay.messages("partitions assigned")
        for partition in entry.get("partitions", [])
    )


def test_a_replica_leaving_mid_tracking_hands_its_messages_to_the_live_one(
    mid_tracking: Callable[[str], MidTracking], start_relay: RelayFactory
) -> None:
    """Two replicas in the group, then the one holding the tracking leaves: its tracking
    partitions move, held records and all, to the replica still running, through a
    rebalance (the leaver commits and forgets its book; the other restores them). Every
    change is still published once."""
    run = mid_tracking("trmove")
    accepted, first = run.accepted, run.first
    second = start_relay(run.config, name="second")
    wait_until(
        lambda: any(entry["partitions"] for entry in second.messages("partitions assigned")),
        timeout=PHASE_BOUND_S,
        what="the second replica in the group",
        watch=[first, second],
    )
    first.terminate()  # whatever it held moves to the second, which keeps running
    assert first.wait(60) == 0
    wait_until(
        lambda: owns_tracking(second, run.topics.tracking),
        timeout=PHASE_BOUND_S,
        what="the second replica owning the tracking partitions",
        watch=[second],
    )
    run.citizens_read_and_pay()
    wait_until(
        run.every_change_arrived, timeout=PHASE_BOUND_S, what="READ and PAID", watch=[second]
    )
    second.terminate()
    assert second.wait(60) == 0

    found = run.lifecycle()
    published = {relay.name: len(relay.messages("message lifecycle")) for relay in (first, second)}
    report_figures("tracking hand-over", {"premium": len(run.premium), **published})
    assert {m["id"]: found.get(m["id"], Counter()) for m in accepted} == {
        m["id"]: wanted(m) for m in accepted
    }, "every change once, whichever replica published it"
    assert published["second"] >= sum(sum(wanted(m).values()) - 1 for m in run.premium)
    latest = latest_tracking(run.bootstrap, run.topics)
    assert latest == dict.fromkeys((m["id"] for m in accepted), None), "all settled"
