"""Metrics against the contract (issue 6): each hook moves exactly the series it names, series
known up front exist at zero, and no label ever carries a fiscal code or an event id."""

from __future__ import annotations

import platform
import re
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import REGISTRY, CollectorRegistry

from consumer.io.models import FISCAL_CODE_PATTERN, ULID_PATTERN
from consumer.observability.metrics import DLQ_STAGES, Metrics
from consumer.report import (
    DELIVERY_OUTCOMES,
    LIFECYCLE_OUTCOMES,
    ErrorInfo,
    InputPosition,
    Outcome,
    StatusRecord,
)
from tests.fixtures.prometheus import content_metric_names, exported_metric_names

TOPIC = "tributi.events"
CITIZEN = "RSSMRA85T10A562S"
EVENT_ID = "2f7c9e4a-5b1d-4c3e-9a8f-0d6b7e1c2a3b"
MESSAGE_ID = "01JQ0000000000000000000000"
# Anchored in the model; a label must not carry a code anywhere, in any case.
CODE_ANYWHERE = re.compile(FISCAL_CODE_PATTERN.strip("^$"), re.IGNORECASE)

Series = tuple[str, tuple[tuple[str, str], ...]]
Changes = dict[Series, float | None]


def series(name: str, **labels: str) -> Series:
    return name, tuple(sorted(labels.items()))


def snapshot(metrics: Metrics) -> dict[Series, float]:
    return {
        series(sample.name, **sample.labels): sample.value
        for family in metrics.registry.collect()
        for sample in family.samples
        if sample.name.startswith("io_relay_") and not sample.name.endswith("_created")
    }


def moved(metrics: Metrics, hook: Callable[[Metrics], None]) -> Changes:
    """The io_relay series a hook created or changed (new value) or removed (None)."""
    before = snapshot(metrics)
    hook(metrics)
    after = snapshot(metrics)
    changes: Changes = {key: value for key, value in after.items() if before.get(key) != value}
    changes.update(dict.fromkeys(before.keys() - after.keys()))
    return changes


def without_buckets(changes: Changes) -> Changes:
    return {key: value for key, value in changes.items() if not key[0].endswith("_bucket")}


def buckets_moved(changes: Changes) -> set[str]:
    """The buckets that counted the observation (not those merely created at zero)."""
    return {
        dict(labels)["le"]
        for (name, labels), count in changes.items()
        if name.endswith("_bucket") and count
    }


