"""Readiness: whether this replica is doing its share, in words an operator can act on."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the runtime wires health in: importing it here would be a cycle
    from consumer.runtime.relay import RelayHealth


def readiness_problems(health: RelayHealth) -> list[str]:
    """Empty when ready. A replica with no partitions is not ready: it does nothing (more
    replicas than partitions, or a group still rebalancing)."""
    problems = []
    if health.fault is not None:
        problems.append(f"fault: {health.fault}")
    if health.stopping:
        problems.append("shutting down")
    if health.assigned == 0:
        problems.append("no partitions assigned")
    elif health.broker_reachable is None:
        problems.append("broker not probed yet")
    elif not health.broker_reachable:
        problems.append("broker did not answer the last probe")
    return problems
