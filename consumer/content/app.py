"""`io-relay content` as an ASGI app: IO's third-party API (api-third-party.yaml).

    GET {base}/messages/{id}                  the details: attachments, remote content
    GET {base}/messages/{id}/{attachment_url} one attachment's bytes, streamed from its source

Every request goes through the same steps, in this order, and the first that fails answers:

    the API key (401) → a fiscal_code header (400) → the id opens for that code (404) → …

An id that does not open, or opens for another citizen, and an attachment the message does
not have all get the same 404: a caller learns nothing by trying. Nothing redirects.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any, NoReturn, Protocol

from consumer.content.api_keys import ApiKeys
from consumer.content.details import RemoteDetails, details_of
from consumer.content.metrics import ContentMetrics, Operation, Outcome
from consumer.content.sealed import ContentKeys, ContentReference
from consumer.content.sources import Document, DocumentGone, DocumentRefused, DocumentSources
from consumer.errors import ContentNotFound, TransientError
from consumer.io.models import FISCAL_CODE_PATTERN
from consumer.serving import send_json

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_PROBLEM = b"application/json"  # api-third-party.yaml declares its ProblemJson so
NO_MESSAGE = "No message found for the provided ID."
_TITLES = {
    400: "Bad request",
    404: "Not found",
    405: "Method not allowed",
    500: "Internal server error",
    503: "Service unavailable",
}


class RemoteContents(Protocol):
    """Sealed remote contents by key (the content topic, read into memory)."""

    def get(self, key: str) -> bytes | None: ...


class _Answer(Exception):
    """Ends a request with a status, a problem body, and the outcome to count."""

    def __init__(
        self, status: int, outcome: Outcome, detail: str | None, retry_after_s: int | None = None
    ) -> None:
        self.status, self.outcome, self.detail = status, outcome, detail
        self.retry_after_s = retry_after_s


class ContentApp:
    def __init__(
        self,
        *,
        keys: ContentKeys,
        api_keys: ApiKeys,
        header_key_name: str,
        sources: DocumentSources,
        remote: RemoteContents | None,
        metrics: ContentMetrics,
        base_path: str = "",
        retry_after_s: int = 1,
    ) -> None:
        self._keys = keys
        self._api_keys = api_keys
        self._key_header = header_key_name.lower().encode("latin-1")
        self._sources = sources
        self._remote = remote
        self._metrics = metrics
        self._route = re.compile(
            re.escape(base_path.rstrip("/")) + r"/messages/([^/]+)(?:/([^/]+))?"
        )
        self._retry_after_s = retry_after_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        began = time.perf_counter()
        response = _Response(send)
        operation: Operation = "other"
        outcome: Outcome = "ok"
        try:
            match = self._route.fullmatch(scope["path"])
            if match is None:
                raise _Answer(404, "not_found", "No such operation.")
            message_id, attachment_url = match.group(1), match.group(2)
            operation = "details" if attachment_url is None else "attachment"
            if scope["method"] != "GET":
                raise _Answer(405, "bad_request", "Only GET is served.")
            reference = self._open(scope, message_id)
            if attachment_url is None:
                await send_json(response.send, 200, self._details(reference))
            else:
                outcome = await self._attachment(reference, attachment_url, response, receive)
        except _Answer as answer:
            outcome = answer.outcome
            await _send_problem(response.send, answer)
        except AttachmentCutShort:
            outcome = "aborted"
            raise
        except Exception:
            outcome = "error"
            log.exception("content request failed")
            if response.started:
                raise AttachmentCutShort from None
            await _send_problem(response.send, _Answer(500, "error", "Internal error."))
        finally:
            self._metrics.answered(operation, outcome, time.perf_counter() - began)

    def _open(self, scope: Scope, message_id: str) -> ContentReference:
        headers = dict(scope["headers"])  # ASGI: names are lower case
        if not self._api_keys.accepts(_text(headers.get(self._key_header))):
            raise _Answer(401, "unauthorized", None)
        fiscal_code = _text(headers.get(b"fiscal_code"))
        if fiscal_code is None or not re.fullmatch(FISCAL_CODE_PATTERN, fiscal_code):
            raise _Answer(400, "bad_request", "A fiscal_code header of 16 upper-case characters.")
        try:
            return self._keys.open(message_id, fiscal_code)
        except ContentNotFound:
            unknown = self._keys.unknown_key(message_id)
            if unknown is not None:
                # A rotation done out of order: the relay seals with a key this ring lacks.
                log.warning(
                    "message id sealed with a key not in content.sealing_keys",
                    extra={"key_id": unknown},
                )
            raise _Answer(404, "not_found", NO_MESSAGE) from None

    def _details(self, reference: ContentReference) -> bytes:
        remote = None
        if reference.remote is not None:
            sealed = self._remote.get(reference.remote) if self._remote is not None else None
            if sealed is None:
                # Kept before the submit, so read by now unless the topic lost it (or this
                # replica is behind). The spec has no 503 for details: IO shows an error.
                log.error("remote content missing from the content topic")
                raise _Answer(500, "unavailable", "The message's content is not available.")
            try:
                plain = self._keys.open_remote(reference.remote, reference.recipient, sealed)
            except ContentNotFound:
                log.error("remote content does not open with the content keys")
                raise _Answer(404, "not_found", NO_MESSAGE) from None
            remote = RemoteDetails.model_validate_json(plain)
        return details_of(reference, remote).to_json_body()

    async def _attachment(
        self, reference: ContentReference, url: str, response: _Response, receive: Receive
    ) -> Outcome:
        try:
            attachment = reference.attachment(url)
        except ContentNotFound:
            raise _Answer(404, "not_found", NO_MESSAGE) from None
        try:
            async with self._sources.open(attachment.source, attachment.path) as document:
                return await self._stream(document, response, receive)
        except DocumentGone:
            raise _Answer(404, "gone", "The document is no longer available.") from None
        except TransientError as exc:
            if response.started:
                _aborted(exc)
            log.warning("document source unavailable", extra={"reason": str(exc)})
            raise _Answer(503, "unavailable", "Try again shortly.", self._retry_after_s) from None
        except DocumentRefused as exc:
            if response.started:
                _aborted(exc)
            log.warning("document refused", extra={"reason": exc.reason})
            raise _Answer(500, "refused", "The document cannot be served.") from None

    async def _stream(self, document: Document, response: _Response, receive: Receive) -> Outcome:
        """The bytes as they come, until the source ends them or IO hangs up."""
        headers = [(b"content-type", b"application/octet-stream")]
        if document.length is not None:
            headers.append((b"content-length", str(document.length).encode()))
        await response.send({"type": "http.response.start", "status": 200, "headers": headers})
        hung_up = asyncio.create_task(_disconnected(receive))
        relayed = 0
        try:
            chunk = document.head
            async for more in _chain(chunk, document.rest):
                if hung_up.done():  # nobody reads: stop fetching from the source
                    return "aborted"
                await response.send({"type": "http.response.body", "body": more, "more_body": True})
                relayed += len(more)
            await response.send({"type": "http.response.body", "body": b""})
            return "ok"
        finally:
            hung_up.cancel()
            self._metrics.relayed(relayed)


class _Response:
    """`send`, remembering whether the status line went out (then only a cut is left)."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.started = False

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
        await self._send(message)


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def _chain(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    yield first
    async for chunk in rest:
        yield chunk


def _aborted(error: Exception) -> NoReturn:
    """The status line went out: the only honest thing left is to cut the connection short,
    which IO sees as a broken download, never as a whole file."""
    log.warning("attachment cut short", extra={"reason": str(error)})
    raise AttachmentCutShort from None


class AttachmentCutShort(Exception):
    """Raised to the ASGI server, which closes the connection before the body ends."""


def _text(value: bytes | None) -> str | None:
    return value.decode("latin-1") if value is not None else None


async def _send_problem(send: Send, answer: _Answer) -> None:
    headers: list[tuple[bytes, bytes]] = []
    if answer.retry_after_s is not None:
        headers.append((b"retry-after", str(answer.retry_after_s).encode()))
    if answer.detail is None:  # the spec's 401 has no body
        headers.append((b"content-length", b"0"))
        await send({"type": "http.response.start", "status": answer.status, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
        return
    title = _TITLES.get(answer.status, "Error")
    body = json.dumps({"title": title, "status": answer.status, "detail": answer.detail}).encode()
    headers += [(b"content-type", _PROBLEM), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
