"""The example rules, loaded with the example configuration, as the preview commands do."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from consumer.cli_preview import settings_with_rules
from consumer.config import Settings
from consumer.events import EventTypes
from consumer.preview import MessagePreview, preview_examples
from consumer.rules import Rule
from consumer.runtime.app import load_contracts

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


@pytest.fixture(scope="session")
def examples() -> tuple[Settings, EventTypes, list[Rule]]:
    """Both flavours of document-ready (link, attachment): rules/ first, premium/ apart."""
    settings = settings_with_rules(EXAMPLES / "config.yaml", [EXAMPLES / "rules"])
    types, rules = load_contracts(settings)
    premium = settings_with_rules(EXAMPLES / "config.yaml", [EXAMPLES / "premium"])
    _, premium_rules = load_contracts(premium)
    return settings, types, rules + premium_rules


@pytest.fixture(scope="session")
def example_previews(examples: tuple[Settings, EventTypes, list[Rule]]) -> list[MessagePreview]:
    settings, types, rules = examples
    return preview_examples(rules, types, settings.content.document_sources)


class Visible(HTMLParser):
    """What a reader sees of some HTML: its text, and its links as (text, href)."""

    def __init__(self, within_class: str | None = None) -> None:
        super().__init__(convert_charrefs=True)
        self._within = within_class
        self._depth = 0 if within_class else 1
        self._link: tuple[str, list[str]] | None = None
        self.text: list[str] = []
        self.links: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._depth:
            self._depth += tag not in VOID
        elif self._within in (dict(attrs).get("class") or "").split():
            self._depth = 1
        if self._depth and tag in BLOCKS:
            self.text.append(" ")  # as a browser lays blocks and cells apart
        if self._depth and tag == "a":
            self._link = (dict(attrs).get("href") or "", [])

    def handle_endtag(self, tag: str) -> None:
        if self._depth and tag == "a" and self._link is not None:
            self.links.append(("".join(self._link[1]), self._link[0]))
            self._link = None
        if self._depth and tag in BLOCKS:
            self.text.append(" ")
        if self._within and self._depth and tag not in VOID:  # <br /> ends nothing
            self._depth -= 1

    def handle_data(self, data: str) -> None:
        if self._depth:
            self.text.append(data)
            if self._link is not None:
                self._link[1].append(data)

    def words(self) -> str:
        """The text with HTML's white space collapsed: a no-break space is not white space."""
        return re.sub(r"[ \t\n\r\f]+", " ", "".join(self.text)).strip()


BLOCKS = frozenset(
    {"p", "li", "td", "th", "dt", "dd", "div", "tr", "h1", "h2", "button", "section"}
    | {"ul", "ol", "dl", "table", "pre", "summary"}
)
VOID = frozenset({"br", "hr", "img", "input", "meta", "link", "wbr"})


def visible(html: str, within_class: str | None = None) -> Visible:
    parser = Visible(within_class)
    parser.feed(html)
    parser.close()
    return parser
