"""The wire: the last moments before a submit's bytes leave, seen through httpcore's trace
extension, where the freeze guard gets its last word (see consumer.runtime.freeze)."""

from __future__ import annotations

import time
from typing import Any

from consumer.io.sending import Sending


class Wire:
    """The last moments before a submit's bytes leave, through httpcore's trace extension.

    A request may wait in the connection pool after its Sending cleared it: a freeze there,
    and it would go out on waking, next to the new owner's. So the Sending clears it again
    right before its headers are written, and once more before its body: a freeze between
    the two (or between the first clearance and the headers' write) is caught there, and a
    request whose body never left is one IO cannot act on. A cancel before the body's write
    sent nothing IO could accept."""

    __slots__ = ("_sending", "_traced", "_written")

    def __init__(self, sending: Sending | None) -> None:
        self._sending = sending
        self._traced = False
        self._written = False

    @property
    def extensions(self) -> dict[str, Any] | None:
        return None if self._sending is None else {"trace": self._trace}

    @property
    def unsent(self) -> bool:
        """Known not to have written its body (False when no trace came: a mock transport)."""
        return self._traced and not self._written

    async def _trace(self, event: str, _info: dict[str, Any]) -> None:
        self._traced = True
        if self._sending is None:
            return
        if event.endswith("send_request_headers.started"):
            await self._sending.cleared()
        elif event.endswith("send_request_body.started"):
            asked_at = time.monotonic()
            await self._sending.cleared()
            if time.monotonic() - asked_at > _HELD_S:
                # Held after its headers: the server may have given up on the half request
                # meanwhile, and a body written now could fail after IO has it, or not. A
                # request cut here is one IO cannot act on: it goes again, on a fresh line.
                raise HeldBeforeBody
            self._written = True


class HeldBeforeBody(Exception):
    """A submit's body was held by the freeze guard: the request is dropped, unsent."""


_HELD_S = 0.05
