"""A rule's `when`, compiled: its direct form (see expressions.py) where it has one.

Conditions are comparisons of event values with constants, such as
`data.get('category') != 'internal'`; Jinja took ~7 µs of the 10 it cost to route an event
no rule sends.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from jinja2 import Undefined
from jinja2.parser import Parser
from jinja2.sandbox import SandboxedEnvironment

from consumer.rules.expressions import Context, NotDirect, Step, direct


class Condition(Protocol):
    """What route calls: the condition's value for one event's template context."""

    def __call__(self, context: Context, /) -> Any: ...


class DirectCondition:
    """The closures of one expression; Jinja's own expression for what they do not cover."""

    __slots__ = ("_jinja", "_step", "source")

    def __init__(self, source: str, step: Step, jinja: Callable[..., Any]) -> None:
        self.source = source
        self._step = step
        self._jinja = jinja

    def __call__(self, context: Context, /) -> Any:
        try:
            value = self._step(context)
        except NotDirect:
            return self._jinja(context)
        # As Jinja's compile_expression(undefined_to_none=True) returns it.
        return None if isinstance(value, Undefined) else value


def compile_condition(env: SandboxedEnvironment, source: str) -> Condition:
    """`source` compiled in `env` (a TemplateSyntaxError as Jinja raises it), in its direct
    form when every node of it has one."""
    jinja = env.compile_expression(source)
    step = direct(env, Parser(env, source, state="variable").parse_expression())
    return jinja if step is None else DirectCondition(source, step, jinja)
