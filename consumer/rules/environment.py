"""The sandboxed Jinja2 environment every condition and template runs in.

Sandboxed, so a rule cannot reach Python internals; StrictUndefined, so a misspelt field
fails loudly instead of rendering an empty string into a citizen's message.
"""

from __future__ import annotations

from decimal import Decimal

from babel.numbers import format_currency
from jinja2 import StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment


def euro(cents: int) -> str:
    """Cents as Italians read an amount: 1234567 → '12.345,67 €'."""
    return format_currency(Decimal(cents) / 100, "EUR", locale="it_IT")


def build_environment() -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
    )
    env.filters["euro"] = euro
    return env
