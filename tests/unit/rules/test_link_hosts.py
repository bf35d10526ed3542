"""link() leads only to the hosts the operator allowed, config-wide or per rule."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from consumer.errors import RenderError
from consumer.events import EventTypes
from consumer.rules import RuleChecks, RulesError, load_rules, render
from consumer.rules.link_hosts import LinkHosts
from consumer.rules.render import example_event
from tests.unit.rules.conftest import RuleWriter

DOCUMENT = {
    "recipient_fiscal_code": "AAAAAA00A00A000A",
    "document_id": "D-1",
    "title": "Certificato",
    "download_url": "https://documenti.comune.example/d/1",
}
PREFIX = "Il documento che hai chiesto al Comune è pronto e puoi scaricarlo da qui, o in ufficio: "
LINKED = {
    "subject": "Documento pronto",
    "markdown": PREFIX
    + "{% if data.download_url is defined %}{{ link(data.download_url, 'scarica') }}{% endif %}",
}


def document_rule(rule_file: RuleWriter, **parts: object) -> Path:
    return rule_file(
        name="document",
        event_type="document.ready",
        message=LINKED,
        example=dict(DOCUMENT),
        **parts,
    )


def test_a_rule_links_to_its_own_allowed_host(rule_file: RuleWriter) -> None:
    path = document_rule(rule_file, allowed_link_hosts=["documenti.comune.example"])
    [rule] = load_rules([path])

    message = render(rule, example_event(rule, EventTypes()))

    assert (
        message.content.markdown
        == PREFIX.strip() + " [scarica](https://documenti.comune.example/d/1)"
    )


def test_the_configs_hosts_apply_to_every_rule(rule_file: RuleWriter) -> None:
    checks = RuleChecks(allowed_link_hosts=frozenset({"*.comune.example"}))

    [rule] = load_rules([document_rule(rule_file)], checks=checks)

    assert (
        "documenti.comune.example"
        in render(rule, example_event(rule, EventTypes())).content.markdown
    )


def test_a_rule_whose_example_links_elsewhere_is_refused_at_load(rule_file: RuleWriter) -> None:
    with pytest.raises(RulesError) as caught:
        load_rules([document_rule(rule_file, allowed_link_hosts=["comune.example"])])

    [problem] = caught.value.problems
    assert "link() to documenti.comune.example: not an allowed link host" in problem


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("https://documenti.comune.example@evil.example/", "user name"),
        ("https://documenti.comune.example\\@evil.example/", "user name"),
        ("https://evil.example/documenti.comune.example", "link() to evil.example"),
        (
            "https://documenti.comune.example.evil.example/",
            "link() to documenti.comune.example.evil",
        ),
    ],
)
def test_a_rules_link_refuses_every_way_past_the_allowed_hosts(
    rule_file: RuleWriter, url: str, problem: str
) -> None:
    [rule] = load_rules([document_rule(rule_file, allowed_link_hosts=["documenti.comune.example"])])
    with pytest.raises(ValueError, match=re.escape(problem)):
        rule.link(url, "scarica")


@pytest.mark.parametrize(
    ("allowed", "host", "allows"),
    [
        ("comune.example", "comune.example", True),
        ("comune.example", "www.comune.example", False),
        ("*.comune.example", "www.comune.example", True),
        ("*.comune.example", "a.b.comune.example", True),
        ("*.comune.example", "comune.example", False),
        ("*.comune.example", "evilcomune.example", False),
    ],
)
def test_a_star_allows_subdomains_only(allowed: str, host: str, allows: bool) -> None:
    assert LinkHosts.of([allowed]).allows(host) is allows


def test_a_render_error_names_the_host(rule_file: RuleWriter) -> None:
    [rule] = load_rules([document_rule(rule_file, allowed_link_hosts=["documenti.comune.example"])])
    event = example_event(rule, EventTypes())
    data = {**DOCUMENT, "download_url": "https://evil.example/x"}
    hostile = EventTypes().validate("document.ready", data)
    event = type(event)(event.id, event.type, event.source, None, None, hostile, event.input)

    with pytest.raises(RenderError, match=r"link\(\) to evil.example"):
        render(rule, event)
