"""Lines: io-relay's connections to IO, one httpx transport each, lent to one request at a time.

httpcore's pool looks at every one of its connections and waiting requests whenever a
request waits or ends (a getpeername and a poll syscall per connection). With 256 events in
flight over 64 connections, that was most of io-relay's CPU, and the more requests waited
the more each one cost: a relay a little behind fell further behind. Here each transport
holds one connection, and a request waits for a free one in a queue, which costs nothing when
one is free. Measured with a bare loop of the same calls against the sandbox (20 ms, 256 at
once): 16 pools of 4 made 828 calls a second, 64 lines 2,090.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress

import httpx

Line = httpx.AsyncBaseTransport


async def exchange(line: Line, request: httpx.Request) -> httpx.Response:
    """One request on `line`, its answer read to the end.

    The transport itself, not an httpx.AsyncClient over it: the client's URL merging,
    cookies, auth and redirect steps were a third of io-relay's CPU at 600 calls a second,
    and IO needs none of them (a bare loop of the same calls: 1,230 → 1,650-1,940 calls/s)."""
    response = await line.handle_async_request(request)
    response.request = request
    try:
        await response.aread()
    finally:
        await response.aclose()
    return response


class NoLineFree(Exception):
    """No line came free in time: the request was not sent."""


class Lines:
    """Free lines in a list, waiting requests in a queue: a line given back goes straight to
    the request that waited longest, so none waits behind newcomers."""

    def __init__(self, transports: Sequence[Line], count: int, wait_s: float) -> None:
        """`count` lines over `transports`, in turn (one may carry several lines: a test
        transport); a request waits at most `wait_s` for one."""
        self._transports = list(dict.fromkeys(transports))
        self._wait_s = wait_s
        self._idle = [transports[index % len(transports)] for index in range(count)]
        self._waiting: deque[asyncio.Future[Line]] = deque()

    @asynccontextmanager
    async def lend(self) -> AsyncIterator[Line]:
        """A free line, for the time of one request."""
        line = await self.take()
        try:
            yield line
        finally:
            self.give_back(line)

    async def take(self) -> Line:
        """A free line; give it back with `give_back`, whatever happens."""
        if self._idle:
            return self._idle.pop()
        turn: asyncio.Future[Line] = asyncio.get_running_loop().create_future()
        self._waiting.append(turn)
        line: Line | None = None
        try:
            async with asyncio.timeout(self._wait_s):
                line = await turn
            return line
        except TimeoutError:
            raise NoLineFree(f"no connection to IO came free within {self._wait_s:g} s") from None
        finally:
            if line is None:
                if turn.done() and not turn.cancelled():
                    self.give_back(turn.result())  # handed over just as this request gave up
                else:
                    turn.cancel()
                    with suppress(ValueError):  # a give_back passed it over already
                        self._waiting.remove(turn)

    def give_back(self, line: Line) -> None:
        while self._waiting:
            turn = self._waiting.popleft()
            if not turn.done():
                turn.set_result(line)
                return
        self._idle.append(line)

    async def aclose(self) -> None:
        for transport in self._transports:
            await transport.aclose()
