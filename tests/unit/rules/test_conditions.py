"""A condition's direct form says what Jinja says, error for error, or is not used."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from jinja2 import TemplateError

from consumer.rules.conditions import DirectCondition, compile_condition
from consumer.rules.environment import build_environments

ENV = build_environments().text
EXAMPLES = Path(__file__).resolve().parents[3] / "examples"

DIRECT = [
    "data.get('category') != 'internal'",
    "data.get('category') == 'TARI'",
    "data.get('missing', 'x') == 'x'",
    "data.category == 'TARI'",
    "data['category'] in ['TARI', 'IMU']",
    "data.category not in ('TARI',)",
    "data.amount_cents > 100 and data.amount_cents <= 20000",
    "0 < data.amount_cents < 100000",
    "not data.get('urgent')",
    "data.get('urgent') or event.source == '/tributi'",
    "data.nested.level == 2",
    "data.nested.get('level') == 2",
    "data.missing == 'x'",
    "data.amount_cents < 'text'",
    "data.get('category')",
    "data.missing",
    "event.type == 'payment.notice.issued'",
    "data.get('category') == none",
    "true",
    "data.category | lower == 'tari'",
    "data.category is defined",
    "data.missing is not defined",
    "data.items | length > 0",
    "data.get('category') | default('none') == 'none'",
    "(data.category if data.category is defined else 'x') == 'TARI'",
    "data.amount_cents | euro == '1,50 €'",
]
JINJA_ONLY = [
    "data.amount_cents + 1 > 100",
    "data.category | replace(data.category, 'x') == 'x'",
    "data.category is sameas(data.category)",
    "data.get('items', ['a']) | join(',') == 'a'",
    "data.category.startswith('TA')",
    "data[event.type] == 1",
    "[data.category] == ['TARI']",
    "loop == 1",
    "data.get('items', []) == []",
]
CONTEXTS: list[dict[str, Any]] = [
    {
        "data": {"category": "TARI", "amount_cents": 150, "nested": {"level": 2}, "urgent": True},
        "event": {"type": "payment.notice.issued", "source": "/tributi"},
    },
    {"data": {"category": "internal", "amount_cents": 0}, "event": {"type": "x", "source": "/"}},
    {"data": {}, "event": {"type": "x", "source": "/tributi"}},
    {"data": {"category": None, "nested": "flat", "items": []}, "event": {"type": "x"}},
]


def _outcome(call: Any, context: dict[str, Any]) -> tuple[str, Any]:
    try:
        return "value", call(context)
    except (TemplateError, ValueError, TypeError, ArithmeticError) as exc:
        return type(exc).__name__, str(exc)


@pytest.mark.parametrize("source", DIRECT)
@pytest.mark.parametrize("context", CONTEXTS)
def test_the_direct_form_says_what_jinja_says(source: str, context: dict[str, Any]) -> None:
    condition = compile_condition(ENV, source)
    jinja = ENV.compile_expression(source)

    assert isinstance(condition, DirectCondition)
    assert _outcome(condition, context) == _outcome(jinja, context)


@pytest.mark.parametrize("source", JINJA_ONLY)
def test_other_shapes_are_left_to_jinja(source: str) -> None:
    assert not isinstance(compile_condition(ENV, source), DirectCondition)


def test_the_sandbox_still_decides_what_is_reachable() -> None:
    condition = compile_condition(ENV, "data.__class__ == 1")

    assert isinstance(condition, DirectCondition)
    refused = _outcome(condition, {"data": {}})
    assert refused[0] == "SecurityError"
    assert refused == _outcome(ENV.compile_expression("data.__class__ == 1"), {"data": {}})


def test_every_example_rule_condition_has_a_direct_form() -> None:
    conditions = [
        rule["when"]
        for path in sorted(EXAMPLES.rglob("*.yaml"))
        for rule in (yaml.safe_load(path.read_text()) or {}).get("rules", [])
        if isinstance(rule, dict) and "when" in rule
    ]

    assert len(conditions) >= 3
    assert all(isinstance(compile_condition(ENV, c), DirectCondition) for c in conditions)
