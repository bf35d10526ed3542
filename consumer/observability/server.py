"""The operator's HTTP port: /metrics for Prometheus, /healthz and /readyz for the orchestrator.

It runs on the relay's own event loop (uvicorn, without its signal handling: SIGTERM belongs
to the relay's drain). A loop too stuck to answer /healthz is a process worth restarting.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import Awaitable, Callable, Generator, MutableMapping
from contextlib import contextmanager
from typing import Any

import uvicorn
from prometheus_client import CollectorRegistry, make_asgi_app

from consumer.errors import ConfigurationError
from consumer.serving import send_json

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
Readiness = Callable[[], list[str]]
"""What keeps the replica from being ready; an empty list when it is."""


def operations_app(registry: CollectorRegistry, readiness: Readiness) -> Any:
    """The ASGI app: /metrics, /healthz, /readyz; 404 for anything else."""
    metrics = make_asgi_app(registry)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"]
        if path == "/metrics":
            await metrics(scope, receive, send)
        elif path == "/healthz":
            await send_json(send, 200, json.dumps({"alive": True}).encode())
        elif path == "/readyz":
            problems = readiness()
            ready = {"ready": not problems, "problems": problems}
            await send_json(send, 503 if problems else 200, json.dumps(ready).encode())
        else:
            missing = {"error": f"no such endpoint: {path}"}
            await send_json(send, 404, json.dumps(missing).encode())

    return app


class _Server(uvicorn.Server):
    @contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield  # the relay owns SIGTERM and SIGINT


class OperationsServer:
    """Serves `operations_app` on host:port from `start()` to `stop()`."""

    def __init__(self, host: str, port: int, registry: CollectorRegistry, readiness: Readiness):
        config = uvicorn.Config(
            operations_app(registry, readiness),
            host=host,
            port=port,
            lifespan="off",
            access_log=False,
            log_config=None,
        )
        self._host, self._port = host, port
        self._server = _Server(config)
        self._task: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        """The port listened on (the one picked by the system when 0 was asked)."""
        return self._port

    async def start(self) -> None:
        """Listen, or raise ConfigurationError (the port is taken, the host unknown)."""
        try:
            listening = socket.create_server((self._host, self._port))
        except OSError as exc:
            raise ConfigurationError(
                f"cannot serve /metrics on {self._host}:{self._port} "
                f"(observability.host/port): {exc.strerror or exc}"
            ) from None
        self._port = listening.getsockname()[1]
        # Listening already: connections wait in the backlog until uvicorn accepts them.
        self._task = asyncio.create_task(self._serve(listening), name="operations-http")
        log.info(
            "serving /metrics, /healthz, /readyz",
            extra={"host": self._host, "port": self._port},
        )

    async def stop(self) -> None:
        if self._task is None:
            return
        self._server.should_exit = True
        await self._task

    async def _serve(self, listening: socket.socket) -> None:
        try:
            await self._server.serve(sockets=[listening])
        except SystemExit:  # uvicorn's way to say it failed; the relay must go on
            log.error("the operations HTTP server stopped")
