"""The alerting rules and the Grafana dashboard, checked without a running io-relay.

promtool validates the rules and runs their unit tests (every alert fires when it should and
stays quiet otherwise); the rest checks what promtool does not: every alert carries what an
operator needs (severity, summary, description, a runbook anchor), and the rules and the
dashboard read only metrics io-relay exports.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.fixtures.prometheus import (
    alert_expressions,
    content_metric_names,
    dashboard_queries,
    dashboard_targets,
    exported_metric_names,
    metric_names,
    substitute_grafana_variables,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
ALERTS = REPO_ROOT / "deploy" / "prometheus" / "alerts.yaml"
ALERT_TESTS = REPO_ROOT / "deploy" / "prometheus" / "alerts.test.yaml"
DASHBOARD = REPO_ROOT / "deploy" / "grafana" / "io-relay.json"
README = REPO_ROOT / "README.md"
RUNBOOK_URL = "https://github.com/example/io-relay/blob/main/README.md#runbook-"
SEVERITIES = {"page", "ticket"}
KINDS = (("firing", True), ("quiet", False))
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}


RELAY_JOB, CONTENT_JOB = "io-relay", "io-relay-content"
CONTENT_METRIC = re.compile(r"io_relay_content_[a-z_]+")


CONTENT_METRICS = content_metric_names()
EXPORTED_METRICS = exported_metric_names() | CONTENT_METRICS

IO_RELAY_METRIC = re.compile(r"io_relay_[a-z_]+")
HISTOGRAM_SERIES = re.compile(r"_(bucket|sum|count)$")


def _alert_rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(ALERTS.read_text())
    return [rule for group in document["groups"] for rule in group["rules"] if "alert" in rule]


ALERT_RULES = _alert_rules()
ALERT_NAMES = [rule["alert"] for rule in ALERT_RULES]


def _exported(name: str) -> bool:
    """Whether io-relay exports ``name``, a histogram's _bucket/_sum/_count series included."""
    return name in EXPORTED_METRICS or HISTOGRAM_SERIES.sub("", name) in EXPORTED_METRICS


def _all_queries() -> list[tuple[str, str]]:
    """(where, expr) of every alert and every dashboard target, variables substituted."""
    alerts = [(f"alert {name}", expr) for name, expr in alert_expressions(ALERTS)]
    panels = [
        (f"panel {title!r}", substitute_grafana_variables(expr, content_job=CONTENT_JOB))
        for title, expr in dashboard_queries(DASHBOARD)
    ]
    return alerts + panels


def _promtool(*arguments: str) -> subprocess.CompletedProcess[str]:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not on PATH (apt-get install prometheus)")
    return subprocess.run(
        [promtool, *arguments],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO_ROOT,
    )


