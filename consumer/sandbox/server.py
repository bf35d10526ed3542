"""Runs the sandbox under uvicorn, tuned for throughput, and says where once it listens."""

from __future__ import annotations

import socket
import sys

import uvicorn

from consumer.sandbox.app import create_app
from consumer.sandbox.settings import SandboxSettings

# A call held by a `slow` fault must not hold up shutdown for its whole sleep.
SHUTDOWN_GRACE_S = 2


class _AnnouncingServer(uvicorn.Server):
    """Prints `io sandbox listening on http://HOST:PORT` once the socket is bound.

    Scripts and test fixtures wait for that line; with port 0 it carries the port chosen.
    """

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.should_exit or not self.servers:
            return
        bound = self.servers[0].sockets[0].getsockname()
        host = self.config.host
        print(f"io sandbox listening on http://{host}:{bound[1]}", file=sys.stderr, flush=True)


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
    _AnnouncingServer(config).run()
