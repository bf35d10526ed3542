"""The sealed third_party_data.id: opens for its recipient with any key of the ring, and
for nobody else, in one way."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import os

import pytest

from consumer.content import Attachment, ContentKeys, ContentReference
from consumer.errors import ContentNotFound

CODE = "RSSMRA85T10A562S"
OTHER = "VRDGPP80A01H501B"
KEY_A, KEY_B = os.urandom(32), os.urandom(32)


def reference(keys: ContentKeys, code: str = CODE) -> ContentReference:
    return ContentReference(
        event_id="ev-1",
        rule="document-ready",
        recipient=keys.recipient(code),
        attachments=(
            Attachment("cert-1", "Certificato.pdf", "anagrafe", "certificati/CERT-1.pdf"),
        ),
    )


def test_an_id_opens_to_what_was_sealed_for_its_recipient() -> None:
    keys = ContentKeys({"a": KEY_A}, current="a")
    sealed = reference(keys)

    message_id = keys.seal(sealed)

    assert keys.open(message_id, CODE) == sealed
    assert message_id.startswith("v1.a.")
    # Opaque: nothing of the reference, nor the code, can be read off the id.
    for clear in (CODE, "certificati", "CERT-1", "ev-1", "anagrafe"):
        assert clear not in message_id
    assert CODE not in repr(sealed)
    assert keys.seal(sealed) != message_id  # a fresh nonce each time


def test_the_recipient_is_held_as_a_keyed_hash_only() -> None:
    keys = ContentKeys({"a": KEY_A}, current="a")
    assert len(keys.recipient(CODE)) == 64
    assert keys.recipient(CODE) != keys.recipient(OTHER)
    assert ContentKeys({"a": KEY_B}, current="a").recipient(CODE) != keys.recipient(CODE)


def _tampered(message_id: str) -> str:
    head, _, text = message_id.rpartition(".")
    raw = bytearray(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    raw[-1] ^= 1
    return f"{head}.{base64.urlsafe_b64encode(bytes(raw)).rstrip(b'=').decode()}"


@pytest.mark.parametrize(
    "wrong",
    [
        "another citizen",
        "no fiscal code",
        "a lower-case code",
        "tampered",
        "another key ring",
        "unknown key id",
        "unknown version",
        "not an id",
        "empty",
    ],
)
def test_every_wrong_id_or_citizen_is_the_same_not_found(wrong: str) -> None:
    keys = ContentKeys({"a": KEY_A}, current="a")
    message_id = keys.seal(reference(keys))
    attempts: dict[str, tuple[str, str | None]] = {
        "another citizen": (message_id, OTHER),
        "no fiscal code": (message_id, None),
        "a lower-case code": (message_id, CODE.lower()),
        "tampered": (_tampered(message_id), CODE),
        "another key ring": (ContentKeys({"a": KEY_B}, "a").seal(reference(keys)), CODE),
        "unknown key id": (message_id.replace("v1.a.", "v1.z.", 1), CODE),
        "unknown version": (message_id.replace("v1.", "v9.", 1), CODE),
        "not an id": ("01JC8XQ6V3ZK4M2N8P5R7T9W1Y", CODE),
        "empty": ("", CODE),
    }
    attempt_id, code = attempts[wrong]

    with pytest.raises(ContentNotFound) as refused:
        keys.open(attempt_id, code)

    assert str(refused.value) == ""  # nothing says which way it was wrong


def test_after_a_rotation_old_ids_still_open_and_new_ones_use_the_new_key() -> None:
    before = ContentKeys({"a": KEY_A}, current="a")
    old_id = before.seal(reference(before))
    after = ContentKeys({"a": KEY_A, "b": KEY_B}, current="b")

    new_id = after.seal(reference(after))

    assert after.open(old_id, CODE).event_id == "ev-1"
    assert new_id.startswith("v1.b.")
    assert after.open(new_id, CODE).attachments[0].path == "certificati/CERT-1.pdf"
    with pytest.raises(ContentNotFound):
        before.open(new_id, CODE)  # a replica not yet given key b


def test_an_attachment_is_found_by_its_id_only() -> None:
    keys = ContentKeys({"a": KEY_A}, current="a")
    sealed = reference(keys)
    assert sealed.attachment("cert-1").name == "Certificato.pdf"
    with pytest.raises(ContentNotFound):
        sealed.attachment("cert-2")
    assert dataclasses.replace(sealed, attachments=()).attachments == ()


@pytest.mark.parametrize(
    ("keys", "current", "problem"),
    [
        ({"a": KEY_A}, "b", "not among the keys"),
        ({"A": KEY_A}, "A", "lower case"),
        ({"a": KEY_A[:16]}, "a", "must be 32 bytes"),
    ],
)
def test_a_bad_key_ring_is_refused_saying_why(
    keys: dict[str, bytes], current: str, problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        ContentKeys(keys, current)


def test_the_recipient_hash_is_not_keyed_by_the_ring_key_itself() -> None:
    """The cipher and the hash use subkeys derived for each: no key bytes are shared."""
    keys = ContentKeys({"a": KEY_A}, current="a")
    plain = hmac.new(KEY_A, b"recipient:" + CODE.encode(), hashlib.sha256).hexdigest()
    assert keys.recipient(CODE) != plain


def test_remote_content_records_are_one_per_event_rule_and_recipient() -> None:
    """A CloudEvent is one (source, id): two events sharing an id, from two sources or for
    two citizens, never share a record, while a retry of one event finds its own again."""
    keys = ContentKeys({"k1": KEY_A}, "k1")
    mine, theirs = keys.recipient(CODE), keys.recipient(OTHER)

    key = keys.remote_key("urn:a", "e-1", "rule", mine)

    assert key == keys.remote_key("urn:a", "e-1", "rule", mine)
    others = {
        keys.remote_key("urn:b", "e-1", "rule", mine),
        keys.remote_key("urn:a", "e-1", "rule", theirs),
        keys.remote_key("urn:a", "e-1", "other-rule", mine),
        keys.remote_key("urn:a", "e-2", "rule", mine),
    }
    assert key not in others
    assert len(others) == 4


def test_remote_content_opens_only_under_its_key_and_for_its_recipient() -> None:
    keys = ContentKeys({"k1": KEY_A}, "k1")
    mine, theirs = keys.recipient(CODE), keys.recipient(OTHER)
    sealed = keys.seal_remote("rc", mine, b'{"subject": "s", "markdown": "m"}')

    assert keys.open_remote("rc", mine, sealed) == b'{"subject": "s", "markdown": "m"}'
    for key, recipient in [("rc", theirs), ("rc-2", mine)]:
        with pytest.raises(ContentNotFound):
            keys.open_remote(key, recipient, sealed)
    assert b"subject" not in sealed
