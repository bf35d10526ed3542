"""The dashboard and the alerts read metrics io-relay really exports, through a real Prometheus.

A real Prometheus on loopback scrapes a real relay (real broker, the IO sandbox) through a
demo-sized run, with the alert rules loaded. Then every dashboard query and every alert
expression is evaluated through Prometheus' HTTP API. A panel that names a metric io-relay
does not export, or a label it does not carry, or that shows nothing after a run, fails here
rather than on a dark night in Grafana.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.fixtures.kafka import TopicFactory
from tests.fixtures.kafka_io import produce
from tests.fixtures.ports import free_port
from tests.fixtures.prometheus import (
    PrometheusFactory,
    PrometheusServer,
    alert_expressions,
    dashboard_queries,
    metric_names,
    scrape,
    substitute_grafana_variables,
)
from tests.fixtures.relay import (
    RelayFactory,
    RelayTopics,
    generate_events,
    relay_topics,
    wait_for_terminal,
    wait_until,
    write_relay_config,
)
from tests.fixtures.sandbox import SandboxFactory

pytestmark = pytest.mark.kafka

REPO = Path(__file__).resolve().parents[2]
DASHBOARD = REPO / "deploy" / "grafana" / "io-relay.json"
ALERTS = REPO / "deploy" / "prometheus" / "alerts.yaml"
EVENTS = 400
PARTITIONS = 3
SCRAPES = 8  # enough samples inside every rate window below
RATE_INTERVAL = "5m"  # as Grafana would show the run over the last five minutes
PROMETHEUS_OWN = frozenset({"up", "scrape_duration_seconds", "scrape_samples_scraped"})
_SELECTOR = re.compile(r"\b([a-zA-Z_:][\w:]*)\s*\{([^{}]*)\}")
_MATCHER = re.compile(r"([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)")
_HISTOGRAM_PARTS = ("_bucket", "_sum", "_count")
# `io-relay content` is another process, scraped as its own job: this run has none. Its
# panels and alerts are checked against its metrics by tests/deploy/.
_CONTENT = re.compile(r"io_relay_content_|\$content_job|io-relay-content")


def exported_series(metrics_url: str) -> dict[str, set[str]]:
    """Each series name io-relay exports, with the label names it carries."""
    return {
        name: {label for labels in samples for label, _ in labels}
        for name, samples in scrape(metrics_url).items()
    }


def selectors(expr: str) -> list[tuple[str, set[str]]]:
    """(metric, label names matched) of every `metric{...}` selector in the expression."""
    return [(name, set(_MATCHER.findall(matchers))) for name, matchers in _SELECTOR.findall(expr)]


def problems_with(
    where: str, expr: str, exported: dict[str, set[str]], prometheus: PrometheusServer
) -> list[str]:
    """What is wrong with the names in one expression; empty when nothing is."""
    problems = []
    for name in metric_names(expr):
        if name not in exported and name not in PROMETHEUS_OWN:
            problems.append(f"{where}: io-relay exports no metric {name!r}")
    for name, labels in selectors(expr):
        if name in PROMETHEUS_OWN:
            continue
        carried = exported.get(name, set()) | {"job", "instance"}
        unknown = labels - carried - {"__name__"}
        if unknown:
            problems.append(f"{where}: {name} has no label {sorted(unknown)}")
        elif not prometheus.query(f"count({name})"):
            problems.append(f"{where}: Prometheus holds no series of {name}")
    return problems


@pytest.fixture
def topics(new_topic: TopicFactory) -> RelayTopics:
    return relay_topics(new_topic, partitions=PARTITIONS)


def test_every_panel_and_alert_reads_series_io_relay_exports(
    *,
    kafka_bootstrap: str,
    topics: RelayTopics,
    start_sandbox: SandboxFactory,
    start_relay: RelayFactory,
    start_prometheus: PrometheusFactory,
    tmp_path: Path,
) -> None:
    samples = generate_events(EVENTS)
    sandbox = start_sandbox(profiles=samples.profiles_document(), rate_limit="off")
    port = free_port()
    config = write_relay_config(
        tmp_path / "relay.yaml",
        bootstrap=kafka_bootstrap,
        topics=topics,
        group=f"relay-{topics.events}",
        base_url=sandbox.base_url,
        metrics_port=port,
    )
    relay = start_relay(config)
    prometheus = start_prometheus([f"127.0.0.1:{port}"], rule_files=[ALERTS])
    prometheus.wait_for_scrapes(2, timeout_s=60)  # the counters' zeros, before any traffic
    delivered = produce(kafka_bootstrap, topics.events, samples.records())
    wait_for_terminal(
        kafka_bootstrap, topics.status, samples, delivered, timeout=120, watch=[relay]
    )
    prometheus.wait_for_scrapes(SCRAPES, timeout_s=60)
    exported = exported_series(f"http://127.0.0.1:{port}/metrics")

    def rules_evaluated() -> bool:
        return all(rule.get("lastEvaluation", "").startswith("20") for rule in prometheus.rules())

    wait_until(rules_evaluated, timeout=30, what="every alert rule evaluated", watch=[relay])

    problems: list[str] = []
    queries = [
        (title, raw) for title, raw in dashboard_queries(DASHBOARD) if not _CONTENT.search(raw)
    ]
    assert len(queries) >= 20, "the dashboard lost its panels"
    for title, raw in queries:
        expr = substitute_grafana_variables(raw, rate_interval=RATE_INTERVAL)
        problems += problems_with(f"panel {title!r}", expr, exported, prometheus)
        if not prometheus.query(expr):
            problems.append(f"panel {title!r}: no series for {expr}")

    alerts = [(name, expr) for name, expr in alert_expressions(ALERTS) if not _CONTENT.search(expr)]
    assert len(alerts) >= 8, "an alert went missing"
    for name, expr in alerts:
        problems += problems_with(f"alert {name}", expr, exported, prometheus)
        prometheus.query(expr)  # raises on an expression Prometheus refuses
    for rule in prometheus.rules():
        if rule.get("health") != "ok":
            problems.append(
                f"rule {rule.get('name')}: {rule.get('health')} {rule.get('lastError')}"
            )

    assert problems == [], "\n".join(problems)
    # The run was healthy: nothing should be firing (pending is allowed: `for` not yet met).
    firing = [r["name"] for r in prometheus.rules() if r.get("state") == "firing"]
    assert firing == []
    assert relay.running
