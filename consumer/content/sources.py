"""Document sources: where attachments' bytes come from, streamed, never stored.

Each source is a base URL with the hosts io-relay may fetch from, a bearer token, a size cap
and a timeout. A document is opened only once its first bytes show a PDF, so the content
server can still choose its status line: the bytes are relayed only when they are what the
message promised.

    gone upstream (404, 410)      DocumentGone       → 404 for the bytes
    timeout, 5xx, connection      TransientError     → 503 with a short Retry-After
    not a PDF, too big, 3xx, 4xx  DocumentRefused    → 500, and a warning for the operator
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

import httpx

from consumer.errors import ContentNotFound, IoRelayError, TransientError

if TYPE_CHECKING:  # the settings validate hosts with the rules' helpers
    from consumer.content.settings import DocumentSource

PDF_MAGIC = b"%PDF"
DOWNLOAD_BUDGET_S = 8.0
"""The app gives a download 8 s: past it no one waits for the bytes, however they come."""
_GONE = frozenset({404, 410})


class DocumentGone(ContentNotFound):
    """The source no longer has the document: its message stays, its bytes are gone."""


class DocumentRefused(IoRelayError):
    """The source answered with something io-relay will not relay; `reason` says what."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(slots=True)
class Document:
    """An open document: the bytes already checked, the rest still upstream."""

    length: int | None
    """From the source's Content-Length, when it sent one."""
    head: bytes
    rest: AsyncIterator[bytes]


def document_url(source: DocumentSource, path: str) -> str:
    """The URL of `path` under the source, or ValueError if it would leave the source.

    The path comes from an event: it may not climb out of the base URL, carry a scheme or a
    query, or lead to a host the source does not allow."""
    if not path or path.startswith("/") or "\\" in path or "//" in path:
        raise ValueError("a document path is relative to its source's base URL")
    segments = path.split("/")
    if any(segment in {"", ".", ".."} for segment in segments):
        raise ValueError("a document path may not hold empty, '.' or '..' segments")
    url = source.base_url + "/".join(quote(segment, safe="") for segment in segments)
    host = urlsplit(url).hostname or ""
    if not source.hosts.allows(host):
        raise ValueError(f"{host} is not among the source's allowed_hosts")
    return url


class DocumentSources:
    """Every configured source, behind one HTTP client that never follows a redirect."""

    def __init__(
        self, sources: Mapping[str, DocumentSource], client: httpx.AsyncClient | None = None
    ) -> None:
        self._sources = dict(sources)
        self._client = client or httpx.AsyncClient(
            follow_redirects=False, limits=httpx.Limits(max_keepalive_connections=32)
        )
        self._tokens = {
            name: f"Bearer {source.auth.secret().get_secret_value()}"
            for name, source in self._sources.items()
            if source.auth is not None
        }

    def __contains__(self, name: object) -> bool:
        return name in self._sources

    def url(self, name: str, path: str) -> str:
        return document_url(self._sources[name], path)

    async def aclose(self) -> None:
        await self._client.aclose()

    @asynccontextmanager
    async def open(self, name: str, path: str) -> AsyncIterator[Document]:
        """The document, its first bytes checked; raises before yielding if it is not one
        to relay. Those first bytes come within the source's `timeout_s`, all phases
        together; after them each read has `timeout_s`, while IO takes the bytes at its
        own pace (IO's reading slowly is not the source's fault)."""
        source = self._sources.get(name)
        if source is None:
            raise DocumentRefused(f"no document source named {name!r}")
        try:
            url = document_url(source, path)
        except ValueError as exc:
            raise DocumentRefused(str(exc)) from None
        # Identity: the bytes are relayed as they come, never decoded and encoded again.
        headers = {"accept": "application/pdf", "accept-encoding": "identity"}
        if name in self._tokens:
            headers["authorization"] = self._tokens[name]
        request = self._client.build_request(
            "GET", url, headers=headers, timeout=httpx.Timeout(source.timeout_s)
        )
        response: httpx.Response | None = None
        try:
            async with asyncio.timeout(source.timeout_s):
                response = await self._client.send(request, stream=True)
                length = _checked_length(response, name, source.max_bytes)
                chunks = _bounded(response, name, source.max_bytes, _ends_by())
                head = await _head(chunks, name)
        except TimeoutError:
            await _close(response)
            raise TransientError(f"document source {name}: no document in time") from None
        except httpx.TransportError as exc:
            await _close(response)
            raise TransientError(f"document source {name}: {type(exc).__name__}") from None
        except BaseException:
            await _close(response)
            raise
        try:
            yield Document(length, head, chunks)
        finally:
            await response.aclose()


async def _close(response: httpx.Response | None) -> None:
    if response is not None:
        await response.aclose()


def _checked_length(response: httpx.Response, name: str, max_bytes: int) -> int | None:
    status = response.status_code
    if status in _GONE:
        raise DocumentGone
    if status >= 500 or status == 429:
        raise TransientError(f"document source {name} answered {status}")
    if status != 200:
        raise DocumentRefused(f"document source {name} answered {status}")
    declared = response.headers.get("content-length")
    if declared is None:
        return None
    try:
        length = int(declared)
    except ValueError:
        raise DocumentRefused(f"document source {name} sent a bad Content-Length") from None
    if length > max_bytes:
        raise DocumentRefused(f"document over {max_bytes} bytes (max_bytes of source {name})")
    return length


def _ends_by() -> float:
    return time.monotonic() + DOWNLOAD_BUDGET_S


async def _bounded(
    response: httpx.Response, name: str, max_bytes: int, deadline: float
) -> AsyncIterator[bytes]:
    """The body, refusing to go past `max_bytes` whatever the source said, or past the
    app's budget: a source that drips bytes just under each read's timeout ends too."""
    received = 0
    try:
        async for chunk in response.aiter_raw():
            received += len(chunk)
            if received > max_bytes:
                raise DocumentRefused(
                    f"document over {max_bytes} bytes (max_bytes of source {name})"
                )
            if time.monotonic() > deadline:
                raise TransientError(f"document source {name}: not done in {DOWNLOAD_BUDGET_S} s")
            yield chunk
    except httpx.TransportError as exc:
        raise TransientError(f"document source {name}: {type(exc).__name__}") from None


async def _head(chunks: AsyncIterator[bytes], name: str) -> bytes:
    """At least the magic's length of bytes (or all there is), which must start a PDF."""
    head = b""
    async for chunk in chunks:
        head += chunk
        if len(head) >= len(PDF_MAGIC):
            break
    if not head.startswith(PDF_MAGIC):
        raise DocumentRefused(f"document from source {name} is not a PDF")
    return head