def test_promtool_accepts_the_rules() -> None:
    result = _promtool("check", "rules", str(ALERTS))
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests_of_the_rules_pass() -> None:
    result = _promtool("test", "rules", str(ALERT_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_is_unit_tested_firing_and_quiet() -> None:
    """A quiet case that names a misspelt alert would pass vacuously: names must exist too."""
    cases: dict[str, set[bool]] = {}  # alert name -> whether a case expects it to fire
    for group in yaml.safe_load(ALERT_TESTS.read_text())["tests"]:
        for case in group["alert_rule_test"]:
            cases.setdefault(case["alertname"], set()).add(bool(case["exp_alerts"]))
    assert set(cases) <= set(ALERT_NAMES), (
        f"tests name unknown alerts: {set(cases) - set(ALERT_NAMES)}"
    )
    lacking = {
        name: [kind for kind, fires in KINDS if fires not in cases.get(name, set())]
        for name in ALERT_NAMES
    }
    assert {name: kinds for name, kinds in lacking.items() if kinds} == {}


def test_the_rules_hold_the_expected_alerts() -> None:
    assert ALERT_NAMES == [
        "IoRelayDown",
        "IoRelayConsumerLagGrowing",
        "IoRelayDlqRateHigh",
        "IoRelayIoServerErrors",
        "IoRelayIoRateLimited",
        "IoRelayNoSuccessfulSubmit",
        "IoRelayPartitionsPausedLong",
        "IoRelayBrokerUnreachable",
        "IoRelayContentDown",
        "IoRelayContentUnavailable",
        "IoRelayContentRefusedDocuments",
    ]
    assert [group["name"] for group in yaml.safe_load(ALERTS.read_text())["groups"]] == ["io-relay"]


@pytest.mark.parametrize("rule", ALERT_RULES, ids=ALERT_NAMES)
def test_alert_tells_the_operator_what_to_do(rule: dict[str, Any]) -> None:
    name = rule["alert"]
    assert rule.get("for"), "every alert waits before firing"
    assert rule["labels"]["severity"] in SEVERITIES
    annotations = rule["annotations"]
    assert annotations["summary"].strip()
    assert annotations["description"].strip()
    assert annotations["runbook_url"] == f"{RUNBOOK_URL}{name.lower()}"


def test_alerts_and_dashboard_read_only_exported_io_relay_metrics() -> None:
    unknown = {
        (where, name)
        for where, expr in _all_queries()
        for name in IO_RELAY_METRIC.findall(expr)
        if not _exported(name)
    }
    assert unknown == set(), "not in the metrics contract"


def test_alerts_and_dashboard_read_no_other_metric() -> None:
    """Besides io-relay's own metrics, only `up` and prometheus_client's process_*."""
    others = {
        (where, name)
        for where, expr in _all_queries()
        for name in metric_names(expr)
        if not (_exported(name) or name == "up" or name.startswith("process_"))
    }
    assert others == set()


def test_content_metrics_are_the_content_servers_own() -> None:
    assert sorted(CONTENT_METRICS) == [
        "io_relay_content_attachment_bytes_total",
        "io_relay_content_remote_records",
        "io_relay_content_request_seconds",
        "io_relay_content_requests_total",
    ]
    assert not CONTENT_METRICS & exported_metric_names(), "the relay exports none of them"


@pytest.mark.parametrize(("name", "expr"), alert_expressions(ALERTS), ids=ALERT_NAMES)
def test_each_alert_selects_the_job_that_exports_what_it_reads(name: str, expr: str) -> None:
    """The content server is scraped as its own job: a content alert on job="io-relay" would
    never fire, a relay alert on the content job neither."""
    jobs = set(re.findall(r'job="([^"]*)"', expr))
    reads_content = bool(CONTENT_METRIC.search(expr)) or name.startswith("IoRelayContent")
    assert jobs == {CONTENT_JOB if reads_content else RELAY_JOB}


def test_each_dashboard_panel_selects_the_job_that_exports_what_it_reads() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    variables = {variable["name"]: variable for variable in dashboard["templating"]["list"]}
    assert variables["content_job"]["query"]["query"] == (
        "label_values(io_relay_content_requests_total, job)"
    )
    assert variables["content_job"]["current"]["value"] == CONTENT_JOB
    rows: dict[str, str] = {}
    row = ""
    for panel in sorted(dashboard["panels"], key=lambda p: (p["gridPos"]["y"], p["gridPos"]["x"])):
        if panel["type"] == "row":
            row = panel["title"]
            continue
        for target in panel.get("targets", []):
            rows[target["expr"]] = row
    wrong = []
    for expr, row in rows.items():
        jobs = set(re.findall(r'job="([^"]*)"', expr))
        content = row == "Content server"
        # up and process_* are every job's own: the job label says whose.
        job_neutral = "up{" in expr or expr.startswith("process_")
        if bool(CONTENT_METRIC.search(expr)) != content and not job_neutral:
            wrong.append(f"{row}: {expr}")
        if jobs != {"$content_job" if content else "$job"}:
            wrong.append(f"{row}: {expr}")
    assert wrong == []


def test_metric_names_reads_names_not_functions_labels_or_numbers() -> None:
    expr = (
        'sum by (job, le) (rate(a_total{job="x", le=~"1|b_total"}[5m] offset 1m)) '
        "/ on (job) group_left (le) b unless histogram_quantile(0.9, c_bucket) > 1e3 "
        "and time() - d[10m:1m]"
    )
    assert metric_names(expr) == {"a_total", "b", "c_bucket", "d"}


def test_dashboard_shows_every_exported_metric() -> None:
    """A new metric with no panel would only be seen by whoever reads /metrics by hand."""
    names = {
        name for _, expr in dashboard_queries(DASHBOARD) for name in IO_RELAY_METRIC.findall(expr)
    }
    shown = names | {HISTOGRAM_SERIES.sub("", name) for name in names}
    assert sorted(EXPORTED_METRICS - shown) == []


def test_dashboard_is_the_io_relay_dashboard() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert (dashboard["uid"], dashboard["title"], dashboard["schemaVersion"]) == (
        "io-relay",
        "io-relay",
        39,
    )
    variables = {variable["name"]: variable for variable in dashboard["templating"]["list"]}
    assert (variables["datasource"]["type"], variables["datasource"]["query"]) == (
        "datasource",
        "prometheus",
    )


def test_every_dashboard_panel_uses_the_datasource_variable() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    panels = [panel for panel in dashboard["panels"] if panel["type"] != "row"]
    assert [p["title"] for p in panels if p.get("datasource") != DATASOURCE] == []
    targets = dashboard_targets(DASHBOARD)
    assert [title for title, target in targets if target.get("datasource") != DATASOURCE] == []


def test_dashboard_panels_fit_the_grid_without_overlapping() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    cells: dict[tuple[int, int], str] = {}
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] >= 0, panel["title"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in cells, f"{panel['title']!r} overlaps {cells[(x, y)]!r}"
                cells[(x, y)] = panel["title"]
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))


def test_dashboard_rates_use_the_rate_interval() -> None:
    """$__rate_interval is at least four scrapes: a fixed [1m] breaks with a slower scrape."""
    ranges = {
        (title, window)
        for title, expr in dashboard_queries(DASHBOARD)
        for window in re.findall(r"\[([^\]]*)\]", expr)
    }
    assert {(title, window) for title, window in ranges if window != "$__rate_interval"} == set()


def _github_anchor(heading: str) -> str:
    """GitHub's anchor for a Markdown heading: lower case, punctuation dropped, - for spaces."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_readme_has_a_runbook_section_per_alert() -> None:
    readme = README.read_text()
    if not re.search(r"^## Runbook\s*$", readme, re.MULTILINE):
        pytest.skip("README.md has no '## Runbook' section yet")
    anchors = {
        _github_anchor(line.lstrip("#")) for line in readme.splitlines() if line.startswith("#")
    }
    missing = [
        rule["annotations"]["runbook_url"]
        for rule in ALERT_RULES
        if rule["annotations"]["runbook_url"].rpartition("#")[2] not in anchors
    ]
    assert missing == []
