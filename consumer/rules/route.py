"""Route: which rules an event matches. An event may match several (fan-out) or none."""

from __future__ import annotations

from collections.abc import Sequence

from jinja2 import TemplateError

from consumer.errors import RenderError
from consumer.events import Event
from consumer.rules.compiled import Rule
from consumer.rules.render import template_context


def route(rules: Sequence[Rule], event: Event) -> list[Rule]:
    return [rule for rule in rules if rule.spec.event_type == event.type and holds(rule, event)]


def holds(rule: Rule, event: Event) -> bool:
    """Whether the rule's `when` is true for the event (no `when`: always)."""
    if rule.condition is None:
        return True
    try:
        return bool(rule.condition(**template_context(event)))
    except (TemplateError, ValueError, TypeError, ArithmeticError) as exc:
        raise RenderError(f"condition failed: {exc}", rule=rule.name, field="when") from None
