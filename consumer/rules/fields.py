"""A rule's text fields, compiled: Jinja where it is needed, a direct form where it is not.

Most fields of a message are constants ("Avviso di pagamento TARI") or one value of the
event (`{{ data.notice_number }}`). Jinja renders each through a fresh context, about 5 µs,
nine fields a message. Those two forms get a direct equivalent here, chosen at load only
when it provably renders what Jinja renders: a constant is one Jinja renders to itself, and
a value is a plain `data.<name>` in the text environment (not markdown's, whose `finalize`
escapes values), for a name no dict method shadows. A missing value fails with Jinja's own
error, so the DLQ reason stays the same.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from jinja2 import Environment, UndefinedError

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


def compile_field(env: Environment, source: str, *, values_escaped: bool = False) -> FieldTemplate:
    """`source` compiled in `env` (a TemplateSyntaxError as Jinja raises it), in its direct
    form where there is one. `values_escaped`: the environment's `finalize` changes values
    (markdown's), so a value is never printed directly."""
    template = env.from_string(source)
    if not any(marker in source for marker in _JINJA) and template.render() == source:
        return Constant(source)
    found = _DATA_VALUE.fullmatch(source)
    if found and not values_escaped and not hasattr(dict, found[1]):
        return DataValue(found[1])
    return template
