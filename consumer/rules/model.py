"""The shape of a rules file, as operators write it."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from consumer.io.models import FeatureLevelType
from consumer.rules.link_hosts import check_host

Template = Annotated[str, Field(min_length=1)]
LinkHost = Annotated[str, AfterValidator(check_host)]

# IO's preferred_languages values.
LANGUAGES = ("it_IT", "en_GB", "de_DE", "es_ES", "fr_FR")
DEFAULT_LANGUAGE = "it_IT"


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PaymentDataTemplate(_Strict):
    amount: Template
    notice_number: Template
    invalid_after_due_date: Template | bool = False
    payee_fiscal_code: Template | None = None


class TextTemplates(_Strict):
    """What changes with the language: the words."""

    subject: Template
    markdown: Template


class MessageTemplate(TextTemplates):
    due_date: Template | None = None
    payment_data: PaymentDataTemplate | None = None
    feature_level_type: FeatureLevelType | Template = FeatureLevelType.STANDARD
    time_to_live: Template | int | None = None
    require_secure_channels: Template | bool | None = None


class AttachmentTemplate(_Strict):
    """A document the citizen downloads in the app (Premium: the rule must be ADVANCED)."""

    id: Template = Field(
        description="one path segment; the app caches files by it, so a changed document "
        "needs a new one"
    )
    name: Template = Field(description="the file name the citizen sees, e.g. a title + .pdf")
    source: Annotated[str, Field(min_length=1)] = Field(
        description="a content.document_sources entry"
    )
    path: Template = Field(description="the document under that source's base_url")


class RuleSpec(_Strict):
    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")]
    event_type: Annotated[str, Field(min_length=1)]
    when: Template | None = None
    service: Annotated[str, Field(min_length=1)]
    recipient: Template = "{{ data.recipient_fiscal_code }}"
    message: MessageTemplate = Field(description=f"in {DEFAULT_LANGUAGE}, the fallback")
    translations: dict[
        Annotated[str, Field(pattern="^(" + "|".join(LANGUAGES) + ")$")], TextTemplates
    ] = Field(default_factory=dict)
    allowed_link_hosts: list[LinkHost] = Field(
        default_factory=list,
        description="hosts this rule's link() may lead to, beside rules.allowed_link_hosts",
    )
    attachments: Annotated[list[AttachmentTemplate], Field(max_length=10)] = Field(
        default_factory=list, description="PDFs served to IO by `io-relay content`"
    )
    remote_content: TextTemplates | None = Field(
        default=None,
        description="the subject and markdown the app fetches at read time; never sent to IO",
    )
    example: dict[str, Any] = Field(
        description="the data of an event this rule sends; it must render cleanly at load time"
    )


class RulesFile(_Strict):
    rules: list[RuleSpec]
