"""What the content server answers IO's `getThirdPartyMessageDetails` with.

IO's backend passes the answer to the app, which lists the attachments and fetches each at
`GET {base_url}/messages/{id}/{url}`; the url is the attachment's id, one path segment, as
PagoPA's own io-sign does. A message that promised attachments must list at least one: an
empty list makes IO answer 502, and the app then fails to open the whole message.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

from consumer.content.sealed import ContentReference
from consumer.io.models import MARKDOWN_MAX, SUBJECT_MAX

NonEmpty = Annotated[str, StringConstraints(min_length=1)]


class ThirdPartyAttachment(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: NonEmpty
    url: NonEmpty
    name: NonEmpty
    content_type: NonEmpty


class RemoteDetails(BaseModel):
    """The subject and markdown the app shows at read time (remote content). IO's own
    limits for a message's: a rendered text past them goes to the DLQ, not to the topic."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    subject: Annotated[str, StringConstraints(min_length=1, max_length=SUBJECT_MAX)]
    markdown: Annotated[str, StringConstraints(min_length=1, max_length=MARKDOWN_MAX)]


class ThirdPartyMessage(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    attachments: list[ThirdPartyAttachment] | None = None
    details: RemoteDetails | None = None

    def to_json_body(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode()


def details_of(
    reference: ContentReference, remote: RemoteDetails | None = None
) -> ThirdPartyMessage:
    attachments = [
        ThirdPartyAttachment(
            id=attachment.id,
            url=attachment.id,
            name=attachment.name,
            content_type=attachment.content_type,
        )
        for attachment in reference.attachments
    ]
    return ThirdPartyMessage(attachments=attachments or None, details=remote)
