"""Route: which rules an event matches. An event may match several (fan-out) or none."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from jinja2 import TemplateError

from consumer.errors import RenderError
from consumer.events import Event
from consumer.rules.compiled import Rule
from consumer.rules.render import template_context


def route(rules: Sequence[Rule], event: Event) -> list[Rule]:
    context: dict[str, Any] | None = None  # made once, for the first rule with a `when`
    matched = []
    for rule in rules:
        if rule.spec.event_type != event.type:
            continue
        if rule.condition is not None and context is None:
            context = template_context(event)
        if holds(rule, event, context):
            matched.append(rule)
    return matched


def holds(rule: Rule, event: Event, context: dict[str, Any] | None = None) -> bool:
    """Whether the rule's `when` is true for the event (no `when`: always). `context`: the
    event's template context, when the caller has made it already."""
    if rule.condition is None:
        return True
    try:
        return bool(rule.condition(context if context is not None else template_context(event)))
    except (TemplateError, ValueError, TypeError, ArithmeticError) as exc:
        raise RenderError(f"condition failed: {exc}", rule=rule.name, field="when") from None
