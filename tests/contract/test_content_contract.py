"""The content server's details answer against IO's api-third-party.yaml (ThirdPartyMessage)."""

from __future__ import annotations

import json
import os

import pytest

from consumer.content import Attachment, ContentKeys, ContentReference
from consumer.content.details import RemoteDetails, ThirdPartyMessage, details_of
from tests.contract.io_spec import component_validator, require_spec

SPEC = require_spec("third-party")
MESSAGE = component_validator(SPEC, "ThirdPartyMessage")
KEYS = ContentKeys({"a": os.urandom(32)}, current="a")
CERTIFICATE = Attachment("cert-1", "Certificato di residenza.pdf", "anagrafe", "c/1.pdf")
RECEIPT = Attachment("ricevuta_2026.v2", "Ricevuta.pdf", "tributi", "r/2.pdf")
REMOTE = RemoteDetails(subject="Il tuo certificato", markdown="Il certificato è allegato.")


def reference(*attachments: Attachment) -> ContentReference:
    return ContentReference(
        "ev-1", "document-ready", KEYS.recipient("RSSMRA85T10A562S"), attachments
    )


@pytest.mark.parametrize(
    "answer",
    [
        details_of(reference(CERTIFICATE)),
        details_of(reference(CERTIFICATE, RECEIPT), REMOTE),
        details_of(reference(), REMOTE),
    ],
    ids=["one attachment", "two attachments and remote details", "remote details only"],
)
def test_the_details_answer_is_a_third_party_message(answer: ThirdPartyMessage) -> None:
    body = json.loads(answer.to_json_body())

    errors = [error.message for error in MESSAGE.iter_errors(body)]

    assert errors == []
    for attachment in body.get("attachments", []):
        # The app fetches GET {base_url}/messages/{id}/{url}: the url is one path segment.
        assert "/" not in attachment["url"]
        assert attachment["content_type"] == "application/pdf"


def test_the_spec_check_can_fail() -> None:
    """Not vacuous: an attachment without its url is not a ThirdPartyMessage."""
    body = {"attachments": [{"id": "cert-1", "name": "x.pdf"}]}
    assert [error.message for error in MESSAGE.iter_errors(body)] == [
        "'url' is a required property"
    ]


@pytest.mark.parametrize("attachment_id", ["", "a/b", "..", "x" * 65, "cert 1", "cért"])
def test_an_attachment_id_that_is_not_one_path_segment_is_refused(attachment_id: str) -> None:
    with pytest.raises(ValueError, match="attachment id"):
        Attachment(attachment_id, "x.pdf", "anagrafe", "c/1.pdf")
