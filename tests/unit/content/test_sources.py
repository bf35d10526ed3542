"""Document sources at their edges, which the sandbox's store cannot play: bodies without a
Content-Length that grow past the cap, lying lengths, redirects, paths that try to leave.

The upstream is an httpx.MockTransport; the content app runs in process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from pydantic import SecretStr

from consumer.content.api_keys import ApiKeys
from consumer.content.app import AttachmentCutShort, ContentApp
from consumer.content.metrics import ContentMetrics
from consumer.content.sealed import Attachment, ContentKeys, ContentReference
from consumer.content.settings import DocumentSource
from consumer.content.sources import (
    DocumentGone,
    DocumentRefused,
    DocumentSources,
    document_url,
)
from consumer.errors import TransientError
from consumer.secret_source import KeySource

CODE = "AAAAAA00A00A000A"
SOURCE = DocumentSource(
    base_url="https://docs.comune.example/api/",
    allowed_hosts=["docs.comune.example"],
    max_bytes=1000,
    timeout_s=1.0,
)


class Chunks(httpx.AsyncByteStream):
    """A body sent piece by piece, with no Content-Length."""

    def __init__(self, *chunks: bytes) -> None:
        self._chunks = chunks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self._chunks:
            yield chunk


def sources(handler: Callable[[httpx.Request], httpx.Response]) -> DocumentSources:
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler), follow_redirects=False)
    return DocumentSources({"docs": SOURCE}, client)


async def read(documents: DocumentSources, path: str = "a.pdf") -> bytes:
    async with documents.open("docs", path) as document:
        return document.head + b"".join([chunk async for chunk in document.rest])


@pytest.mark.parametrize(
    "path",
    [
        "../secret.pdf",
        "a/../../b.pdf",
        "/etc/passwd",
        "//evil.example/x.pdf",
        "a//b.pdf",
        "./a.pdf",
        "a\\..\\b.pdf",
        "",
    ],
)
def test_a_path_that_would_leave_its_source_is_refused(path: str) -> None:
    with pytest.raises(ValueError, match="document path"):
        document_url(SOURCE, path)


@pytest.mark.parametrize(
    ("path", "url"),
    [
        ("a.pdf", "https://docs.comune.example/api/a.pdf"),
        ("x@evil.example/a.pdf", "https://docs.comune.example/api/x%40evil.example/a.pdf"),
        ("%2e%2e/a.pdf", "https://docs.comune.example/api/%252e%252e/a.pdf"),
        ("?q=1#f", "https://docs.comune.example/api/%3Fq%3D1%23f"),
        ("certificati/è.pdf", "https://docs.comune.example/api/certificati/%C3%A8.pdf"),
    ],
)
def test_every_segment_is_quoted_so_it_stays_one_segment_under_the_base(
    path: str, url: str
) -> None:
    assert document_url(SOURCE, path) == url


async def test_a_body_without_length_that_grows_past_the_cap_is_refused_while_streaming() -> None:
    documents = sources(lambda _: httpx.Response(200, stream=Chunks(b"%PDF-1.4\n", b"x" * 2000)))

    with pytest.raises(DocumentRefused, match="over 1000 bytes"):
        await read(documents)


async def test_a_declared_length_over_the_cap_is_refused_before_any_byte() -> None:
    documents = sources(lambda _: httpx.Response(200, content=b"%PDF" + b"x" * 2000))

    with pytest.raises(DocumentRefused, match="over 1000 bytes"):
        await read(documents)


async def test_a_pdf_split_before_its_magic_still_opens() -> None:
    documents = sources(lambda _: httpx.Response(200, stream=Chunks(b"%P", b"DF-1.7\n", b"end")))

    assert await read(documents) == b"%PDF-1.7\nend"


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (404, DocumentGone),
        (410, DocumentGone),
        (500, TransientError),
        (503, TransientError),
        (429, TransientError),
        (301, DocumentRefused),
        (302, DocumentRefused),
        (401, DocumentRefused),
        (403, DocumentRefused),
    ],
)
async def test_the_sources_answer_says_what_the_content_server_does(
    status: int, error: type[Exception]
) -> None:
    headers = {"location": "https://evil.example/a.pdf"} if 300 <= status < 400 else {}
    documents = sources(lambda _: httpx.Response(status, headers=headers, content=b"%PDF"))

    with pytest.raises(error):
        await read(documents)


async def test_the_token_goes_as_bearer_and_no_encoding_is_asked() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, stream=Chunks(b"%PDF-1.4"))

    source = SOURCE.model_copy(update={"auth": KeySource(key=SecretStr("t0ken"))})
    client = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    with_token = DocumentSources({"docs": source}, client)

    await read(with_token)

    assert seen[0].headers["authorization"] == "Bearer t0ken"
    assert seen[0].headers["accept-encoding"] == "identity"
    assert str(seen[0].url) == "https://docs.comune.example/api/a.pdf"


async def test_bytes_cut_short_after_the_status_line_break_the_download_and_count_aborted() -> None:
    keys = ContentKeys({"k1": b"\x01" * 32}, "k1")
    attachment = Attachment(id="doc", name="Doc.pdf", source="docs", path="a.pdf")
    message_id = keys.seal(
        ContentReference("e", "r", keys.recipient(CODE), attachments=(attachment,))
    )
    metrics = ContentMetrics()
    app = ContentApp(
        keys=keys,
        api_keys=ApiKeys([SecretStr("key")]),
        header_key_name="x-api-key",
        sources=sources(lambda _: httpx.Response(200, stream=Chunks(b"%PDF-1.4\n", b"x" * 5000))),
        remote={},
        metrics=metrics,
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://content") as client:
        with pytest.raises(AttachmentCutShort):
            await client.get(
                f"/messages/{message_id}/doc", headers={"x-api-key": "key", "fiscal_code": CODE}
            )

    aborted = metrics.registry.get_sample_value(
        "io_relay_content_requests_total", {"operation": "attachment", "outcome": "aborted"}
    )
    assert aborted == 1.0


class Stalls(httpx.AsyncByteStream):
    """A source that sends its status line, then nothing for a long time."""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        await asyncio.sleep(60)
        yield b"%PDF"


async def test_a_source_that_stalls_before_its_first_bytes_is_given_up_within_its_timeout() -> None:
    """No network here, so no httpx timeout can fire: only the bound on the whole of the
    first bytes can end this (without it the test hangs until pytest's timeout)."""
    quick = SOURCE.model_copy(update={"timeout_s": 0.2})
    client = httpx.AsyncClient(
        transport=httpx.MockTransport(lambda _: httpx.Response(200, stream=Stalls()))
    )
    documents = DocumentSources({"docs": quick}, client)

    with pytest.raises(TransientError, match="no document in time"):
        await read(documents)


async def test_io_hanging_up_stops_the_fetch_from_the_source() -> None:
    keys = ContentKeys({"k1": b"\x01" * 32}, "k1")
    attachment = Attachment(id="doc", name="Doc.pdf", source="docs", path="a.pdf")
    message_id = keys.seal(
        ContentReference("e", "r", keys.recipient(CODE), attachments=(attachment,))
    )
    pulled: list[int] = []

    class Endless(httpx.AsyncByteStream):
        async def __aiter__(self) -> AsyncIterator[bytes]:
            yield b"%PDF-1.4\n"
            for n in range(100):
                pulled.append(n)
                await asyncio.sleep(0.01)
                yield b"x" * 10

    roomy = SOURCE.model_copy(update={"max_bytes": 10_000_000})
    client = httpx.AsyncClient(
        transport=httpx.MockTransport(lambda _: httpx.Response(200, stream=Endless()))
    )
    metrics = ContentMetrics()
    app = ContentApp(
        keys=keys,
        api_keys=ApiKeys([SecretStr("key")]),
        header_key_name="x-api-key",
        sources=DocumentSources({"docs": roomy}, client),
        remote={},
        metrics=metrics,
    )
    sent: list[dict[str, object]] = []
    hung_up = asyncio.Event()

    async def receive() -> dict[str, object]:
        await hung_up.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, object]) -> None:
        sent.append(dict(message))
        if len(sent) == 3:  # the status line and two pieces of body: then IO goes away
            hung_up.set()
        await asyncio.sleep(0)

    scope = {
        "type": "http",
        "method": "GET",
        "path": f"/messages/{message_id}/doc",
        "headers": [(b"x-api-key", b"key"), (b"fiscal_code", CODE.encode())],
    }
    await app(scope, receive, send)  # type: ignore[arg-type]

    assert sent[0]["status"] == 200
    assert len(pulled) < 10
    assert all(message.get("more_body", False) for message in sent[1:])  # never a whole file
    aborted = metrics.registry.get_sample_value(
        "io_relay_content_requests_total", {"operation": "attachment", "outcome": "aborted"}
    )
    assert aborted == 1.0


async def test_a_source_that_drips_just_under_each_reads_timeout_still_ends(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each read comes in time, but the whole would outlast the app's budget: nobody would
    be waiting for the last byte."""
    monkeypatch.setattr("consumer.content.sources.DOWNLOAD_BUDGET_S", 0.3)

    class Drips(httpx.AsyncByteStream):
        async def __aiter__(self) -> AsyncIterator[bytes]:
            yield b"%PDF-1.4\n"
            for _ in range(100):
                await asyncio.sleep(0.05)
                yield b"x"

    documents = sources(lambda _: httpx.Response(200, stream=Drips()))

    with pytest.raises(TransientError, match="not done in"):
        await read(documents)
