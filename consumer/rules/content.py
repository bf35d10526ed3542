"""A rule's Premium content: its attachments and remote content, compiled, checked, rendered.

IO never receives either: the relay seals what the content server needs into the message's
`third_party_data.id`, and the content server answers IO from it when the citizen opens the
message. So the checks IO would make at that moment are made here, at load: a rule with
content must be ADVANCED, its service registered with IO (a `configuration_id`), and its
documents must come from a configured source.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from consumer.content.details import RemoteDetails
from consumer.content.sealed import Attachment
from consumer.content.sources import document_url
from consumer.errors import RenderError
from consumer.events import Event
from consumer.io.models import NewMessage
from consumer.rules.compiled import AttachmentTemplates, Rule, Texts
from consumer.rules.environment import Environments
from consumer.rules.model import RuleSpec
from consumer.rules.render import render_field, template_context

if TYPE_CHECKING:  # the settings validate hosts with the rules' helpers
    from consumer.content.settings import DocumentSource


@dataclass(frozen=True, slots=True)
class ContentChecks:
    """What the configuration offers Premium rules."""

    enabled: bool = False
    """content.sealing_keys holds a key: ids can be sealed."""
    sources: Mapping[str, DocumentSource] = field(default_factory=dict)
    configured_services: frozenset[str] = frozenset()
    """Services with an io.services.<name>.configuration_id."""


@dataclass(frozen=True, slots=True)
class RenderedContent:
    attachments: tuple[Attachment, ...]
    remote: RemoteDetails | None


def compile_content(
    spec: RuleSpec, envs: Environments
) -> tuple[tuple[AttachmentTemplates, ...], Texts | None]:
    """Raises TemplateSyntaxError, as the rest of a rule's compilation does."""
    text = envs.text
    attachments = tuple(
        AttachmentTemplates(
            id=text.from_string(item.id),
            name=text.from_string(item.name),
            source=item.source,
            path=text.from_string(item.path),
        )
        for item in spec.attachments
    )
    remote = None
    if spec.remote_content is not None:
        remote = Texts(
            text.from_string(spec.remote_content.subject),
            envs.markdown.from_string(spec.remote_content.markdown),
        )
    return attachments, remote


def content_problems(rule: Rule, checks: ContentChecks) -> list[str]:
    """Why the configuration cannot serve this rule's content; empty when it can."""
    if not rule.premium:
        return []
    problems = []
    if not checks.enabled:
        problems.append("declares attachments or remote_content, but content.sealing_keys is empty")
    if rule.service not in checks.configured_services:
        problems.append(
            f"declares attachments or remote_content, but io.services.{rule.service} has no "
            "configuration_id (IO answers 403): run `io-relay remote-content create`"
        )
    level = str(getattr(level := rule.spec.message.feature_level_type, "value", level))
    if rule.attachments and "{" not in level and level != "ADVANCED":  # a template: at render
        problems.append("has attachments, so its message.feature_level_type must be ADVANCED")
    for attachment in rule.attachments:
        if attachment.source not in checks.sources:
            known = ", ".join(sorted(checks.sources)) or "none"
            problems.append(
                f"attachment source {attachment.source!r} is not under content.document_sources "
                f"(known: {known})"
            )
    return problems


def render_content(
    rule: Rule,
    event: Event,
    message: NewMessage,
    sources: Mapping[str, DocumentSource],
) -> RenderedContent:
    """The rule's content for this event; RenderError when IO or the source would refuse it."""
    if rule.attachments and message.feature_level_type != "ADVANCED":
        raise RenderError(
            "attachments need feature_level_type ADVANCED", rule=rule.name, field="attachments"
        )
    context = template_context(event)
    attachments = []
    for index, templates in enumerate(rule.attachments):
        where = f"attachments.{index}"
        path = render_field(templates.path, context, rule.name, f"{where}.path")
        source = sources.get(templates.source)
        if source is None:
            raise RenderError("no such document source", rule=rule.name, field=f"{where}.source")
        try:
            document_url(source, path)
            attachments.append(
                Attachment(
                    id=render_field(templates.id, context, rule.name, f"{where}.id"),
                    name=render_field(templates.name, context, rule.name, f"{where}.name"),
                    source=templates.source,
                    path=path,
                )
            )
        except ValueError as exc:
            raise RenderError(str(exc), rule=rule.name, field=where) from None
    ids = [attachment.id for attachment in attachments]
    if len(set(ids)) != len(ids):
        raise RenderError("two attachments render the same id", rule=rule.name, field="attachments")
    return RenderedContent(tuple(attachments), _remote(rule, context))


def _remote(rule: Rule, context: dict[str, Any]) -> RemoteDetails | None:
    if rule.remote is None:
        return None
    subject = render_field(rule.remote.subject, context, rule.name, "remote_content.subject")
    markdown = render_field(
        rule.remote.markdown, {**context, "link": rule.link}, rule.name, "remote_content.markdown"
    )
    try:
        return RemoteDetails(subject=subject, markdown=markdown)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = "remote_content." + ".".join(str(part) for part in first["loc"])
        raise RenderError(first["msg"], rule=rule.name, field=field) from None
