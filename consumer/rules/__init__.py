"""Route and render: operator-written rules that turn events into IO messages."""

from consumer.rules.compiled import Rule
from consumer.rules.loader import RuleChecks, RulesError, load_rules
from consumer.rules.render import choose_language, render, render_recipient
from consumer.rules.route import route

__all__ = [
    "Rule",
    "RuleChecks",
    "RulesError",
    "choose_language",
    "load_rules",
    "render",
    "render_recipient",
    "route",
]
