"""The messages to preview: rendered exactly as the relay renders them before a submit."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from consumer.content.settings import DocumentSource
from consumer.events import Event, EventTypes
from consumer.io.models import NewMessage
from consumer.rules import Rule, render, route
from consumer.rules.content import RenderedContent, render_content
from consumer.rules.model import DEFAULT_LANGUAGE
from consumer.rules.render import choose_language, example_event


@dataclass(frozen=True, slots=True)
class MessagePreview:
    event: str
    """The event's id."""
    rule: str
    service: str
    language: str
    """The language the rule spoke: the one asked for when the rule has it, else its default."""
    message: NewMessage
    content: RenderedContent | None
    """A Premium message's attachments and remote content, as the app fetches them."""

    @property
    def name(self) -> str:
        """The page's name: rule names are slugs already, and IO's language codes too."""
        return f"{self.rule}.{self.language}"


def preview_event(
    rules: Sequence[Rule],
    event: Event,
    types: EventTypes,
    sources: Mapping[str, DocumentSource],
    language: str | None = None,
) -> list[MessagePreview]:
    """One preview per rule the event matches, for a citizen whose app speaks `language`.

    Raises what render does (RenderError, InvalidEvent): the reason the relay would give."""
    preferred = (language,) if language else ()
    return [
        _preview(rule, event, types, sources, choose_language(rule, preferred))
        for rule in route(list(rules), event)
    ]


def preview_examples(
    rules: Iterable[Rule], types: EventTypes, sources: Mapping[str, DocumentSource]
) -> list[MessagePreview]:
    """Every rule's example, in every language the rule has, its default first."""
    return [
        _preview(rule, example_event(rule, types), types, sources, language)
        for rule in rules
        for language in sorted(rule.texts, key=lambda name: (name != DEFAULT_LANGUAGE, name))
    ]


def _preview(
    rule: Rule,
    event: Event,
    types: EventTypes,
    sources: Mapping[str, DocumentSource],
    language: str,
) -> MessagePreview:
    message = render(rule, event, (language,), types.fiscal_codes)
    content = render_content(rule, event, message, sources) if rule.premium else None
    return MessagePreview(event.id, rule.name, rule.service, language, message, content)
