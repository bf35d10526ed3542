"""The content server's answers to IO, each step of its contract, with documents fetched from
the sandbox's document store over real HTTP.

The app runs in process (httpx.ASGITransport): what is under test is its decisions; how it
streams through a real server is the end-to-end test's business.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from consumer.content.api_keys import ApiKeys
from consumer.content.app import ContentApp
from consumer.content.details import RemoteDetails
from consumer.content.metrics import ContentMetrics
from consumer.content.sealed import Attachment, ContentKeys, ContentReference
from consumer.content.settings import ContentSettings, DocumentSource
from consumer.content.sources import DocumentSources
from consumer.errors import ConfigurationError
from consumer.secret_source import KeySource
from tests.contract.io_spec import component_validator, load_spec
from tests.fixtures.sandbox import ALLOWED, BLOCKED, Sandbox, launch, stop

KEY = "content-key-now"
OLD_KEY = "content-key-before"
TOKEN = "sandbox-document-token"
CERTIFICATE = "certificati/CERT-1.pdf"


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """One document store for the module: each test uses paths of its own."""
    sandbox = launch(tmp_path_factory.mktemp("documents"), rate_limit="off")
    try:
        yield sandbox
    finally:
        stop(sandbox)


@pytest.fixture
def keys() -> ContentKeys:
    return ContentKeys({"k1": b"\x01" * 32}, "k1")


@pytest.fixture
def remote(keys: ContentKeys) -> dict[str, bytes]:
    """The content topic as the content server holds it."""
    return {
        "rc-1": keys.seal_remote(
            "rc-1",
            keys.recipient(ALLOWED),
            RemoteDetails(
                subject="Il tuo certificato", markdown="Il certificato **n. 1** è allegato."
            )
            .model_dump_json()
            .encode(),
        )
    }


@pytest.fixture
async def content(
    documents: Sandbox, keys: ContentKeys, remote: dict[str, bytes]
) -> AsyncIterator[httpx.AsyncClient]:
    source = DocumentSource(
        base_url=f"{documents.base_url}/documents/",
        auth=KeySource(key=SecretStr(TOKEN)),
        allowed_hosts=["127.0.0.1"],
        max_bytes=200_000,
        timeout_s=1.0,
    )
    sources = DocumentSources({"store": source})
    app = ContentApp(
        keys=keys,
        api_keys=ApiKeys([SecretStr(KEY), SecretStr(OLD_KEY)]),
        header_key_name="X-Api-Key",
        sources=sources,
        remote=remote,
        metrics=ContentMetrics(),
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://content"
    ) as client:
        yield client
    await sources.aclose()


def sealed(keys: ContentKeys, *paths: str, remote: str | None = None) -> str:
    attachments = tuple(
        Attachment(id=f"doc-{n}", name=f"Certificato {n}.pdf", source="store", path=path)
        for n, path in enumerate(paths, start=1)
    )
    reference = ContentReference(
        "event-1", "document-ready", keys.recipient(ALLOWED), attachments, remote
    )
    return keys.seal(reference)


def headers(key: str | None = KEY, fiscal_code: str | None = ALLOWED) -> dict[str, str]:
    given = {}
    if key is not None:
        given["x-api-key"] = key
    if fiscal_code is not None:
        given["fiscal_code"] = fiscal_code
    return given


def store(documents: Sandbox, method: str, path: str, **request: Any) -> httpx.Response:
    """The document store's admin endpoints (set-up, before the request under test)."""
    url = f"{documents.base_url}/__sandbox/documents/{path}"
    return httpx.request(method, url, timeout=10, **request).raise_for_status()


def upstream(documents: Sandbox, path: str) -> bytes:
    url = f"{documents.base_url}/documents/{path}"
    return httpx.get(url, headers={"authorization": f"Bearer {TOKEN}"}, timeout=5).content


