"""A rule ready to run: its spec, and its templates compiled once at load."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from jinja2 import Template

from consumer.rules.conditions import Condition
from consumer.rules.fields import FieldTemplate
from consumer.rules.link_hosts import Link, LinkHosts
from consumer.rules.model import RuleSpec


@dataclass(frozen=True, slots=True)
class Texts:
    subject: FieldTemplate
    markdown: FieldTemplate


@dataclass(frozen=True, slots=True)
class AttachmentTemplates:
    id: Template
    name: Template
    source: str
    path: Template


@dataclass(frozen=True, slots=True)
class Rule:
    """A rule ready to run: its spec, and its templates compiled."""

    spec: RuleSpec
    origin: str
    condition: Condition | None
    recipient: FieldTemplate
    texts: dict[str, Texts]
    templates: dict[str, FieldTemplate] = field(default_factory=dict)
    literals: dict[str, Any] = field(default_factory=dict)
    link: Link = field(default_factory=lambda: LinkHosts.of().link())
    """What the markdown's `link()` calls: the helper, within the rule's allowed hosts."""
    attachments: tuple[AttachmentTemplates, ...] = ()
    remote: Texts | None = None
    """Remote content: rendered once, in the default language, kept for the content server."""

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def service(self) -> str:
        return self.spec.service

    @property
    def premium(self) -> bool:
        """Whether IO must fetch part of the message from the content server."""
        return bool(self.attachments) or self.remote is not None
