"""Lines: io-relay's connections to IO, one httpx client each, lent to one request at a time.

httpcore's pool looks at every one of its connections and waiting requests whenever a
request waits or ends (a getpeername and a poll syscall per connection). With 256 events in
flight over 64 connections, that was most of io-relay's CPU, and the more requests waited
the more each one cost: a relay a little behind fell further behind. Here each client holds
one connection, and a request waits for a free client in a queue, which costs nothing when
one is free. Measured with a bare loop of the same calls against the sandbox (20 ms, 256 at
once): 16 pools of 4 made 828 calls a second, 64 lines 2,090.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress

import httpx


class NoLineFree(Exception):
    """No line came free in time: the request was not sent."""


class Lines:
    """Free lines in a list, waiting requests in a queue: a line given back goes straight to
    the request that waited longest, so none waits behind newcomers."""

    def __init__(self, clients: Sequence[httpx.AsyncClient], count: int, wait_s: float) -> None:
        """`count` lines over `clients`, in turn (one client may carry several lines: a test
        transport); a request waits at most `wait_s` for one."""
        self._clients = list(dict.fromkeys(clients))
        self._wait_s = wait_s
        self._idle = [clients[index % len(clients)] for index in range(count)]
        self._waiting: deque[asyncio.Future[httpx.AsyncClient]] = deque()

    @asynccontextmanager
    async def lend(self) -> AsyncIterator[httpx.AsyncClient]:
        """A free line's client, for the time of one request."""
        client = await self.take()
        try:
            yield client
        finally:
            self.give_back(client)

    async def take(self) -> httpx.AsyncClient:
        """A free line's client; give it back with `give_back`, whatever happens."""
        if self._idle:
            return self._idle.pop()
        turn: asyncio.Future[httpx.AsyncClient] = asyncio.get_running_loop().create_future()
        self._waiting.append(turn)
        taken = False
        try:
            async with asyncio.timeout(self._wait_s):
                client = await turn
            taken = True
            return client
        except TimeoutError:
            raise NoLineFree(f"no connection to IO came free within {self._wait_s:g} s") from None
        finally:
            if not taken:
                if turn.done() and not turn.cancelled():
                    self.give_back(turn.result())  # handed over just as this request gave up
                else:
                    turn.cancel()
                    with suppress(ValueError):  # a give_back passed it over already
                        self._waiting.remove(turn)

    def give_back(self, client: httpx.AsyncClient) -> None:
        while self._waiting:
            turn = self._waiting.popleft()
            if not turn.done():
                turn.set_result(client)
                return
        self._idle.append(client)

    async def aclose(self) -> None:
        for client in self._clients:
            await client.aclose()
