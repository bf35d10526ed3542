"""Two relays in one group on the real broker: every log line says which replica and which
group member wrote it and which generation (rebalance) it belongs to."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.kafka import TopicFactory
from tests.fixtures.relay import (
    FAST_GROUP_CLIENT,
    RelayFactory,
    RelayProcess,
    relay_topics,
    wait_until,
    write_relay_config,
)
from tests.fixtures.sandbox import Sandbox

pytestmark = [pytest.mark.kafka, pytest.mark.timeout(90)]

# A bound against a hung test, not a performance claim.
REBALANCE_BOUND_S = 45.0


def assignments(relay: RelayProcess) -> list[dict[str, Any]]:
    return relay.messages("partitions assigned")


def in_group(relay: RelayProcess) -> list[dict[str, Any]]:
    """The relay's JSON lines from its first assignment on."""
    entries = [entry for entry in relay.log_entries() if not entry.get("raw")]
    first = next(i for i, entry in enumerate(entries) if entry["message"] == "partitions assigned")
    return entries[first:]


def test_lines_carry_their_replica_member_and_the_group_generation_they_belong_to(
    kafka_bootstrap: str,
    new_topic: TopicFactory,
    sandbox: Sandbox,
    start_relay: RelayFactory,
    tmp_path: Path,
) -> None:
    topics = relay_topics(new_topic, partitions=2)
    config = write_relay_config(
        tmp_path / "relay.yaml",
        bootstrap=kafka_bootstrap,
        topics=topics,
        group=f"relay-{topics.events}",
        base_url=sandbox.base_url,
        client=FAST_GROUP_CLIENT,
    )
    first = start_relay(config, env={"HOSTNAME": "relay-a"}, name="first")
    wait_until(
        lambda: any(len(entry["partitions"]) == 2 for entry in assignments(first)),
        timeout=REBALANCE_BOUND_S,
        what="the first relay owning both partitions",
        watch=[first],
    )
    alone = assignments(first)[0]["generation"]

    second = start_relay(config, env={"HOSTNAME": "relay-b"}, name="second")

    def both_in_the_generation_that_gave_the_second_a_partition() -> bool:
        given = [entry for entry in assignments(second) if entry["partitions"]]
        return bool(given) and any(
            entry.get("generation") == given[-1]["generation"] for entry in in_group(first)
        )

    wait_until(
        both_in_the_generation_that_gave_the_second_a_partition,
        timeout=REBALANCE_BOUND_S,
        what="a rebalance giving the second relay a partition, seen by both",
        watch=[first, second],
    )
    shared = [entry for entry in assignments(second) if entry["partitions"]][-1]["generation"]
    second_lines = in_group(second)  # all written in the group: it has not been asked to go
    second.terminate()  # leaves the group: one rebalance more, the first relay alone again
    assert second.wait(REBALANCE_BOUND_S) == 0
    wait_until(
        lambda: any(
            entry["partitions"] and entry["generation"] > shared for entry in assignments(first)
        ),
        timeout=REBALANCE_BOUND_S,
        what="the first relay taking the partition back",
        watch=[first],
    )
    first_lines = in_group(first)

    # Every line from the first assignment on has both fields (at INFO a relay writes none
    # before it; their absence outside a generation is unit-tested); the first relay's later
    # lines belong to later generations than its earlier ones, never going back.
    first_generations = [entry["generation"] for entry in first_lines]
    assert isinstance(alone, int)
    assert first_generations == sorted(first_generations)
    assert first_generations[0] == alone < first_generations[-1]
    # The group's number, not a count of each member's rebalances: the second relay's last
    # generation is one the first relay was in too, and the first moved on when it left.
    assert min(entry["generation"] for entry in second_lines) > alone
    assert max(entry["generation"] for entry in second_lines) == shared
    assert shared in first_generations
    assert first_generations[-1] > shared
    # Each relay's lines name its own member id, and its replica.
    first_members = {entry["member"] for entry in first_lines}
    second_members = {entry["member"] for entry in second_lines}
    assert len(first_members) == len(second_members) == 1
    assert first_members != second_members
    assert {entry["replica"] for entry in first_lines} == {"relay-a"}
    assert {entry["replica"] for entry in second_lines} == {"relay-b"}
