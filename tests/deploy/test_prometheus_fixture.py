"""The Prometheus fixture against a real Prometheus, and the dashboard's and alerts' PromQL in it.

Until io-relay serves /metrics, a stand-in exporter built from the metrics contract (same
names, types and labels, prometheus_client like io-relay) gives the dashboard data to show.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector
from prometheus_client.exposition import start_http_server

from consumer.content.metrics import ContentMetrics
from tests.fixtures.ports import free_port
from tests.fixtures.prometheus import (
    PrometheusFactory,
    PrometheusServer,
    alert_expressions,
    dashboard_queries,
    dashboard_targets,
    substitute_grafana_variables,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
ALERTS = REPO_ROOT / "deploy" / "prometheus" / "alerts.yaml"
DASHBOARD = REPO_ROOT / "deploy" / "grafana" / "io-relay.json"
RULES_TIMEOUT_S = 30.0
TICK_S = 0.1


def scraping_itself(start_prometheus: PrometheusFactory, **options: Any) -> PrometheusServer:
    """A Prometheus whose only target (job io-relay) is its own /metrics."""
    port = free_port()
    return start_prometheus([f"127.0.0.1:{port}"], port=port, **options)


def test_prometheus_scrapes_itself(start_prometheus: PrometheusFactory) -> None:
    prometheus = scraping_itself(start_prometheus)
    prometheus.wait_for_scrapes(2)

    up = prometheus.query('up{job="io-relay"}')
    assert [(sample["metric"]["instance"], sample["value"][1]) for sample in up] == [
        (prometheus.url.removeprefix("http://"), "1")
    ]
    build_info = prometheus.query("prometheus_build_info")
    assert build_info
    assert build_info[0]["metric"]["version"]
    assert [(t["labels"]["job"], t["health"]) for t in prometheus.targets()] == [("io-relay", "up")]


def test_query_returns_scalars_as_one_sample(start_prometheus: PrometheusFactory) -> None:
    prometheus = scraping_itself(start_prometheus)

    [sample] = prometheus.query("scalar(vector(42))")

    assert (sample["metric"], sample["value"][1]) == ({}, "42")


def test_query_raises_naming_an_invalid_expression(start_prometheus: PrometheusFactory) -> None:
    prometheus = scraping_itself(start_prometheus)

    with pytest.raises(AssertionError, match=r"sum\(rate\(up\[5m\]\) by"):
        prometheus.query("sum(rate(up[5m]) by")


def test_alert_rules_load_and_evaluate_in_prometheus(start_prometheus: PrometheusFactory) -> None:
    """Prometheus itself, not only promtool, loads the rules and evaluates them without error.

    Its target is up and no io-relay metric exists, so no alert may be pending or firing
    (IoRelayDown's `absent` branch must not fire while a target is up), but the one that says
    no content server is scraped.
    """
    prometheus = scraping_itself(start_prometheus, rule_files=[ALERTS])
    prometheus.wait_for_scrapes(2)
    rules = _evaluated_again(prometheus)

    assert [rule["name"] for rule in rules] == [name for name, _ in alert_expressions(ALERTS)]
    assert {rule["group"] for rule in rules} == {"io-relay"}
    assert [(r["name"], r["lastError"]) for r in rules if r["health"] != "ok"] == []
    # No content server is scraped here: IoRelayContentDown's `absent` branch catches that.
    assert [(r["name"], r["state"]) for r in rules if r["state"] != "inactive"] == [
        ("IoRelayContentDown", "pending")
    ]


def _evaluated_again(prometheus: PrometheusServer) -> list[dict[str, Any]]:
    """The rules once each has been evaluated after this call (so after the scrapes so far)."""
    before = {rule["name"]: rule["lastEvaluation"] for rule in prometheus.rules()}
    deadline = time.monotonic() + RULES_TIMEOUT_S
    while True:
        rules = prometheus.rules()
        if rules and all(rule["lastEvaluation"] != before.get(rule["name"]) for rule in rules):
            return rules
        if time.monotonic() > deadline:
            raise AssertionError(f"rules not evaluated in {RULES_TIMEOUT_S} s: {rules}")
        time.sleep(0.2)


def test_dashboard_and_alert_queries_are_valid_promql(start_prometheus: PrometheusFactory) -> None:
    prometheus = scraping_itself(start_prometheus)
    panels = [
        (title, substitute_grafana_variables(expr, content_job="io-relay-content"))
        for title, expr in dashboard_queries(DASHBOARD)
    ]
    queries = panels + alert_expressions(ALERTS)

    assert len(panels) >= 20
    assert [where for where, expr in queries if not expr.strip() or "$" in expr] == []
    refused = []
    for _, expr in queries:
        try:
            prometheus.query(expr)
        except AssertionError as error:
            refused.append(str(error))
    assert refused == []


def test_substitute_grafana_variables() -> None:
    expr = (
        'sum(rate(x{job="$job", a="${job}", b="[[job]]", c="${job:regex}"}[$__rate_interval])) '
        "+ y[$__interval] + z[$__range] # ${datasource}"
    )

    assert substitute_grafana_variables(expr, rate_interval="1m", job="relay") == (
        'sum(rate(x{job="relay", a="relay", b="relay", c="relay"}[1m])) '
        "+ y[1m] + z[1h] # prometheus"
    )
    with pytest.raises(KeyError, match="instance"):
        substitute_grafana_variables('up{instance="$instance"}')


def test_dashboard_queries_reads_the_panels_of_collapsed_rows(tmp_path: Path) -> None:
    dashboard = tmp_path / "dashboard.json"
    dashboard.write_text(
        """{"panels": [
            {"type": "stat", "title": "top", "targets": [{"expr": "up"}, {"refId": "B"}]},
            {"type": "row", "title": "row", "collapsed": true, "panels": [
                {"type": "timeseries", "title": "inner", "targets": [{"expr": "a"}, {"expr": "b"}]}
            ]}
        ]}"""
    )

    assert dashboard_queries(dashboard) == [("top", "up"), ("inner", "a"), ("inner", "b")]


# --- The dashboard against an exporter that follows the metrics contract ---------------------


class ContractExporter:
    """io-relay's metrics as the contract defines them, moving a little every TICK_S."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        r = self.registry
        self.consumed = Counter("io_relay_events_consumed", "", ["topic", "type"], registry=r)
        self.outcomes = Counter("io_relay_outcomes", "", ["rule", "service", "outcome"], registry=r)
        self.calls = Counter("io_relay_io_calls", "", ["endpoint", "status_code"], registry=r)
        self.duration = Histogram("io_relay_io_call_duration_seconds", "", ["endpoint"], registry=r)
        self.retries = Counter("io_relay_io_retries", "", ["endpoint", "reason"], registry=r)
        self.limited = Counter("io_relay_io_rate_limited", "", ["account"], registry=r)
        self.waits = Histogram("io_relay_limiter_wait_seconds", "", ["account"], registry=r)
        self.pace = Gauge("io_relay_io_pace_calls", "", ["account"], registry=r)
        self.share = Gauge("io_relay_group_share", "", registry=r)
        self.postponed = Counter("io_relay_deliveries_postponed", "", ["service"], registry=r)
        self.in_flight = Gauge("io_relay_events_in_flight", "", registry=r)
        self.assigned = Gauge("io_relay_partitions_assigned", "", registry=r)
        self.paused = Gauge("io_relay_partitions_paused", "", registry=r)
        self.lag = Gauge("io_relay_consumer_lag", "", ["topic", "partition"], registry=r)
        self.reachable = Gauge("io_relay_broker_reachable", "", registry=r)
        self.dlq = Counter("io_relay_dlq_records", "", ["topic", "stage"], registry=r)
        self.last_submit = Gauge("io_relay_last_submit_timestamp_seconds", "", registry=r)
        self.window = Histogram("io_relay_double_send_window_seconds", "", registry=r)
        self.lifecycle = Counter(
            "io_relay_lifecycle_records", "", ["rule", "service", "stage", "outcome"], registry=r
        )
        self.to_processed = Histogram(
            "io_relay_submit_to_processed_seconds", "", ["service"], registry=r
        )
        self.tracked = Gauge("io_relay_messages_tracked", "", registry=r)
        self.build = Gauge("io_relay_build_info", "", ["version", "python_version"], registry=r)
        # io-relay content's (consumer/content/metrics.py), here under the same job.
        self.content = ContentMetrics(registry=r)
        self.content.hold(lambda: 25)
        self.build.labels("0.1.0", "3.11.7").set(1)
        self.assigned.set(6)
        self.reachable.set(1)
        self.pace.labels("comune").set(50)
        self.share.set(1 / 3)

    def tick(self) -> None:
        topic = "tributi.events"
        self.consumed.labels(topic, "payment_notice.issued").inc()
        self.outcomes.labels("tari-notice", "tari", "SUBMITTED").inc()
        self.outcomes.labels("none", "none", "SKIPPED").inc()
        for endpoint, status in [("profile", "200"), ("submit", "201"), ("submit", "429")]:
            self.calls.labels(endpoint, status).inc()
            self.duration.labels(endpoint).observe(0.08)
        self.retries.labels("submit", "rate_limited").inc()
        self.limited.labels("comune").inc()
        self.waits.labels("comune").observe(0.3)
        self.postponed.labels("tari").inc()
        self.in_flight.set(3)
        self.paused.set(1)
        self.lag.labels(topic, "0").set(12)
        self.dlq.labels(topic, "decode").inc()
        self.last_submit.set(time.time())
        self.window.observe(0.015)
        self.lifecycle.labels("tari-notice", "tari", "PROCESSING", "PROCESSED").inc()
        self.lifecycle.labels("tari-notice", "tari", "READING", "READ").inc()
        self.to_processed.labels("tari").observe(31.0)
        self.tracked.set(40)
        self.content.answered("details", "ok", 0.004)
        self.content.answered("attachment", "ok", 0.3)
        self.content.answered("attachment", "unavailable", 3.0)
        self.content.relayed(120_000)


@pytest.fixture
def contract_exporter() -> Iterator[str]:
    """host:port of a /metrics following the contract, its counters moving."""
    exporter = ContractExporter()
    port = free_port()
    server, _ = start_http_server(port, addr="127.0.0.1", registry=exporter.registry)
    stopping = threading.Event()

    def run() -> None:
        while not stopping.wait(TICK_S):
            exporter.tick()

    ticker = threading.Thread(target=run, daemon=True)
    ticker.start()
    yield f"127.0.0.1:{port}"
    stopping.set()
    ticker.join()
    server.shutdown()
    server.server_close()


def test_every_dashboard_query_shows_data_from_the_contracts_metrics(
    start_prometheus: PrometheusFactory, contract_exporter: str
) -> None:
    """No panel says "No data" and every legend's labels exist: catches a misspelt label."""
    prometheus = start_prometheus([contract_exporter])
    prometheus.wait_for_scrapes(4)

    problems = []
    for title, target in dashboard_targets(DASHBOARD):
        # One job scrapes the exporter: the content server's panels look there too.
        expr = substitute_grafana_variables(
            target["expr"], rate_interval="30s", content_job="io-relay"
        )
        samples = prometheus.query(expr)
        legend_labels = set(_legend_labels(target.get("legendFormat", "")))
        if not samples:
            problems.append(f"{title!r}: no data from {expr}")
        elif missing := {name for s in samples for name in legend_labels - set(s["metric"])}:
            problems.append(f"{title!r}: legend labels {sorted(missing)} absent from {expr}")
    assert problems == []


def _legend_labels(legend: str) -> list[str]:
    """The label names a Grafana legend format like ``{{topic}}/{{partition}}`` shows."""
    return [part.split("}}")[0].strip() for part in legend.split("{{")[1:]]
