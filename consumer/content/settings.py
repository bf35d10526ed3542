"""The `content:` section: Premium attachments and remote content.

The relay reads it to seal `third_party_data.id` and to keep remote content; `io-relay
content` reads it to answer IO. Both must run with the same `sealing_keys`.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Self
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from consumer.content.api_keys import ApiKeys
from consumer.content.sealed import KEY_BYTES, KEY_ID_PATTERN, ContentKeys
from consumer.errors import ConfigurationError
from consumer.rules.link_hosts import LinkHosts, check_host
from consumer.secret_source import KeySource

# The app gives a download 8 s, and IO's backend buffers the file before passing it on:
# the fetch from the source must leave it room.
MAX_SOURCE_TIMEOUT_S = 4.0


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)


def _http_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError(f"{url!r} is not an http(s) URL")
    if parts.query or parts.fragment:
        raise ValueError("a base URL has no query or fragment")
    return url.rstrip("/") + "/"


HttpUrl = Annotated[str, AfterValidator(_http_url)]


class DocumentSource(_Section):
    """Where a rule's attachments are fetched from, and how much of them io-relay takes."""

    base_url: HttpUrl
    auth: KeySource | None = Field(
        default=None, description="a bearer token the source expects (key, key_env or key_file)"
    )
    allowed_hosts: Annotated[list[Annotated[str, AfterValidator(check_host)]], Field(min_length=1)]
    max_bytes: Annotated[int, Field(gt=0, le=100 * 1024 * 1024)] = 10 * 1024 * 1024
    timeout_s: Annotated[float, Field(gt=0, lt=MAX_SOURCE_TIMEOUT_S)] = 3.0

    @model_validator(mode="after")
    def _base_url_allowed(self) -> Self:
        host = urlsplit(self.base_url).hostname or ""
        if not LinkHosts.of(self.allowed_hosts).allows(host):
            raise ValueError(f"base_url's host {host} is not among allowed_hosts")
        return self

    @property
    def hosts(self) -> LinkHosts:
        return LinkHosts.of(self.allowed_hosts)


class ContentSettings(_Section):
    public_url: HttpUrl | None = Field(
        default=None,
        description="where IO reaches `io-relay content`: the base_url of the remote-content "
        "configuration",
    )
    header_key_name: Annotated[str, Field(pattern=r"^[A-Za-z0-9-]{1,64}$")] = Field(
        default="x-api-key", description="the header IO puts an API key in"
    )
    api_keys: list[KeySource] = Field(
        default_factory=list,
        description="keys the content server accepts from IO; the first is the one given to IO "
        "(rotation: put the new one first, keep the old for IO's 8 h cache)",
    )
    sealing_keys: dict[Annotated[str, Field(pattern=KEY_ID_PATTERN)], KeySource] = Field(
        default_factory=dict,
        description="key id → 32 random bytes, base64: seal third_party_data.id and remote "
        "content; keep an old key as long as its messages live",
    )
    current_sealing_key: str | None = Field(default=None, description="the key new ids use")
    host: str = Field(default="0.0.0.0", description="where `io-relay content` listens")
    port: Annotated[int, Field(ge=0, le=65535)] = 9500
    retry_after_s: Annotated[int, Field(ge=1, le=30)] = Field(
        default=1, description="what a 503 asks IO's app to wait when a source fails"
    )
    document_sources: dict[str, DocumentSource] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _current_key_known(self) -> Self:
        if self.sealing_keys and self.current_sealing_key not in self.sealing_keys:
            known = ", ".join(sorted(self.sealing_keys))
            raise ValueError(f"current_sealing_key must name one of sealing_keys ({known})")
        if self.current_sealing_key and not self.sealing_keys:
            raise ValueError("current_sealing_key is set, but sealing_keys is empty")
        return self

    @property
    def enabled(self) -> bool:
        """Whether Premium content is configured: rules may then declare it."""
        return bool(self.sealing_keys)

    def key_ring(self) -> ContentKeys:
        if not self.sealing_keys or self.current_sealing_key is None:
            raise ConfigurationError(
                "content.sealing_keys is empty: Premium content needs at least one key"
            )
        keys = {key_id: _key_bytes(key_id, source) for key_id, source in self.sealing_keys.items()}
        return ContentKeys(keys, self.current_sealing_key)

    def accepted_keys(self) -> ApiKeys:
        if not self.api_keys:
            raise ConfigurationError("content.api_keys is empty: IO could not be let in")
        return ApiKeys([source.secret() for source in self.api_keys])


def _key_bytes(key_id: str, source: KeySource) -> bytes:
    text = source.secret().get_secret_value()
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != KEY_BYTES:
        raise ConfigurationError(
            f"content.sealing_keys.{key_id}: not {KEY_BYTES} bytes in base64 "
            "(make one with: openssl rand -base64 32)"
        )
    return key