async def test_details_list_the_attachments_and_the_remote_content_valid_against_ios_spec(
    content: httpx.AsyncClient, keys: ContentKeys
) -> None:
    message_id = sealed(keys, CERTIFICATE, remote="rc-1")

    answer = await content.get(f"/messages/{message_id}", headers=headers())

    assert answer.status_code == 200
    body = answer.json()
    validator = component_validator(load_spec("third-party"), "ThirdPartyMessage")
    assert list(validator.iter_errors(body)) == []
    assert body == {
        "attachments": [
            {
                "id": "doc-1",
                "url": "doc-1",
                "name": "Certificato 1.pdf",
                "content_type": "application/pdf",
            }
        ],
        "details": {
            "subject": "Il tuo certificato",
            "markdown": "Il certificato **n. 1** è allegato.",
        },
    }


async def test_the_attachment_is_the_sources_pdf_byte_for_byte(
    content: httpx.AsyncClient, keys: ContentKeys, documents: Sandbox
) -> None:
    message_id = sealed(keys, CERTIFICATE)
    expected = upstream(documents, CERTIFICATE)

    answer = await content.get(f"/messages/{message_id}/doc-1", headers=headers())

    assert answer.status_code == 200
    assert answer.content == expected
    assert answer.content.startswith(b"%PDF")
    assert answer.headers["content-length"] == str(len(expected))


@pytest.mark.parametrize("key", [None, "", "content-key-no", KEY + "x"])
async def test_a_wrong_or_missing_api_key_gets_401(
    content: httpx.AsyncClient, keys: ContentKeys, key: str | None
) -> None:
    message_id = sealed(keys, CERTIFICATE)

    for path in (f"/messages/{message_id}", f"/messages/{message_id}/doc-1"):
        answer = await content.get(path, headers=headers(key=key))
        assert answer.status_code == 401
        assert answer.content == b""


async def test_the_previous_key_still_opens_during_a_rotation(
    content: httpx.AsyncClient, keys: ContentKeys
) -> None:
    answer = await content.get(
        f"/messages/{sealed(keys, CERTIFICATE)}", headers=headers(key=OLD_KEY)
    )

    assert answer.status_code == 200


async def test_a_missing_or_malformed_fiscal_code_header_gets_400(
    content: httpx.AsyncClient, keys: ContentKeys
) -> None:
    message_id = sealed(keys, CERTIFICATE)

    missing = await content.get(f"/messages/{message_id}", headers=headers(fiscal_code=None))
    lower = await content.get(
        f"/messages/{message_id}", headers=headers(fiscal_code=ALLOWED.lower())
    )

    assert missing.status_code == 400
    assert lower.status_code == 400


async def test_another_citizens_code_an_unknown_id_and_an_unknown_attachment_get_the_same_404(
    content: httpx.AsyncClient, keys: ContentKeys
) -> None:
    message_id = sealed(keys, CERTIFICATE)
    forged = message_id[:-4] + ("AAAA" if not message_id.endswith("AAAA") else "BBBB")

    answers = [
        await content.get(f"/messages/{message_id}", headers=headers(fiscal_code=BLOCKED)),
        await content.get(f"/messages/{message_id}/doc-1", headers=headers(fiscal_code=BLOCKED)),
        await content.get(f"/messages/{forged}", headers=headers()),
        await content.get("/messages/v1.k1.bm90LWFuLWlk", headers=headers()),
        await content.get(f"/messages/{message_id}/doc-2", headers=headers()),
    ]

    assert [answer.status_code for answer in answers] == [404] * 5
    assert len({answer.content for answer in answers}) == 1


async def test_a_document_deleted_upstream_gets_404_for_its_bytes_while_the_details_stay(
    content: httpx.AsyncClient, keys: ContentKeys, documents: Sandbox
) -> None:
    path = "certificati/CERT-DELETED.pdf"
    store(documents, "DELETE", path)
    message_id = sealed(keys, path)

    details = await content.get(f"/messages/{message_id}", headers=headers())
    document = await content.get(f"/messages/{message_id}/doc-1", headers=headers())

    assert details.status_code == 200
    assert document.status_code == 404


