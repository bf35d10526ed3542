"""Runs the sandbox under uvicorn, tuned for throughput, and says where once it listens."""

from __future__ import annotations

import uvicorn

from consumer.sandbox.app import create_app
from consumer.sandbox.settings import SandboxSettings
from consumer.serving import AnnouncingServer

# A call held by a `slow` fault must not hold up shutdown for its whole sleep.
SHUTDOWN_GRACE_S = 2


def serve(settings: SandboxSettings) -> None:
    """Serve until SIGINT or SIGTERM. A bad profiles file raises ConfigurationError first."""
    config = uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        lifespan="off",
        access_log=False,
        log_level="warning",
        timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
    )
    AnnouncingServer(config, "io sandbox").run()
