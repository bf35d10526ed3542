"""A rule's text fields, compiled: Jinja where it is needed, a direct form where it is not.

Most fields of a message are constants ("Avviso di pagamento TARI"), one value of the event
(`{{ data.notice_number }}`) or one expression (`{{ data.payee_fiscal_code | default('') }}`).
Jinja renders each through a fresh context, about 5 µs, nine fields a message. Those forms
get a direct equivalent here, chosen at load only when it provably renders what Jinja
renders: a constant is one Jinja renders to itself; a value is a plain `data.<name>`, for a
name no dict method shadows; an expression is text and `{{ ... }}` outputs whose every node
has a direct form (see expressions.py). Values and expressions only in the text environment:
markdown's `finalize` escapes what it prints. A missing value fails with Jinja's own error,
so the DLQ reason stays the same.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from jinja2 import Environment, Template, UndefinedError, nodes
from jinja2.sandbox import SandboxedEnvironment

from consumer.rules.expressions import NotDirect, Step, direct

_DATA_VALUE = re.compile(r"\{\{\s*data\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_JINJA = ("{{", "{%", "{#")


class FieldTemplate(Protocol):
    """What render calls: Jinja's Template fits, and so do the direct forms."""

    def render(self, context: Mapping[str, Any], /) -> str: ...


@dataclass(frozen=True, slots=True)
class Constant:
    text: str

    def render(self, context: Mapping[str, Any], /) -> str:
        return self.text


@dataclass(frozen=True, slots=True)
class DataValue:
    """`{{ data.<name> }}`: the value, as Jinja prints it (`str`)."""

    name: str

    def render(self, context: Mapping[str, Any], /) -> str:
        data = context["data"]
        try:
            return str(data[self.name])
        except (KeyError, TypeError, IndexError):
            kind = type(data).__name__
            raise UndefinedError(f"'{kind} object' has no attribute '{self.name}'") from None


@dataclass(frozen=True, slots=True)
class DirectOutput:
    """Text and `{{ expression }}` outputs, joined as Jinja joins them (`str` of each value);
    Jinja's own template for what the closures do not cover."""

    parts: tuple[str | Step, ...]
    jinja: Template

    def render(self, context: Mapping[str, Any], /) -> str:
        try:
            return "".join(p if isinstance(p, str) else str(p(context)) for p in self.parts)
        except NotDirect:
            return self.jinja.render(context)


def _direct_output(env: Environment, source: str, template: Template) -> DirectOutput | None:
    if not isinstance(env, SandboxedEnvironment):
        return None
    body = env.parse(source).body
    if len(body) != 1 or not isinstance(body[0], nodes.Output):
        return None
    parts: list[str | Step] = []
    for node in body[0].nodes:
        if isinstance(node, nodes.TemplateData):
            parts.append(node.data)
            continue
        step = direct(env, node)
        if step is None:
            return None
        parts.append(step)
    return DirectOutput(tuple(parts), template)


def compile_field(env: Environment, source: str, *, values_escaped: bool = False) -> FieldTemplate:
    """`source` compiled in `env` (a TemplateSyntaxError as Jinja raises it), in its direct
    form where there is one. `values_escaped`: the environment's `finalize` changes values
    (markdown's), so a value is never printed directly."""
    template = env.from_string(source)
    if not any(marker in source for marker in _JINJA) and template.render() == source:
        return Constant(source)
    if values_escaped:
        return template
    found = _DATA_VALUE.fullmatch(source)
    if found and not hasattr(dict, found[1]):
        return DataValue(found[1])
    return _direct_output(env, source, template) or template
