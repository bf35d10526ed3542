"""Jinja expressions in a direct Python form, for a rule's `when` and its one-line fields.

Most expressions in a rule compare an event value with a constant
(`data.get('category') != 'internal'`) or pass one through a filter
(`data.due_date | io_due_date if data.due_date is defined else ''`). Jinja evaluates each
through a fresh template context, about 5-7 µs. The direct form walks Jinja's own parse
tree once, at load, into closures that do what Jinja's generated code does. Attributes and
items go through the sandboxed environment's `getattr`/`getitem`, so an absent field fails
with the same StrictUndefined error, and the sandbox still decides what is reachable.

Only these nodes have a direct form: constants, lists and tuples of them, `data` and
`event`, `.name` and `[constant]`, `x.get(constant[, constant])` on a dict, comparisons,
`and`, `or`, `not`, `a if b else c`, and filters and tests with constant arguments that
take nothing from Jinja's context. Anything else is left to Jinja, whole.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any

from jinja2 import nodes
from jinja2.sandbox import SandboxedEnvironment

Context = Mapping[str, Any]
Step = Callable[[Context], Any]

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


class NotDirect(Exception):
    """This evaluation needs Jinja after all (a `.get` on something not a dict)."""


class Unsupported(Exception):
    """The expression has a node without a direct form."""


def direct(env: SandboxedEnvironment, node: nodes.Node) -> Step | None:
    """`node`'s direct form, or None when a part of it has none."""
    try:
        return _compile(env, node)
    except Unsupported:
        return None


def _compile(env: SandboxedEnvironment, node: nodes.Node) -> Step:  # noqa: C901, PLR0911
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
    if isinstance(node, nodes.CondExpr) and node.expr2 is not None:
        test, yes, no = (_compile(env, n) for n in (node.test, node.expr1, node.expr2))
        return lambda context: yes(context) if test(context) else no(context)
    if isinstance(node, nodes.Filter | nodes.Test):
        return _applied(env, node)
    raise Unsupported


def _constant(node: nodes.Node) -> Any:
    if not isinstance(node, nodes.Const):
        raise Unsupported
    return node.value


def _applied(env: SandboxedEnvironment, node: nodes.Filter | nodes.Test) -> Step:
    """`x | name(args)` or `x is name(args)`, for a function that wants nothing of Jinja's
    (no `pass_context`, `pass_environment` or `pass_eval_context`)."""
    table: Mapping[str, Any] = env.filters if isinstance(node, nodes.Filter) else env.tests
    function: Callable[..., Any] | None = table.get(node.name)
    if (
        function is None
        or getattr(function, "jinja_pass_arg", None) is not None
        or node.node is None
        or node.kwargs
        or node.dyn_args
        or node.dyn_kwargs
    ):
        raise Unsupported
    inner = _compile(env, node.node)
    arguments = tuple(_constant(argument) for argument in node.args)
    return lambda context: function(inner(context), *arguments)


def _dict_get(env: SandboxedEnvironment, node: nodes.Call) -> Step:
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
        raise Unsupported
    inner = _compile(env, callee.node)
    arguments = tuple(_constant(argument) for argument in node.args)

    def get(context: Context) -> Any:
        target = inner(context)
        if type(target) is not dict:
            raise NotDirect
        return target.get(*arguments)

    return get


def _compare(env: SandboxedEnvironment, node: nodes.Compare) -> Step:
    """A chain, as Python and Jinja read it: `a < b < c` is `a < b and b < c`."""
    first = _compile(env, node.expr)
    chain = [(_COMPARE[o.op], _compile(env, o.expr)) for o in node.ops if o.op in _COMPARE]
    if len(chain) != len(node.ops):
        raise Unsupported

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
