"""`io-relay content`: the content server, its content-topic reader and its operator port.

It faces IO, while the relay faces Kafka: a separate process with its own Deployment, scaled
on its own. Every replica answers alike, from the sealed ids and the content topic, so none
needs to be told about another. /readyz says ready once the content topic has been read.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from urllib.parse import urlsplit

import uvicorn

from consumer.config import Settings
from consumer.content.app import AttachmentCutShort, ContentApp
from consumer.content.metrics import ContentMetrics
from consumer.content.remote_store import ContentTopic
from consumer.content.sources import DocumentSources
from consumer.errors import ConfigurationError, FatalError
from consumer.observability.server import OperationsServer
from consumer.runtime.source import helper_client_config
from consumer.serving import AnnouncingServer

log = logging.getLogger(__name__)

# IO's backend waits for its answers for seconds, not minutes: a stop lets them finish.
SHUTDOWN_GRACE_S = 10


class _CutsAreLoggedAlready(logging.Filter):
    """A cut attachment reaches uvicorn as an exception, on purpose (so that it closes the
    connection short); the app has logged it as a warning: no traceback at ERROR too."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not isinstance(error, AttachmentCutShort)


async def serve_content(settings: Settings) -> None:
    """Serve until SIGTERM or SIGINT; raise FatalError if it cannot start."""
    logging.getLogger("uvicorn.error").addFilter(_CutsAreLoggedAlready())
    content = settings.content
    if content.public_url is None:
        raise ConfigurationError("content.public_url is not set: where does IO reach this server?")
    keys, api_keys = content.key_ring(), content.accepted_keys()
    metrics = ContentMetrics()
    topic = ContentTopic(helper_client_config(settings.kafka), settings.kafka.content_topic)
    await asyncio.to_thread(topic.start)
    metrics.hold(lambda: len(topic))
    sources = DocumentSources(content.document_sources)
    app = ContentApp(
        keys=keys,
        api_keys=api_keys,
        header_key_name=content.header_key_name,
        sources=sources,
        remote=topic,
        metrics=metrics,
        base_path=_path_of(content.public_url),
        retry_after_s=content.retry_after_s,
    )
    observability = settings.observability
    operations = (
        OperationsServer(
            observability.host,
            observability.port,
            metrics.registry,
            lambda: topic.problems,
        )
        if observability.port
        else None
    )
    config = uvicorn.Config(
        app,
        host=content.host,
        port=content.port,
        lifespan="off",
        access_log=False,
        log_config=None,
        timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
    )
    server = AnnouncingServer(config, "io-relay content")
    loop = asyncio.get_running_loop()

    def stop() -> None:  # on the reader's thread
        loop.call_soon_threadsafe(server.handle_exit, signal.SIGTERM, None)

    topic.when_failed(stop)
    try:
        if operations is not None:
            await operations.start()
        await server.serve()
        if topic.failed:
            raise FatalError("the content topic reader stopped: see the log above")
    finally:
        if operations is not None:
            await operations.stop()
        await sources.aclose()
        await asyncio.to_thread(topic.stop)


def _path_of(url: str) -> str:
    return urlsplit(url).path.rstrip("/")
