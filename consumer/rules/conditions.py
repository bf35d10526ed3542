"""A rule's `when`, compiled: a direct Python form for the common shapes, Jinja for the rest.

Conditions are comparisons of event values with constants, such as
`data.get('category') != 'internal'`. Jinja evaluates each through a fresh template context,
about 7 µs; routing an event no rule sends is mostly that. The direct form walks Jinja's own
parse tree once, at load, into closures that do what Jinja's generated code does. Attributes
and items go through the sandboxed environment's `getattr`/`getitem`, so an absent field
fails with the same StrictUndefined error, and the sandbox still decides what is reachable.

Only these nodes have a direct form: constants, lists and tuples of them, `data` and
`event`, `.name` and `[constant]`, `x.get(constant[, constant])` on a dict, comparisons,
`and`, `or` and `not`. Anything else (filters, tests, other calls) is left to Jinja, whole.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from jinja2 import Undefined, nodes
from jinja2.parser import Parser
from jinja2.sandbox import SandboxedEnvironment

Context = Mapping[str, Any]
_Step = Callable[[Context], Any]

_NAMES = frozenset({"data", "event"})
_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "lt": operator.lt,
    "lteq": operator.le,
    "gt": operator.gt,
    "gteq": operator.ge,
    "in": lambda a, b: a in b,
    "notin": lambda a, b: a not in b,
}


class Condition(Protocol):
    """What route calls: the condition's value for one event's template context."""

    def __call__(self, context: Context, /) -> Any: ...


class _NotDirect(Exception):
    """This evaluation needs Jinja after all (a `.get` on something not a dict)."""


class _Unsupported(Exception):
    """The expression has a node without a direct form."""


class DirectCondition:
    """The closures of one expression; Jinja's own expression for what they do not cover."""

    __slots__ = ("_jinja", "_step", "source")

    def __init__(self, source: str, step: _Step, jinja: Callable[..., Any]) -> None:
        self.source = source
        self._step = step
        self._jinja = jinja

    def __call__(self, context: Context, /) -> Any:
        try:
            value = self._step(context)
        except _NotDirect:
            return self._jinja(context)
        # As Jinja's compile_expression(undefined_to_none=True) returns it.
        return None if isinstance(value, Undefined) else value


def compile_condition(env: SandboxedEnvironment, source: str) -> Condition:
    """`source` compiled in `env` (a TemplateSyntaxError as Jinja raises it), in its direct
    form when every node of it has one."""
    jinja = env.compile_expression(source)
    tree = Parser(env, source, state="variable").parse_expression()
    try:
        step = _compile(env, tree)
    except _Unsupported:
        return jinja
    return DirectCondition(source, step, jinja)


def _compile(env: SandboxedEnvironment, node: nodes.Node) -> _Step:  # noqa: C901, PLR0911
    if isinstance(node, nodes.Const):
        value = node.value
        return lambda _context: value
    if isinstance(node, nodes.List | nodes.Tuple):
        items = [_constant(item) for item in node.items]
        frozen = tuple(items) if isinstance(node, nodes.Tuple) else None
        return (lambda _c: frozen) if frozen is not None else (lambda _c: list(items))
    if isinstance(node, nodes.Name) and node.ctx == "load" and node.name in _NAMES:
        name = node.name
        return lambda context: context[name]
    if isinstance(node, nodes.Getattr):
        inner, attribute = _compile(env, node.node), node.attr
        return lambda context: env.getattr(inner(context), attribute)
    if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
        inner, key = _compile(env, node.node), node.arg.value
        return lambda context: env.getitem(inner(context), key)
    if isinstance(node, nodes.Call):
        return _dict_get(env, node)
    if isinstance(node, nodes.Compare):
        return _compare(env, node)
    if isinstance(node, nodes.And):
        left, right = _compile(env, node.left), _compile(env, node.right)
        return lambda context: left(context) and right(context)
    if isinstance(node, nodes.Or):
        left, right = _compile(env, node.left), _compile(env, node.right)
        return lambda context: left(context) or right(context)
    if isinstance(node, nodes.Not):
        inner = _compile(env, node.node)
        return lambda context: not inner(context)
    raise _Unsupported


def _constant(node: nodes.Node) -> Any:
    if not isinstance(node, nodes.Const):
        raise _Unsupported
    return node.value


def _dict_get(env: SandboxedEnvironment, node: nodes.Call) -> _Step:
    """`x.get(key[, default])`: dict.get, which the sandbox allows, when x is a dict."""
    callee = node.node
    if (
        not isinstance(callee, nodes.Getattr)
        or callee.attr != "get"
        or node.kwargs
        or node.dyn_args
        or node.dyn_kwargs
        or not 1 <= len(node.args) <= 2
    ):
        raise _Unsupported
    inner = _compile(env, callee.node)
    arguments = tuple(_constant(argument) for argument in node.args)

    def get(context: Context) -> Any:
        target = inner(context)
        if type(target) is not dict:
            raise _NotDirect
        return target.get(*arguments)

    return get


def _compare(env: SandboxedEnvironment, node: nodes.Compare) -> _Step:
    """A chain, as Python and Jinja read it: `a < b < c` is `a < b and b < c`."""
    first = _compile(env, node.expr)
    chain = [(_COMPARE[o.op], _compile(env, o.expr)) for o in node.ops if o.op in _COMPARE]
    if len(chain) != len(node.ops):
        raise _Unsupported

    def compare(context: Context) -> Any:
        left = first(context)
        result: Any = True
        for test, operand in chain:
            right = operand(context)
            result = test(left, right)
            if not result:
                return result
            left = right
        return result

    return compare
