"""`io-relay content` as an ASGI app: IO's third-party API (api-third-party.yaml).

    GET {base}/messages/{id}                  the details: attachments, remote content
    GET {base}/messages/{id}/{attachment_url} one attachment's bytes, streamed from its source

Every request goes through the same steps, in this order, and the first that fails answers:

    the API key (401) → a fiscal_code header (400) → the id opens for that code (404) → …

An id that does not open, or opens for another citizen, and an attachment the message does
not have all get the same 404: a caller learns nothing by trying. Nothing redirects.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, NoReturn, Protocol

from consumer.content.api_keys import ApiKeys
from consumer.content.details import RemoteDetails, details_of
from consumer.content.metrics import ContentMetrics, Operation, Outcome
from consumer.content.sealed import ContentKeys, ContentReference
from consumer.content.sources import DocumentGone, DocumentRefused, DocumentSources
from consumer.errors import ContentNotFound, TransientError
from consumer.io.models import FISCAL_CODE_PATTERN

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_PROBLEM = b"application/problem+json"
_NO_MESSAGE = "No message found for the provided ID."
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
        started = time.perf_counter()
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
                await _send_json(send, 200, self._details(reference))
            else:
                outcome = await self._attachment(reference, attachment_url, send)
        except _Answer as answer:
            outcome = answer.outcome
            await _send_problem(send, answer)
        except AttachmentCutShort:
            outcome = "aborted"
            raise
        finally:
            self._metrics.answered(operation, outcome, time.perf_counter() - started)

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
            raise _Answer(404, "not_found", _NO_MESSAGE) from None

    def _details(self, reference: ContentReference) -> bytes:
        remote = None
        if reference.remote is not None:
            sealed = self._remote.get(reference.remote) if self._remote is not None else None
            if sealed is None:
                # Kept before the submit: not here yet means this replica is still reading.
                raise _Answer(503, "unavailable", "Try again shortly.", self._retry_after_s)
            try:
                plain = self._keys.open_remote(reference.remote, sealed)
            except ContentNotFound:
                log.error("remote content does not open with the content keys")
                raise _Answer(404, "not_found", _NO_MESSAGE) from None
            remote = RemoteDetails.model_validate_json(plain)
        return details_of(reference, remote).to_json_body()

    async def _attachment(self, reference: ContentReference, url: str, send: Send) -> Outcome:
        try:
            attachment = reference.attachment(url)
        except ContentNotFound:
            raise _Answer(404, "not_found", _NO_MESSAGE) from None
        started = False
        relayed = 0
        try:
            async with self._sources.open(attachment.source, attachment.path) as document:
                headers = [(b"content-type", b"application/octet-stream")]
                if document.length is not None:
                    headers.append((b"content-length", str(document.length).encode()))
                started = True
                await send({"type": "http.response.start", "status": 200, "headers": headers})
                await send({"type": "http.response.body", "body": document.head, "more_body": True})
                relayed += len(document.head)
                async for chunk in document.rest:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                    relayed += len(chunk)
                await send({"type": "http.response.body", "body": b""})
        except DocumentGone:
            raise _Answer(404, "gone", "The document is no longer available.") from None
        except TransientError as exc:
            if started:
                _aborted(exc)
            log.warning("document source unavailable", extra={"reason": str(exc)})
            raise _Answer(503, "unavailable", "Try again shortly.", self._retry_after_s) from None
        except DocumentRefused as exc:
            if started:
                _aborted(exc)
            log.warning("document refused", extra={"reason": exc.reason})
            raise _Answer(500, "refused", "The document cannot be served.") from None
        finally:
            self._metrics.relayed(relayed)
        return "ok"


def _aborted(error: Exception) -> NoReturn:
    """The status line went out: the only honest thing left is to cut the connection short,
    which IO sees as a broken download, never as a whole file."""
    log.warning("attachment cut short", extra={"reason": str(error)})
    raise AttachmentCutShort from None


class AttachmentCutShort(Exception):
    """Raised to the ASGI server, which closes the connection before the body ends."""


def _text(value: bytes | None) -> str | None:
    return value.decode("latin-1") if value is not None else None


async def _send_json(send: Send, status: int, body: bytes) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


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
