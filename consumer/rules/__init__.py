"""Route and render: operator-written rules that turn events into IO messages."""

from consumer.rules.loader import Rule, RulesError, load_rules
from consumer.rules.render import render
from consumer.rules.route import route

__all__ = ["Rule", "RulesError", "load_rules", "render", "route"]
