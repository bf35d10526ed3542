"""The few ASGI pieces the sandbox needs, without a web framework.

The sandbox must answer thousands of calls a second on one core (it stands in for IO in
benchmarks), so it speaks raw ASGI: read the body, build a `Response`, send two messages.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]
PDF = b"application/pdf"

JSON = b"application/json"
PROBLEM_JSON = b"application/problem+json"
MAX_BODY_BYTES = 1 << 20
MAX_DOCUMENT_BYTES = 16 << 20
"""The admin upload of a document: big enough for a test's document over a client's cap."""


class BodyTooLarge(Exception):
    """The request body is over its limit (`MAX_BODY_BYTES`); the sandbox refuses to buffer it."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(f"Body over {limit >> 20} MiB")


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    headers: Headers
    body: bytes

    def header(self, name: bytes) -> str | None:
        """The first value of a header; `name` must be lower case, as ASGI delivers it."""
        for key, value in self.headers:
            if key == name:
                return value.decode("latin-1")
        return None


@dataclass(slots=True)
class Response:
    status: int
    body: bytes = b""
    content_type: bytes = JSON
    headers: Headers = field(default_factory=list)

    @classmethod
    def json(
        cls,
        status: int,
        payload: object,
        *,
        content_type: bytes = JSON,
        headers: Headers | None = None,
    ) -> Response:
        body = json.dumps(payload, separators=(",", ":")).encode()
        return cls(status, body, content_type, headers or [])


AsyncHandler = Callable[["Request", Mapping[str, str]], Awaitable["Response"]]
"""A route outside the gateway that waits on something (a delay, a content server)."""


async def read_request(scope: Scope, receive: Receive, limit: int = MAX_BODY_BYTES) -> Request:
    """The whole request; raises BodyTooLarge instead of buffering a body over `limit`."""
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit)
        chunks.append(chunk)
        more = message.get("more_body", False)
    return Request(scope["method"], scope["path"], scope["headers"], b"".join(chunks))


async def send_response(send: Send, response: Response) -> None:
    headers = response.headers
    if response.status != 204:  # a 204 has neither a body nor its headers
        headers = [
            (b"content-type", response.content_type),
            (b"content-length", str(len(response.body)).encode()),
            *headers,
        ]
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})


@runtime_checkable
class _Abortable(Protocol):
    """A transport (asyncio's or uvloop's, which is not an asyncio.Transport subclass)."""

    def abort(self) -> None: ...


class ConnectionDropped(Exception):
    """Raised to the ASGI server when the transport cannot be reached to drop a connection."""


async def drop_connection(send: Send) -> None:
    """Close the client's connection without an answer, as a dying upstream would.

    ASGI has no message for this. uvicorn's `send` is a bound method of its protocol object,
    whose `transport` we abort: the client sees the socket close with no status line. Then we
    yield once, so uvicorn notices the disconnect before the app returns and logs nothing.
    Under another server (httpx's ASGITransport in tests) we promise a body we never send and
    raise, which every server must treat as a broken response.
    """
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if isinstance(transport, _Abortable):
        transport.abort()
        await asyncio.sleep(0)
        return
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"1")]}
    )
    raise ConnectionDropped
