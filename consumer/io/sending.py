"""Whether a submit's request is out and its answer not in yet.

That is the one moment a job must not be cancelled without a word: IO may be creating the
message. The caller that may cancel (a revoke, a shutdown) lets such a job finish, and past
its deadline cancels it anyway; the client then raises SubmitInterrupted, so that the job
can report the message as UNKNOWN instead of leaving it to be sent again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


class Sending:
    """Submits of one job: whether a request is out (at most one at a time, in practice),
    and whether one may go out now."""

    __slots__ = ("_clearance", "_on_quiet", "_out", "_stopped")

    def __init__(
        self,
        on_quiet: Callable[[], None] | None = None,
        clearance: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """`on_quiet`: called whenever the last request out gets its answer. `clearance`:
        awaited before each request goes out (the runtime holds them after a freeze, until
        the group has said whether the job's partition is still this replica's)."""
        self._out = 0
        self._on_quiet = on_quiet
        self._clearance = clearance
        self._stopped = False

    def stop(self) -> None:
        """The job is being stopped: a request out gets its answer, but none goes out anew."""
        self._stopped = True

    async def cleared(self) -> None:
        """Return when a request may go out; raise CancelledError if none may any more."""
        if self._clearance is not None and not self._stopped:
            await self._clearance()
        if self._stopped:
            raise asyncio.CancelledError

    @property
    def out(self) -> bool:
        return self._out > 0

    def started(self) -> None:
        self._out += 1

    def answered(self) -> None:
        self._out -= 1
        if self._out == 0 and self._on_quiet is not None:
            self._on_quiet()


class SubmitInterrupted(asyncio.CancelledError):
    """Cancelled while a submit's request was out: IO may hold the message.

    A CancelledError, so that code which knows nothing of it still stops; the job that
    catches it reports the message UNKNOWN, which is never sent again."""

    def __init__(self, detail: str, attempts: int) -> None:
        self.detail = detail
        self.attempts = attempts
        super().__init__(detail)
