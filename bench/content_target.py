"""The servers `bench.content_server` drives, each run as a subprocess under uvicorn.

    .venv/bin/python -m bench.content_target content --documents URL
    .venv/bin/python -m bench.content_target trivial

`content` is `io-relay content`'s ASGI app built as `serve_content` builds it, from a
`content:` section (one sealing key, one API key, one document source: the sandbox's document
store at URL), with an empty remote store instead of the content topic, so no Kafka is needed.
`trivial` is the floor any ASGI app stands on: raw ASGI answering the same details body,
fixed. Both run with the sandbox's uvicorn settings (uvloop, httptools, no access log) and
print `bench target listening on http://HOST:PORT` once bound.
"""

from __future__ import annotations

import argparse
import base64
import socket
import sys
from collections.abc import Sequence

import uvicorn

from consumer.content.app import ContentApp, Receive, Scope, Send
from consumer.content.details import details_of
from consumer.content.metrics import ContentMetrics
from consumer.content.sealed import Attachment, ContentKeys, ContentReference
from consumer.content.settings import ContentSettings
from consumer.content.sources import DocumentSources
from consumer.sandbox.settings import DOCUMENT_BEARER_DEFAULT

KEY_ID = "bench"
SEALING_KEY = bytes(range(32))
API_KEY = "bench-content-key"
HEADER_KEY_NAME = "x-api-key"
FISCAL_CODE = "AAAAAA00A00A000A"
SOURCE = "store"
DOCUMENT_PATH = "bench/attachment-1mb.pdf"
ATTACHMENT_ID = "attachment-1mb.pdf"
LISTENING_PREFIX = "bench target listening on"


def settings(documents_url: str) -> ContentSettings:
    """The `content:` section of a relay whose PDFs are in the sandbox's document store."""
    return ContentSettings.model_validate(
        {
            "public_url": "http://127.0.0.1/",
            "header_key_name": HEADER_KEY_NAME,
            "api_keys": [{"key": API_KEY}],
            "sealing_keys": {KEY_ID: {"key": base64.b64encode(SEALING_KEY).decode()}},
            "current_sealing_key": KEY_ID,
            "document_sources": {
                SOURCE: {
                    "base_url": documents_url,
                    "auth": {"key": DOCUMENT_BEARER_DEFAULT},
                    "allowed_hosts": ["127.0.0.1"],
                }
            },
        }
    )


def keys() -> ContentKeys:
    return ContentKeys({KEY_ID: SEALING_KEY}, KEY_ID)


def reference() -> ContentReference:
    """The message every request asks about: one 1 MB attachment, for FISCAL_CODE."""
    attachment = Attachment(ATTACHMENT_ID, "Avviso TARI 2026.pdf", SOURCE, DOCUMENT_PATH)
    return ContentReference(
        event_id="bench-event-1",
        rule="bench",
        recipient=keys().recipient(FISCAL_CODE),
        attachments=(attachment,),
    )


def details_body() -> bytes:
    """What the content server answers for `reference()`, byte for byte."""
    return details_of(reference()).to_json_body()


def content_app(documents_url: str) -> ContentApp:
    content = settings(documents_url)
    return ContentApp(
        keys=content.key_ring(),
        api_keys=content.accepted_keys(),
        header_key_name=content.header_key_name,
        sources=DocumentSources(content.document_sources),
        remote={},
        metrics=ContentMetrics(),
    )


class TrivialApp:
    """Raw ASGI, one fixed JSON body: the cost of uvicorn and HTTP alone."""

    def __init__(self, body: bytes) -> None:
        self._body = body
        self._headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": self._headers})
        await send({"type": "http.response.body", "body": self._body})


class _AnnouncingServer(uvicorn.Server):
    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.should_exit or not self.servers:
            return
        port = self.servers[0].sockets[0].getsockname()[1]
        print(f"{LISTENING_PREFIX} http://{self.config.host}:{port}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("app", choices=["content", "trivial"])
    parser.add_argument("--documents", help="the document store's base URL (content only)")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    options = parser.parse_args(argv)
    if options.app == "content":
        if not options.documents:
            parser.error("content needs --documents")
        app: ContentApp | TrivialApp = content_app(options.documents)
    else:
        app = TrivialApp(details_body())
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=options.port,
        loop="uvloop",
        http="httptools",
        lifespan="off",
        access_log=False,
        log_level="warning",
        timeout_graceful_shutdown=2,
    )
    _AnnouncingServer(config).run()


if __name__ == "__main__":
    main()
