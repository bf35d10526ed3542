"""Which messages an event previews as, and in which language."""

from __future__ import annotations

import json

from consumer.config import Settings
from consumer.events import Event, EventTypes, InputRecord, decode
from consumer.preview import preview_event
from consumer.rules import Rule
from tests.unit.preview.conftest import EXAMPLES

Examples = tuple[Settings, EventTypes, list[Rule]]


def event(name: str, types: EventTypes, **data: object) -> Event:
    raw = json.loads((EXAMPLES / "events" / name).read_text())
    raw["data"] = {**raw["data"], **data}
    return decode(InputRecord("file", 0, 0, None, json.dumps(raw).encode()), types)


def test_a_language_the_rule_speaks_is_chosen(examples: Examples) -> None:
    _, types, rules = examples
    generic = [rule for rule in rules if rule.name == "generic-notice"]
    notice = event("01-tari-notice.json", types, category="OSAP")

    [german] = preview_event(generic, notice, types, {}, language="de_DE")

    assert (german.language, german.message.content.subject) == (
        "de_DE",
        "Neue Zahlungsaufforderung",
    )


def test_a_language_the_rule_lacks_falls_back_to_italian(examples: Examples) -> None:
    _, types, rules = examples
    notice = event("01-tari-notice.json", types)

    previews = preview_event(rules, notice, types, {}, language="de_DE")

    assert [(p.rule, p.language) for p in previews] == [("tari-notice", "it_IT")]


def test_an_event_no_rule_sends_previews_as_nothing(examples: Examples) -> None:
    settings, types, rules = examples
    internal = event("06-internal-document.json", types)

    assert preview_event(rules, internal, types, settings.content.document_sources) == []
