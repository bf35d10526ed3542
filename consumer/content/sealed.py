"""The `third_party_data.id`: what the content server needs to answer IO, sealed into the id.

IO hands the id back on every call it makes to the content server, for as long as the
message lives. So the id carries its own answer: which documents to fetch, from which
source, and whose they are. Any replica opens it after any restart with the key ring, and
no store has to outlive the message.

The id is AES-GCM (a key id, a random nonce, the sealed reference): IO and the citizen's
app see an opaque string, and only io-relay can have made it. The recipient is not in it;
a keyed hash of their fiscal code is, and the content server compares the `fiscal_code`
header's hash with it in constant time.

    v1.<key id>.<base64url(nonce + ciphertext + tag)>

Keys rotate without breaking a message: new ids are sealed with `current`, and every key
still in the ring opens the ids it sealed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from consumer.errors import ContentNotFound

VERSION = "v1"
KEY_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,15}$"
KEY_BYTES = 32
ATTACHMENT_ID_PATTERN = r"^(?!\.{1,2}$)[A-Za-z0-9._-]{1,64}$"
MAX_NAME, MAX_PATH = 255, 512
_NONCE_BYTES = 12


@dataclass(frozen=True, slots=True)
class Attachment:
    """One document of a message: its id in IO's app (a changed document needs a new one,
    since the app caches files by it), what the citizen sees, and where the bytes are."""

    id: str
    name: str
    source: str
    """A `content.document_sources` entry."""
    path: str
    """The document's path under that source's base URL."""
    content_type: str = "application/pdf"

    def __post_init__(self) -> None:
        # IO calls GET {base_url}/messages/{id}/{url} with the id as the url: one path segment.
        if not re.fullmatch(ATTACHMENT_ID_PATTERN, self.id):
            raise ValueError("an attachment id is 1 to 64 letters, digits, '.', '_' or '-'")
        if self.id == "precondition":  # GET /messages/{id}/precondition is IO's own
            raise ValueError("'precondition' cannot be an attachment id")
        if not self.name.strip():
            raise ValueError("an attachment needs a name to show")
        # The id IO carries in its URLs holds these: keep it well under a URL's limits.
        if len(self.name) > MAX_NAME or len(self.path) > MAX_PATH:
            raise ValueError(
                f"an attachment's name is {MAX_NAME} characters at most, its path {MAX_PATH}"
            )


@dataclass(frozen=True, slots=True)
class ContentReference:
    """What an id stands for."""

    event_id: str
    rule: str
    recipient: str
    """The keyed hash of the recipient's fiscal code (hex), never the code."""
    attachments: tuple[Attachment, ...] = ()
    remote: str | None = None
    """The key of the message's remote content in the content topic, if it has any."""

    def attachment(self, attachment_id: str) -> Attachment:
        for attachment in self.attachments:
            if attachment.id == attachment_id:
                return attachment
        raise ContentNotFound


