"""The sandboxed Jinja2 environments every condition and template runs in.

Sandboxed, so a rule cannot reach Python internals; StrictUndefined, so a misspelt field
fails loudly instead of rendering an empty string into a citizen's message. Markdown
templates get their own environment, whose `finalize` escapes every value printed into them:
an event value can never become a link or markup, only a helper like `link` can.
"""

from __future__ import annotations

from dataclasses import dataclass

from jinja2 import StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

from consumer.rules import helpers


@dataclass(frozen=True, slots=True)
class Environments:
    text: ImmutableSandboxedEnvironment
    markdown: ImmutableSandboxedEnvironment


def build_environments() -> Environments:
    return Environments(text=_environment(), markdown=_environment(markdown=True))


def _environment(*, markdown: bool = False) -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        finalize=helpers.finalize_markdown if markdown else None,
    )
    env.filters.update(
        euro=helpers.euro,
        italian_date=helpers.italian_date,
        io_due_date=helpers.io_due_date,
        notice_number=helpers.notice_number,
    )
    if markdown:
        env.globals["link"] = helpers.link
    return env
