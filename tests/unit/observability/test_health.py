"""Readiness: each reason a replica is not doing its share, in the words /readyz shows."""

from __future__ import annotations

import pytest

from consumer.observability.health import readiness_problems
from consumer.runtime.relay import RelayHealth


def health(
    *,
    assigned: int = 3,
    broker_reachable: bool | None = True,
    stopping: bool = False,
    fault: str | None = None,
) -> RelayHealth:
    return RelayHealth(
        assigned=assigned, broker_reachable=broker_reachable, stopping=stopping, fault=fault
    )


def test_a_replica_with_partitions_and_an_answering_broker_is_ready() -> None:
    assert readiness_problems(health()) == []


@pytest.mark.parametrize(
    ("state", "problems"),
    [
        pytest.param(health(assigned=0), ["no partitions assigned"], id="no-partitions"),
        pytest.param(health(broker_reachable=None), ["broker not probed yet"], id="not-probed"),
        pytest.param(
            health(broker_reachable=False),
            ["broker did not answer the last probe"],
            id="broker-unreachable",
        ),
        pytest.param(health(stopping=True), ["shutting down"], id="stopping"),
        pytest.param(
            health(fault="service 'tari': IO refused the subscription key 5 times"),
            ["fault: service 'tari': IO refused the subscription key 5 times"],
            id="fault",
        ),
    ],
)
def test_each_problem_alone(state: RelayHealth, problems: list[str]) -> None:
    assert readiness_problems(state) == problems


def test_several_problems_are_all_told() -> None:
    state = health(assigned=2, broker_reachable=False, stopping=True, fault="bad key")

    assert readiness_problems(state) == [
        "fault: bad key",
        "shutting down",
        "broker did not answer the last probe",
    ]


def test_without_partitions_the_broker_is_not_judged() -> None:
    """No partitions means no probe runs: a stale probe result would only add noise."""
    state = health(assigned=0, broker_reachable=None, stopping=True, fault="bad key")

    assert readiness_problems(state) == [
        "fault: bad key",
        "shutting down",
        "no partitions assigned",
    ]