class ContentKeys:
    """The key ring: `current` seals, every key opens what it sealed."""

    def __init__(self, keys: Mapping[str, bytes], current: str) -> None:
        for key_id, key in keys.items():
            if not re.fullmatch(KEY_ID_PATTERN, key_id):
                raise ValueError(f"content key id {key_id!r}: lower case, digits and '-'")
            if len(key) != KEY_BYTES:
                raise ValueError(f"content key {key_id!r} must be {KEY_BYTES} bytes")
        if current not in keys:
            raise ValueError(f"the current content key {current!r} is not among the keys")
        self._keys = {key_id: AESGCM(_derived(key, b"seal")) for key_id, key in keys.items()}
        self._binding = {key_id: _derived(key, b"recipient") for key_id, key in keys.items()}
        self._current = current

    def recipient(self, fiscal_code: str, key_id: str | None = None) -> str:
        """The keyed hash that stands for a recipient in ids sealed with `key_id`."""
        key = self._binding[key_id or self._current]
        return hmac.new(key, b"recipient:" + fiscal_code.encode(), hashlib.sha256).hexdigest()

    def seal(self, reference: ContentReference) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._keys[self._current].encrypt(
            nonce, _encode(reference), _associated(self._current)
        )
        text = base64.urlsafe_b64encode(nonce + sealed).rstrip(b"=").decode()
        return f"{VERSION}.{self._current}.{text}"

    def remote_key(self, *identity: str) -> str:
        """Where a message's remote content is kept: a keyed hash of what identifies it
        (see premium.py), so that no event id or fiscal code shows in the topic."""
        key = self._binding[self._current]
        named = json.dumps(["remote", *identity]).encode()
        return hmac.new(key, named, hashlib.sha256).hexdigest()[:32]

    def seal_remote(self, key: str, recipient: str, plain: bytes) -> bytes:
        """Remote content at rest: `<key id>.` then nonce + AES-GCM, bound to its record
        key and to its recipient's hash: it opens only for the message it was sealed for."""
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._keys[self._current].encrypt(
            nonce, plain, _remote(self._current, key, recipient)
        )
        return self._current.encode() + b"." + nonce + sealed

    def open_remote(self, key: str, recipient: str, blob: bytes) -> bytes:
        key_id, _, raw = blob.partition(b".")
        name = key_id.decode("ascii", "replace")
        aead = self._keys.get(name)
        if aead is None:
            raise ContentNotFound
        try:
            return aead.decrypt(
                raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], _remote(name, key, recipient)
            )
        except (ValueError, InvalidTag):
            raise ContentNotFound from None

    def unknown_key(self, message_id: str) -> str | None:
        """The key id an id of ours names, when the ring does not hold it (for the log)."""
        version, key_id, _ = _parts(message_id)
        if version != VERSION or key_id in self._keys or not re.fullmatch(KEY_ID_PATTERN, key_id):
            return None
        return key_id

    def open(self, message_id: str, fiscal_code: str | None) -> ContentReference:
        """The reference, if `message_id` is one of ours and `fiscal_code` its recipient's;
        else ContentNotFound, the same for every way of being wrong."""
        version, key_id, text = _parts(message_id)
        aead = self._keys.get(key_id)
        if version != VERSION or aead is None or fiscal_code is None:
            raise ContentNotFound
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            plain = aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], _associated(key_id))
            reference = _decode(plain)
        except (ValueError, InvalidTag, KeyError, TypeError):
            raise ContentNotFound from None
        if not hmac.compare_digest(reference.recipient, self.recipient(fiscal_code, key_id)):
            raise ContentNotFound
        return reference


def _parts(message_id: str) -> tuple[str, str, str]:
    """`v1.<key id>.<sealed>` as its three parts (empty where missing)."""
    version, _, rest = message_id.partition(".")
    key_id, _, sealed = rest.partition(".")
    return version, key_id, sealed


def _derived(key: bytes, purpose: bytes) -> bytes:
    """One subkey per use of a ring key (HKDF-SHA256): the cipher and the recipient hash
    never share key bytes."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=b"io-relay " + purpose)
    return hkdf.derive(key)


def _associated(key_id: str) -> bytes:
    return f"io-relay.content.{VERSION}.{key_id}".encode()


def _remote(key_id: str, key: str, recipient: str) -> bytes:
    return f"io-relay.remote.{VERSION}.{key_id}.{key}.{recipient}".encode()


def _encode(reference: ContentReference) -> bytes:
    document = {
        "e": reference.event_id,
        "r": reference.rule,
        "to": reference.recipient,
        "a": [[a.id, a.name, a.source, a.path, a.content_type] for a in reference.attachments],
        "rc": reference.remote,
    }
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def _decode(plain: bytes) -> ContentReference:
    document = json.loads(plain)
    return ContentReference(
        event_id=document["e"],
        rule=document["r"],
        recipient=document["to"],
        attachments=tuple(Attachment(*fields) for fields in document["a"]),
        remote=document.get("rc"),
    )