@pytest.mark.parametrize(
    "behaviour", [{"delay_ms": 3000}, {"status": 503}, {"status": 500}], ids=["slow", "503", "500"]
)
async def test_a_slow_or_failing_source_gets_503_with_a_short_retry_after(
    content: httpx.AsyncClient, keys: ContentKeys, documents: Sandbox, behaviour: dict[str, Any]
) -> None:
    path = "certificati/CERT-FLAKY.pdf"
    store(documents, "POST", f"{path}/behaviour", json=behaviour)
    try:
        answer = await content.get(f"/messages/{sealed(keys, path)}/doc-1", headers=headers())
    finally:
        store(documents, "POST", f"{path}/behaviour", json={})

    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "1"


async def test_bytes_that_are_not_a_pdf_are_not_relayed(
    content: httpx.AsyncClient, keys: ContentKeys, documents: Sandbox
) -> None:
    path = "uploads/not-a-pdf.pdf"
    store(documents, "PUT", path, content=b"<html>login</html>")

    answer = await content.get(f"/messages/{sealed(keys, path)}/doc-1", headers=headers())

    assert answer.status_code == 500
    assert b"html" not in answer.content


async def test_a_document_over_the_size_cap_is_not_relayed(
    content: httpx.AsyncClient, keys: ContentKeys, documents: Sandbox
) -> None:
    path = "uploads/big.pdf"
    body = b"%PDF-1.4\n" + b"%" * 300_000 + b"\n%%EOF\n"
    store(documents, "PUT", path, content=body)

    answer = await content.get(f"/messages/{sealed(keys, path)}/doc-1", headers=headers())

    assert answer.status_code == 500
    assert len(answer.content) < 1000


async def test_remote_content_sealed_for_another_citizen_never_opens_for_this_one(
    content: httpx.AsyncClient, keys: ContentKeys, remote: dict[str, bytes]
) -> None:
    """Two events that share an id (two sources, a producer's mistake) name two records; and
    should a record ever be under another message's key, it does not open for its citizen."""
    others = keys.remote_key("urn:b", "event-1", "document-ready", keys.recipient(BLOCKED))
    ours = keys.remote_key("urn:a", "event-1", "document-ready", keys.recipient(ALLOWED))
    assert others != ours
    message_id = sealed(keys, CERTIFICATE, remote="rc-other")
    remote["rc-other"] = keys.seal_remote("rc-other", keys.recipient(BLOCKED), b"{}")

    answer = await content.get(f"/messages/{message_id}", headers=headers())

    assert answer.status_code == 404


async def test_remote_content_missing_from_the_topic_is_a_500_never_a_404(
    content: httpx.AsyncClient, keys: ContentKeys
) -> None:
    """The relay keeps it before the submit, so missing means lost (or a replica behind):
    a 404 would tell IO the message does not exist. The spec has no 503 for details."""
    answer = await content.get(
        f"/messages/{sealed(keys, CERTIFICATE, remote='rc-lost')}", headers=headers()
    )

    assert answer.status_code == 500
    assert answer.headers["content-type"] == "application/json"
    assert answer.json()["status"] == 500


async def test_nothing_redirects_and_other_paths_get_404(content: httpx.AsyncClient) -> None:
    answers = [
        await content.get("/", headers=headers()),
        await content.get("/messages", headers=headers()),
        await content.get("/other/x", headers=headers()),
    ]

    assert [answer.status_code for answer in answers] == [404, 404, 404]
    assert all("location" not in answer.headers for answer in answers)


def test_sealing_key_must_be_32_bytes_of_base64() -> None:
    good = base64.b64encode(b"\x02" * 32).decode()
    settings = ContentSettings(
        sealing_keys={
            "k1": KeySource(key=SecretStr(good)),
            "k2": KeySource(key=SecretStr("c2hvcnQ=")),
        },
        current_sealing_key="k1",
    )

    with pytest.raises(ConfigurationError, match="k2: not 32 bytes"):
        settings.key_ring()
