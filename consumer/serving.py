"""uvicorn as io-relay's own servers use it: the sandbox, `io-relay content`, the metrics port.

Raw ASGI, no framework: each server has a handful of routes, and the bytes it sends are
exactly the ones written here.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
import time
from collections.abc import Awaitable, Callable, Generator, MutableMapping
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn

Message = MutableMapping[str, Any]
Send = Callable[[Message], Awaitable[None]]


async def send_json(send: Send, status: int, body: bytes) -> None:
    """One complete JSON answer, `body` already encoded."""
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class AnnouncingServer(uvicorn.Server):
    """Prints `<name> listening on http://HOST:PORT` once bound (port 0 included: the line
    carries the port chosen), for scripts and tests to wait for. SIGTERM and SIGINT stop it
    gracefully and the process then exits 0: uvicorn's own handling raises the signal again
    once stopped, which reads as a crash."""

    def __init__(self, config: uvicorn.Config, name: str) -> None:
        super().__init__(config)
        self._name = name

    @contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.handle_exit, signum, None)
        try:
            yield
        finally:
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(signum)

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.should_exit or not self.servers:
            return
        port = self.servers[0].sockets[0].getsockname()[1]
        print(
            f"{self._name} listening on http://{self.config.host}:{port}",
            file=sys.stderr,
            flush=True,
        )


def wait_ready(url: str, timeout_s: float, *, alive: Callable[[], bool] = lambda: True) -> bool:
    """Whether `url` (a /readyz) answered 200 within `timeout_s`; False as soon as `alive()`
    says the process behind it has ended. For whoever starts an io-relay process and must
    wait for it: the demo, the tests."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and alive():
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return True
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    return False
