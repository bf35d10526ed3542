"""Endpoints for tests and demos under /__sandbox: what was sent, counts, reset, health.

They sit beside the gateway, not behind it: no key, no rate limit, no faults, no latency.
"""

from __future__ import annotations

from collections.abc import Callable

from consumer.sandbox._asgi import Response
from consumer.sandbox.messages import MessageStore
from consumer.sandbox.routing import Route
from consumer.sandbox.stats import Stats

AdminHandler = Callable[[], Response]
PREFIX = "/__sandbox"


class Admin:
    def __init__(self, store: MessageStore, stats: Stats) -> None:
        self._store = store
        self._stats = stats

    def routes(self) -> list[Route[AdminHandler]]:
        return [
            Route("GET", PREFIX + "/messages", self.messages),
            Route("DELETE", PREFIX + "/messages", self.clear_messages),
            Route("GET", PREFIX + "/stats", self.stats),
            Route("DELETE", PREFIX + "/stats", self.clear_stats),
            Route("GET", PREFIX + "/health", self.health),
        ]

    def messages(self) -> Response:
        """Every accepted submission, in arrival order."""
        return Response.json(200, self._store.records())

    def clear_messages(self) -> Response:
        self._store.clear()
        return Response(204)

    def stats(self) -> Response:
        return Response.json(200, self._stats.snapshot())

    def clear_stats(self) -> Response:
        self._stats.clear()
        return Response(204)

    def health(self) -> Response:
        return Response.json(200, {"status": "ok"})
