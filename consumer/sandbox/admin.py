"""Endpoints for tests and demos under /__sandbox: what was sent, counts (also per second),
reset, health, an outage on demand, and a message moved on to REJECTED, READ or PAID.

They sit beside the gateway, not behind it: no key, no rate limit, no faults, no latency, and
an outage does not reach them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from consumer.io.models import MessageStatus, PaymentStatus, ReadStatus
from consumer.sandbox._asgi import Request, Response
from consumer.sandbox.messages import MarkRefused, Marks, MessageStore
from consumer.sandbox.problems import invalid_body, not_found, problem
from consumer.sandbox.routing import Route
from consumer.sandbox.stats import Stats

AdminHandler = Callable[[Request, Mapping[str, str]], Response]
"""Called with the request and the path's captures."""
PREFIX = "/__sandbox"
MAX_OUTAGE_S = 86_400.0


class Outage:
    """IO down on purpose: while it lasts, every API call is answered 503.

    Started for a number of seconds, it ends by itself (or earlier, when told to), so a test
    that dies mid-outage leaves no sandbox down for good.
    """

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._until: float | None = None

    @property
    def remaining_s(self) -> float:
        """Seconds left; 0 when IO is up."""
        if self._until is None:
            return 0.0
        left = self._until - self._monotonic()
        if left <= 0:
            self._until = None
            return 0.0
        return left

    @property
    def active(self) -> bool:
        return self.remaining_s > 0

    def start(self, seconds: float) -> None:
        """Begin an outage of `seconds` from now (replacing one under way)."""
        self._until = self._monotonic() + seconds

    def end(self) -> None:
        self._until = None

    def view(self) -> dict[str, object]:
        remaining = self.remaining_s
        return {"active": remaining > 0, "remaining_s": round(remaining, 3)}


class OutageRequest(BaseModel):
    """`POST /__sandbox/outage` body: how long IO stays down."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    seconds: Annotated[float, Field(gt=0, le=MAX_OUTAGE_S)]


class MarkRequest(BaseModel):
    """`PATCH /__sandbox/messages/{id}` body: the states IO reports later for a message."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    status: Literal[MessageStatus.PROCESSED, MessageStatus.REJECTED] | None = None
    read_status: Literal[ReadStatus.READ, ReadStatus.UNAVAILABLE] | None = None
    payment_status: Literal[PaymentStatus.PAID] | None = None


class Admin:
    def __init__(self, store: MessageStore, stats: Stats, outage: Outage | None = None) -> None:
        self._store = store
        self._stats = stats
        self._outage = outage or Outage()

    def routes(self) -> list[Route[AdminHandler]]:
        return [
            Route("GET", PREFIX + "/messages", self.messages),
            Route("PATCH", PREFIX + "/messages/{message_id}", self.mark_message),
            Route("DELETE", PREFIX + "/messages", self.clear_messages),
            Route("GET", PREFIX + "/stats", self.stats),
            Route("DELETE", PREFIX + "/stats", self.clear_stats),
            Route("GET", PREFIX + "/timeline", self.timeline),
            Route("GET", PREFIX + "/health", self.health),
            Route("GET", PREFIX + "/outage", self.outage),
            Route("POST", PREFIX + "/outage", self.start_outage),
            Route("DELETE", PREFIX + "/outage", self.end_outage),
        ]

    def messages(self, _: Request, _params: Mapping[str, str]) -> Response:
        """Every accepted submission, in arrival order."""
        return Response.json(200, self._store.records())

    def mark_message(self, request: Request, params: Mapping[str, str]) -> Response:
        """`{"status"?, "read_status"?, "payment_status"?}`: what getMessage answers from now."""
        stored = self._store.get(params["message_id"])
        if stored is None:
            return not_found(f"No message {params['message_id']}")
        try:
            wanted = MarkRequest.model_validate_json(request.body or b"null")
        except ValidationError as exc:
            return invalid_body(exc)
        try:
            self._store.mark(stored, Marks(**wanted.model_dump()))
        except MarkRefused as exc:
            return problem(409, "not-applicable", "Mark not applicable", str(exc))
        return Response.json(200, self._store.view(stored))

    def clear_messages(self, _: Request, _params: Mapping[str, str]) -> Response:
        self._store.clear()
        return Response(204)

    def stats(self, _: Request, _params: Mapping[str, str]) -> Response:
        return Response.json(200, self._stats.snapshot())

    def timeline(self, _: Request, _params: Mapping[str, str]) -> Response:
        """Calls and 429s per second (`Stats.timeline`); cleared with the stats."""
        return Response.json(200, self._stats.timeline())

    def clear_stats(self, _: Request, _params: Mapping[str, str]) -> Response:
        self._stats.clear()
        return Response(204)

    def health(self, _: Request, _params: Mapping[str, str]) -> Response:
        return Response.json(200, {"status": "ok"})

    def outage(self, _: Request, _params: Mapping[str, str]) -> Response:
        """`{"active": bool, "remaining_s": float}`."""
        return Response.json(200, self._outage.view())

    def start_outage(self, request: Request, _params: Mapping[str, str]) -> Response:
        """`{"seconds": S}`: every IO API call gets 503 for S seconds (0 < S <= one day)."""
        try:
            wanted = OutageRequest.model_validate_json(request.body or b"null")
        except ValidationError as exc:
            return invalid_body(exc)
        self._outage.start(wanted.seconds)
        return Response.json(200, self._outage.view())

    def end_outage(self, _: Request, _params: Mapping[str, str]) -> Response:
        self._outage.end()
        return Response(204)
