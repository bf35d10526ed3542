"""Between render and deliver: what IO needs to fetch a message's content from io-relay.

For a rule with attachments or remote content, the message IO receives carries
`third_party_data`: the sealed id (see sealed.py), what IO should fetch, and the service's
remote-content configuration. Remote content is kept, sealed, before the submit: IO may call
the content server as soon as it accepts the message.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from consumer.content.sealed import ContentKeys, ContentReference
from consumer.content.settings import DocumentSource
from consumer.errors import RenderError
from consumer.events import Event
from consumer.io.models import NewMessage, ThirdPartyData
from consumer.rules.compiled import Rule
from consumer.rules.content import render_content

MAX_ID_CHARS = 4000
"""IO calls GET {base_url}/messages/{id}/...: well under the 8 KB of a request line."""


class RemoteStore(Protocol):
    """Where remote content waits for the content server (the compacted content topic)."""

    async def keep(self, key: str, value: bytes | None) -> None:
        """Return once the value (None: its removal) is durably kept; retry meanwhile."""
        ...


class PremiumContent:
    def __init__(
        self,
        keys: ContentKeys,
        sources: Mapping[str, DocumentSource],
        configuration_ids: Mapping[str, str],
        store: RemoteStore | None,
    ) -> None:
        """`configuration_ids`: service → its remote-content configuration id."""
        self._keys = keys
        self._sources = sources
        self._configuration_ids = configuration_ids
        self._store = store

    async def attach(self, rule: Rule, event: Event, message: NewMessage) -> Attached:
        """The message's third_party_data; RenderError when its content cannot be served."""
        configuration_id = self._configuration_ids.get(rule.service)
        if configuration_id is None:
            raise RenderError("the service has no configuration_id", rule=rule.name)
        content = render_content(rule, event, message, self._sources)
        recipient = self._keys.recipient(message.fiscal_code)
        remote_key = None
        if content.remote is not None:
            if self._store is None:
                raise RenderError("no store for remote content", rule=rule.name)
            # One record per input record, rule and recipient: a retry of the record finds
            # its own again, while the same event at another offset (a producer's duplicate)
            # gets one of its own, so that forgetting one never deletes another's.
            where = event.input
            remote_key = self._keys.remote_key(
                event.source, event.id, f"{where.topic}/{where.partition}/{where.offset}",
                rule.name, recipient,
            )  # fmt: skip
            plain = content.remote.model_dump_json().encode()
            await self._store.keep(remote_key, self._keys.seal_remote(remote_key, recipient, plain))
        reference = ContentReference(
            event_id=event.id,
            rule=rule.name,
            recipient=recipient,
            attachments=content.attachments,
            remote=remote_key,
        )
        sealed = self._keys.seal(reference)
        if len(sealed) > MAX_ID_CHARS:
            raise RenderError(
                f"the attachments make an id of {len(sealed)} characters, over {MAX_ID_CHARS}: "
                "IO carries it in URLs",
                rule=rule.name,
                field="attachments",
            )
        data = ThirdPartyData(
            id=sealed,
            has_attachments=bool(content.attachments),
            has_remote_content=content.remote is not None,
            configuration_id=configuration_id,
        )
        return Attached(data, remote_key)

    async def forget(self, attached: Attached) -> None:
        """The message was never submitted: its remote content goes (a tombstone), so no
        one's personal data waits in the topic for a message that does not exist."""
        if attached.remote_key is not None and self._store is not None:
            await self._store.keep(attached.remote_key, None)


@dataclass(frozen=True, slots=True)
class Attached:
    data: ThirdPartyData
    remote_key: str | None


def with_third_party(message: NewMessage, attached: Attached | None) -> NewMessage:
    if attached is None:
        return message
    content = message.content.model_copy(update={"third_party_data": attached.data})
    return message.model_copy(update={"content": content})