def value(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def status(outcome: Outcome, **fields: Any) -> StatusRecord:
    record: dict[str, Any] = {
        "event_id": EVENT_ID,
        "event_type": "payment.due",
        "rule": "tari-due",
        "service": "tari",
        "outcome": outcome,
        "input": InputPosition(topic=TOPIC, partition=0, offset=7),
    }
    return StatusRecord(**(record | fields))


@pytest.fixture
def metrics() -> Metrics:
    return Metrics(CollectorRegistry())


# --- the IO client's hooks and the simple runtime hooks -------------------------------------


@pytest.mark.parametrize(
    ("hook", "expected"),
    [
        pytest.param(
            lambda m: m.call_finished("submit", 201, 0.03),
            {
                series("io_relay_io_calls_total", endpoint="submit", status_code="201"): 1.0,
                series("io_relay_io_call_duration_seconds_count", endpoint="submit"): 1.0,
                series("io_relay_io_call_duration_seconds_sum", endpoint="submit"): 0.03,
            },
            id="call_finished",
        ),
        pytest.param(
            lambda m: m.call_finished("profile", None, 2.0),
            {
                series("io_relay_io_calls_total", endpoint="profile", status_code="none"): 1.0,
                series("io_relay_io_call_duration_seconds_count", endpoint="profile"): 1.0,
                series("io_relay_io_call_duration_seconds_sum", endpoint="profile"): 2.0,
            },
            id="call_finished-no-answer",
        ),
        pytest.param(
            lambda m: m.retrying("get_message", "unreachable", 0.5),
            {
                series(
                    "io_relay_io_retries_total", endpoint="get_message", reason="unreachable"
                ): 1.0
            },
            id="retrying",
        ),
        pytest.param(
            lambda m: m.rate_limited("comune", 3.0),
            {series("io_relay_io_rate_limited_total", account="comune"): 1.0},
            id="rate_limited",
        ),
        pytest.param(
            lambda m: m.limiter_waited("comune", 0.2),
            {
                series("io_relay_limiter_wait_seconds_count", account="comune"): 1.0,
                series("io_relay_limiter_wait_seconds_sum", account="comune"): 0.2,
            },
            id="limiter_waited",
        ),
        pytest.param(
            lambda m: m.delivery_postponed("tari"),
            {series("io_relay_deliveries_postponed_total", service="tari"): 1.0},
            id="delivery_postponed",
        ),
        pytest.param(
            lambda m: m.double_send_window(0.004),
            {
                series("io_relay_double_send_window_seconds_count"): 1.0,
                series("io_relay_double_send_window_seconds_sum"): 0.004,
            },
            id="double_send_window",
        ),
        pytest.param(
            lambda m: m.loop_state(in_flight=17, assigned=3, paused=2),
            {
                series("io_relay_events_in_flight"): 17.0,
                series("io_relay_partitions_assigned"): 3.0,
                series("io_relay_partitions_paused"): 2.0,
            },
            id="loop_state",
        ),
    ],
)
def test_each_hook_moves_exactly_its_series(
    metrics: Metrics, hook: Callable[[Metrics], None], expected: Changes
) -> None:
    assert without_buckets(moved(metrics, hook)) == expected


@pytest.mark.parametrize(
    ("hook", "buckets"),
    [
        (
            lambda m: m.call_finished("submit", 201, 0.03),
            {"0.05", "0.1", "0.25", "0.5", "1.0", "2.5", "5.0", "10.0", "30.0", "+Inf"},
        ),
        (lambda m: m.limiter_waited("comune", 3.0), {"5.0", "10.0", "30.0", "+Inf"}),
        (lambda m: m.double_send_window(0.3), {"0.5", "1.0", "5.0", "+Inf"}),
    ],
    ids=["io_call_duration", "limiter_wait", "double_send_window"],
)
def test_histograms_fill_the_buckets_at_and_above_the_observation(
    metrics: Metrics, hook: Callable[[Metrics], None], buckets: set[str]
) -> None:
    assert buckets_moved(moved(metrics, hook)) == buckets


def test_repeated_hooks_add_up(metrics: Metrics) -> None:
    for status_code in (503, 503, 201):
        metrics.call_finished("submit", status_code, 0.1)

    assert value(metrics, "io_relay_io_calls_total", endpoint="submit", status_code="503") == 2
    assert value(metrics, "io_relay_io_calls_total", endpoint="submit", status_code="201") == 1
    assert value(metrics, "io_relay_io_call_duration_seconds_count", endpoint="submit") == 3


# --- handled: events, outcomes, dead letters, last submit -----------------------------------


def test_handled_counts_the_event_and_each_status_by_rule_service_and_outcome(
    metrics: Metrics,
) -> None:
    statuses = [
        status(Outcome.FAILED),
        status(Outcome.NOT_SENT_PROFILE_NOT_FOUND, rule="tari-late", service="tari-2"),
        status(Outcome.FAILED),
    ]

    changes = moved(metrics, lambda m: m.handled(TOPIC, "payment.due", statuses, None))

    assert changes == {
        series("io_relay_events_consumed_total", topic=TOPIC, type="payment.due"): 1.0,
        series("io_relay_outcomes_total", rule="tari-due", service="tari", outcome="FAILED"): 2.0,
        series(
            "io_relay_outcomes_total",
            rule="tari-late",
            service="tari-2",
            outcome="NOT_SENT_PROFILE_NOT_FOUND",
        ): 1.0,
    }


def test_an_undecodable_record_is_undecoded_without_a_rule_and_dead_lettered(
    metrics: Metrics,
) -> None:
    invalid = status(Outcome.INVALID, event_id=None, event_type=None, rule=None, service=None)

    changes = moved(metrics, lambda m: m.handled(TOPIC, None, [invalid], "decode"))

    assert changes == {
        series("io_relay_events_consumed_total", topic=TOPIC, type="undecoded"): 1.0,
        series("io_relay_outcomes_total", rule="none", service="none", outcome="INVALID"): 1.0,
        series("io_relay_dlq_records_total", topic=TOPIC, stage="decode"): 1.0,
    }


def test_a_skipped_event_counts_under_no_rule(metrics: Metrics) -> None:
    skipped = status(Outcome.SKIPPED, rule=None, service=None)

    metrics.handled(TOPIC, "payment.due", [skipped], None)

    skipped_count = value(
        metrics, "io_relay_outcomes_total", rule="none", service="none", outcome="SKIPPED"
    )
    assert skipped_count == 1.0


@pytest.mark.parametrize("stage", DLQ_STAGES)
def test_dead_letters_count_by_input_topic_and_stage(metrics: Metrics, stage: str) -> None:
    changes = moved(metrics, lambda m: m.handled(TOPIC, "payment.due", [], stage))

    assert changes == {
        series("io_relay_events_consumed_total", topic=TOPIC, type="payment.due"): 1.0,
        series("io_relay_dlq_records_total", topic=TOPIC, stage=stage): 1.0,
    }


def test_last_submit_is_zero_until_a_message_is_submitted_then_the_time_of_it(
    metrics: Metrics,
) -> None:
    not_submitted = [status(outcome) for outcome in Outcome if outcome is not Outcome.SUBMITTED]
    metrics.handled(TOPIC, "payment.due", not_submitted, None)
    assert value(metrics, "io_relay_last_submit_timestamp_seconds") == 0.0

    before = time.time()
    metrics.handled(TOPIC, "payment.due", [status(Outcome.SUBMITTED, io_message_id="m")], None)
    after = time.time()
    stamped = value(metrics, "io_relay_last_submit_timestamp_seconds")
    assert stamped is not None
    assert before <= stamped <= after

    metrics.handled(TOPIC, "payment.due", not_submitted, None)
    assert value(metrics, "io_relay_last_submit_timestamp_seconds") == stamped


# --- the broker probe and the lag -----------------------------------------------------------


def lag_series(metrics: Metrics) -> dict[tuple[str, str], float]:
    return {
        (sample.labels["topic"], sample.labels["partition"]): sample.value
        for family in metrics.registry.collect()
        for sample in family.samples
        if sample.name == "io_relay_consumer_lag"
    }


def test_a_probe_sets_reachable_and_the_lag_of_each_partition(metrics: Metrics) -> None:
    metrics.broker_probed({(TOPIC, 0): 5, (TOPIC, 1): 0, ("other", 0): 12})

    assert value(metrics, "io_relay_broker_reachable") == 1.0
    assert lag_series(metrics) == {(TOPIC, "0"): 5.0, (TOPIC, "1"): 0.0, ("other", "0"): 12.0}


def test_a_failed_probe_sets_unreachable_and_keeps_the_last_lag(metrics: Metrics) -> None:
    metrics.broker_probed({(TOPIC, 0): 5, (TOPIC, 1): 9})

    metrics.broker_probed(None)

    assert value(metrics, "io_relay_broker_reachable") == 0.0
    assert lag_series(metrics) == {(TOPIC, "0"): 5.0, (TOPIC, "1"): 9.0}


def test_a_partition_missing_from_a_later_probe_loses_its_lag_series(metrics: Metrics) -> None:
    metrics.broker_probed({(TOPIC, 0): 5, (TOPIC, 1): 9})
    metrics.broker_probed(None)  # the forgotten set must survive a failed probe

    metrics.broker_probed({(TOPIC, 0): 2})

    assert value(metrics, "io_relay_broker_reachable") == 1.0
    assert lag_series(metrics) == {(TOPIC, "0"): 2.0}
    assert value(metrics, "io_relay_consumer_lag", topic=TOPIC, partition="1") is None


def test_losing_every_partition_drops_the_lag_series(metrics: Metrics) -> None:
    metrics.broker_probed({(TOPIC, 0): 5, (TOPIC, 1): 9})

    metrics.loop_state(in_flight=0, assigned=0, paused=0)

    assert lag_series(metrics) == {}
    assert value(metrics, "io_relay_partitions_assigned") == 0.0


def test_losing_every_partition_does_not_make_the_broker_reachable(metrics: Metrics) -> None:
    metrics.broker_probed({(TOPIC, 0): 5})
    metrics.broker_probed(None)  # the broker stops answering, then the partitions go

    metrics.loop_state(in_flight=0, assigned=0, paused=0)

    assert value(metrics, "io_relay_broker_reachable") == 0.0


# --- series made up front -------------------------------------------------------------------


def test_expect_creates_every_known_series_at_zero(metrics: Metrics) -> None:
    topics, event_types = ["tributi.events", "anagrafe.events"], ["payment.due", "id.expiring"]
    rules = [("tari-due", "tari"), ("cie-expiring", "anagrafe")]

    metrics.expect(topics=topics, event_types=event_types, rules=rules, accounts=["comune"])

    expected = {
        *(
            series("io_relay_events_consumed_total", topic=topic, type=event_type)
            for topic in topics
            for event_type in [*event_types, "undecoded"]
        ),
        *(
            series("io_relay_dlq_records_total", topic=topic, stage=stage)
            for topic in topics
            for stage in ("decode", "invalid", "render")
        ),
        *(
            series("io_relay_outcomes_total", rule=rule, service=service, outcome=outcome.value)
            for rule, service in rules
            for outcome in DELIVERY_OUTCOMES
        ),
        *(
            series(
                "io_relay_lifecycle_records_total",
                rule=rule,
                service=service,
                stage=stage.value,
                outcome=outcome.value,
            )
            for rule, service in rules
            for stage, outcome in LIFECYCLE_OUTCOMES
        ),
        *(
            series(f"io_relay_submit_to_processed_seconds_{part}", service=service)
            for _, service in rules
            for part in ("count", "sum")
        ),
        series("io_relay_outcomes_total", rule="none", service="none", outcome="SKIPPED"),
        series("io_relay_outcomes_total", rule="none", service="none", outcome="INVALID"),
        series("io_relay_deliveries_postponed_total", service="tari"),
        series("io_relay_deliveries_postponed_total", service="anagrafe"),
        series("io_relay_io_rate_limited_total", account="comune"),
        series("io_relay_limiter_wait_seconds_count", account="comune"),
        series("io_relay_limiter_wait_seconds_sum", account="comune"),
    }
    made = snapshot(metrics)
    assert len(expected) == 2 * 3 + 2 * 3 + 2 * 8 + 2 * 9 + 2 * 2 + 2 + 2 + 3
    assert {key: made.get(key) for key in expected} == dict.fromkeys(expected, 0.0)
    assert value(metrics, "io_relay_events_consumed_total", topic="x", type="payment.due") is None


def test_endpoints_and_retry_reasons_exist_at_zero_from_the_start(metrics: Metrics) -> None:
    made = snapshot(metrics)

    for endpoint in ("profile", "submit", "get_message"):
        assert made[series("io_relay_io_call_duration_seconds_count", endpoint=endpoint)] == 0.0
        for reason in ("rate_limited", "server_error", "no_answer", "unreachable"):
            key = series("io_relay_io_retries_total", endpoint=endpoint, reason=reason)
            assert made[key] == 0.0


def test_expect_after_traffic_keeps_the_counts(metrics: Metrics) -> None:
    metrics.handled(TOPIC, "payment.due", [status(Outcome.FAILED)], "render")

    metrics.expect(
        topics=[TOPIC], event_types=["payment.due"], rules=[("tari-due", "tari")], accounts=[]
    )

    assert value(metrics, "io_relay_events_consumed_total", topic=TOPIC, type="payment.due") == 1
    assert value(metrics, "io_relay_dlq_records_total", topic=TOPIC, stage="render") == 1
    assert (
        value(metrics, "io_relay_outcomes_total", rule="tari-due", service="tari", outcome="FAILED")
        == 1
    )


# --- build, registries ----------------------------------------------------------------------


def test_build_info_is_one_with_the_package_version(metrics: Metrics) -> None:
    package = version("io-relay")

    assert package != "unknown"
    assert (
        value(
            metrics,
            "io_relay_build_info",
            version=package,
            python_version=platform.python_version(),
        )
        == 1.0
    )
    builds = [key for key in snapshot(metrics) if key[0] == "io_relay_build_info"]
    assert len(builds) == 1


def test_two_instances_on_their_own_registries_do_not_collide() -> None:
    first, second = Metrics(), Metrics(CollectorRegistry())

    first.rate_limited("comune", 1.0)
    first.rate_limited("comune", 1.0)
    second.rate_limited("comune", 1.0)

    assert first.registry is not second.registry
    assert value(first, "io_relay_io_rate_limited_total", account="comune") == 2.0
    assert value(second, "io_relay_io_rate_limited_total", account="comune") == 1.0


def test_a_registry_takes_the_metrics_once() -> None:
    registry = CollectorRegistry()
    Metrics(registry)

    with pytest.raises(ValueError, match="Duplicated timeseries"):
        Metrics(registry)


def test_the_global_registry_is_left_alone() -> None:
    Metrics().rate_limited("comune", 1.0)

    leaked = REGISTRY.get_sample_value("io_relay_io_rate_limited_total", {"account": "comune"})
    assert leaked is None


# --- no personal data, no ids in labels -----------------------------------------------------


def label_values(metrics: Metrics) -> set[str]:
    return {
        label
        for family in metrics.registry.collect()
        for sample in family.samples
        for label in sample.labels.values()
    }


def test_the_detector_sees_a_code_inside_a_label() -> None:
    assert CODE_ANYWHERE.search(f"tari-{CITIZEN.lower()}-2024")


def test_no_label_carries_the_citizen_or_the_event(metrics: Metrics) -> None:
    statuses = [
        status(
            outcome,
            event_id=f"tari-{CITIZEN}-2024",
            io_message_id=MESSAGE_ID,
            error=ErrorInfo(type="Refused", detail=f"no profile for {CITIZEN}"),
        )
        for outcome in Outcome
    ]

    metrics.handled(TOPIC, "payment.due", statuses, "render")

    values = label_values(metrics)
    assert "payment.due" in values  # the labels were read
    assert not [label for label in values if CODE_ANYWHERE.search(label)]
    assert not values & {f"tari-{CITIZEN}-2024", MESSAGE_ID}


fiscal_codes = st.from_regex(FISCAL_CODE_PATTERN, fullmatch=True)
handled_statuses = st.lists(
    st.builds(
        lambda event_id, code, message_id, outcome, rule: status(
            outcome,
            event_id=event_id,
            rule=rule[0] if rule else None,
            service=rule[1] if rule else None,
            io_message_id=message_id,
            error=ErrorInfo(type="GaveUp", detail=f"IO on {code}: 503"),
        ),
        st.one_of(st.uuids().map(str), fiscal_codes.map(lambda code: f"tari-{code}")),
        fiscal_codes,
        st.from_regex(ULID_PATTERN, fullmatch=True),
        st.sampled_from(list(Outcome)),
        st.sampled_from([None, ("tari-due", "tari"), ("imu-due", "imu")]),
    ),
    min_size=1,
    max_size=6,
)


@settings(max_examples=60, deadline=None)
@given(
    statuses=handled_statuses,
    event_type=st.sampled_from([None, "payment.due"]),
    stage=st.sampled_from([None, *DLQ_STAGES]),
)
def test_no_label_ever_carries_a_fiscal_code_or_an_id(
    statuses: list[StatusRecord], event_type: str | None, stage: str | None
) -> None:
    metrics = Metrics(CollectorRegistry())

    metrics.handled(TOPIC, event_type, statuses, stage)

    values = label_values(metrics)
    assert not [label for label in values if CODE_ANYWHERE.search(label)]
    ids = {record.event_id for record in statuses} | {record.io_message_id for record in statuses}
    assert not values & ids


def test_every_metric_is_documented_in_the_readme_and_nothing_else_is() -> None:
    """The README's table is the operators' contract: it must name exactly what is exported."""
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    documented = set(re.findall(r"^\| `(io_relay_\w+)`", readme, flags=re.MULTILINE))
    assert documented == exported_metric_names() | content_metric_names()
