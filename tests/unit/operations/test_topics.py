"""What `io-relay topics check` finds wrong, from what the broker holds."""

from __future__ import annotations

import pytest

from consumer.config import Settings
from consumer.operations.topics import HeldTopic, problems_with, wanted_topics

SETTINGS = Settings(
    kafka={"input_topics": ["a", "b"], "status_topic": "s", "dlq_topic": "d"},
)
GOOD = {
    "a": HeldTopic(6, "delete"),
    "b": HeldTopic(3, "delete"),
    "s": HeldTopic(6, "delete"),
    "d": HeldTopic(1, "delete"),
    "io-relay.tracking": HeldTopic(3, "compact"),
    "io-relay.replays": HeldTopic(1, "compact"),
}


def test_every_topic_of_the_configuration_is_wanted_with_its_policy() -> None:
    wanted = {(t.name, t.role, t.policy) for t in wanted_topics(SETTINGS)}

    assert wanted == {
        ("a", "input", "delete"),
        ("b", "input", "delete"),
        ("s", "status", "delete"),
        ("d", "dlq", "delete"),
        ("io-relay.tracking", "tracking", "compact"),
        ("io-relay.replays", "replay", "compact, or compact,delete outliving the DLQ"),
    }


def test_no_tracking_topic_is_wanted_when_tracking_is_off() -> None:
    settings = SETTINGS.model_copy(
        update={"tracking": SETTINGS.tracking.model_copy(update={"enabled": False})}
    )

    assert "tracking" not in {t.role for t in wanted_topics(settings)}


def test_topics_as_io_relay_needs_them_have_no_problem() -> None:
    assert problems_with(wanted_topics(SETTINGS), GOOD) == []


def test_every_mismatch_is_reported_each_on_its_own() -> None:
    held = {
        **GOOD,
        "s": HeldTopic(12, "compact"),
        "io-relay.tracking": HeldTopic(3, "compact,delete"),
    }
    del held["d"]

    problems = problems_with(wanted_topics(SETTINGS), held)

    assert len(problems) == 4
    assert "dlq topic d: missing" in problems
    assert any(p.startswith("status topic s: cleanup.policy is compact") for p in problems)
    assert any(
        "tracking topic io-relay.tracking: cleanup.policy is compact,delete" in p for p in problems
    )
    assert any("12 partitions, more than the largest input topic's 6" in p for p in problems)


def test_a_replay_topic_compacted_only_or_outliving_the_dlqs_segments_is_fine() -> None:
    day, week = 24 * 3600 * 1000, 7 * 24 * 3600 * 1000
    dlq = HeldTopic(1, "delete", week, segment_ms=day)
    for replays in (
        HeldTopic(1, "compact"),
        HeldTopic(1, "compact,delete", week + day),
        HeldTopic(1, "compact,delete"),  # retention.ms -1: forever
    ):
        held = {**GOOD, "d": dlq, "io-relay.replays": replays}
        assert problems_with(wanted_topics(SETTINGS), held) == []


@pytest.mark.parametrize(
    "dlq_retention_ms",
    [7 * 24 * 3600 * 1000, -1],  # as long as the ledger, but a segment may outlive it; forever
)
def test_a_replay_topic_that_may_forget_before_the_dlq_does_is_a_problem(
    dlq_retention_ms: int,
) -> None:
    week = 7 * 24 * 3600 * 1000
    held = {
        **GOOD,
        "d": HeldTopic(1, "delete", dlq_retention_ms),
        "io-relay.replays": HeldTopic(1, "compact,delete", week),
    }

    [problem] = problems_with(wanted_topics(SETTINGS), held)

    assert problem.startswith("replay topic io-relay.replays: cleanup.policy compact,delete")
    assert "a second replay would send it again" in problem


def test_a_replay_topic_that_is_not_compacted_is_a_problem() -> None:
    held = {**GOOD, "io-relay.replays": HeldTopic(1, "delete")}

    [problem] = problems_with(wanted_topics(SETTINGS), held)

    assert problem.startswith("replay topic io-relay.replays: cleanup.policy is delete")
